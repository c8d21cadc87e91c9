"""Terraform checks for Azure: storage accounts and containers, network security rules, SQL/PostgreSQL/MySQL,
AKS, Key Vault, virtual machines and App Service."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._tf import (
    CIS_AZURE,
    NIST_53,
    PCI,
    TF,
    as_int,
    as_list,
    at,
    exposed_ports,
    is_false,
    is_true,
    is_world,
    not_true,
    port_range,
    strings,
    text,
    tf,
)
from shieldwall.misconfig.inputs.terraform import TfBlock, is_known
from shieldwall.model import Severity

_DOCS = "https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/"
_ANY = "0.0.0.0"  # noqa: S104 - the firewall rule value, not a bind address
_OLD_TLS = ("TLS1_0", "TLS1_1", "1.0", "1.1", "TLS1_0_2", "Tls10", "Tls11")


@check(
    "SW-TF-AZURE-001",
    "Storage account allows plain HTTP",
    Severity.HIGH,
    TF,
    kinds=("azurerm_storage_account",),
    description="With secure transfer disabled, the storage endpoints accept unencrypted HTTP requests.",
    remediation="Set https_traffic_only_enabled = true (enable_https_traffic_only in provider 3.x).",
    controls=(f"{CIS_AZURE}:3.1", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "storage_account#https_traffic_only_enabled",),
)
def _storage_https(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for attr in ("https_traffic_only_enabled", "enable_https_traffic_only"):
        if is_false(block.get(attr)):
            yield at(block, attr, f"{attr} = false", key=attr)


@check(
    "SW-TF-AZURE-002",
    "Storage account accepts TLS older than 1.2",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_storage_account",),
    description="TLS 1.0 and 1.1 have known weaknesses and are deprecated.",
    remediation='Set min_tls_version = "TLS1_2".',
    controls=(f"{CIS_AZURE}:3.12", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "storage_account#min_tls_version",),
)
def _storage_tls(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    value = block.get("min_tls_version")
    if text(value) in _OLD_TLS:
        yield at(block, "min_tls_version", f"min_tls_version = {text(value)}")


@check(
    "SW-TF-AZURE-003",
    "Storage account allows public blob access",
    Severity.HIGH,
    TF,
    kinds=("azurerm_storage_account",),
    description="With nested-item public access allowed, any container can be switched to anonymous read.",
    remediation="Set allow_nested_items_to_be_public = false (allow_blob_public_access in provider 2.x).",
    controls=(f"{CIS_AZURE}:3.7", f"{PCI}:1.3.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "storage_account#allow_nested_items_to_be_public",),
)
def _storage_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for attr in ("allow_nested_items_to_be_public", "allow_blob_public_access"):
        if is_true(block.get(attr)):
            yield at(block, attr, f"{attr} = true", key=attr)


@check(
    "SW-TF-AZURE-004",
    "Storage container allows anonymous access",
    Severity.HIGH,
    TF,
    kinds=("azurerm_storage_container",),
    description="container_access_type blob or container lets anyone on the internet read (and list) blobs.",
    remediation='Set container_access_type = "private".',
    controls=(f"{CIS_AZURE}:3.7", f"{PCI}:1.3.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "storage_container#container_access_type",),
)
def _container_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    value = text(block.get("container_access_type"))
    if value in ("blob", "container"):
        yield at(block, "container_access_type", f"container_access_type = {value}")


@check(
    "SW-TF-AZURE-005",
    "Storage account network access defaults to allow",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_storage_account", "azurerm_storage_account_network_rules"),
    description="A network rule set whose default action is Allow accepts connections from any network.",
    remediation='network_rules { default_action = "Deny" } with the allowed networks listed.',
    controls=(f"{CIS_AZURE}:3.8", f"{NIST_53}:SC-7"),
    references=(_DOCS + "storage_account#network_rules",),
)
def _storage_default_action(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    rules = [item.block] if item.type == "azurerm_storage_account_network_rules" else list(
        item.block.children("network_rules"))  # fmt: skip
    for rule in rules:
        if text(rule.get("default_action")) == "Allow":
            yield Hit("default_action = Allow", line=rule.line, end_line=rule.end_line, key="default")


def _nsg_rules(item_type: str, block: TfBlock) -> Iterator[TfBlock]:
    if item_type == "azurerm_network_security_rule":
        yield block
    else:
        yield from block.children("security_rule")


def _open_rule(rule: TfBlock) -> tuple[list[str], list[tuple[int, int]]]:
    if text(rule.get("direction")).lower() != "inbound" or text(rule.get("access")).lower() != "allow":
        return [], []
    sources = [s for s in [rule.get("source_address_prefix"), *as_list(rule.get("source_address_prefixes"))]
               if is_world(s)]  # fmt: skip
    protocol = text(rule.get("protocol")).lower()
    if protocol in ("icmp", "icmpv6", "ah", "esp"):
        return [str(s) for s in sources], [(-1, -1)]
    values = [rule.get("destination_port_range"), *as_list(rule.get("destination_port_ranges"))]
    if all(v is None for v in values):
        values = ["*"]
    ranges = []
    for value in values:
        got = port_range(value) if value is not None else None
        if got is not None:
            ranges.append(got)
    return [str(s) for s in sources], ranges


_NSG_KINDS = ("azurerm_network_security_rule", "azurerm_network_security_group")


@check(
    "SW-TF-AZURE-006",
    "Network security rule allows inbound traffic from the internet to a sensitive port",
    Severity.HIGH,
    TF,
    kinds=_NSG_KINDS,
    description="An inbound Allow rule from *, Internet or 0.0.0.0/0 to SSH, RDP, a database or all ports exposes "
    "it to the internet.",
    remediation="Restrict source_address_prefix; reach VMs through Azure Bastion or a VPN.",
    controls=(f"{CIS_AZURE}:6.1", f"{CIS_AZURE}:6.2", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "network_security_rule",),
)
def _nsg_sensitive(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    for rule in _nsg_rules(item.type, item.block):
        sources, ranges = _open_rule(rule)
        if not sources:
            continue
        for low, high in ranges:
            exposed = exposed_ports(low, high) if low >= 0 else []
            if exposed:
                yield Hit(f"inbound from {', '.join(sources)} to {', '.join(exposed)}", line=rule.line,
                          end_line=rule.end_line, key=f"{text(rule.get('name'))}:{low}-{high}",
                          found=", ".join(sources))  # fmt: skip


@check(
    "SW-TF-AZURE-007",
    "Network security rule allows inbound traffic from the internet",
    Severity.MEDIUM,
    TF,
    kinds=_NSG_KINDS,
    description="An inbound Allow rule from *, Internet or 0.0.0.0/0 exposes the port to the whole internet.",
    remediation="Restrict source_address_prefix to known networks.",
    controls=(f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "network_security_rule",),
)
def _nsg_public(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    for rule in _nsg_rules(item.type, item.block):
        sources, ranges = _open_rule(rule)
        for low, high in ranges if sources else ():
            if low < 0 or not exposed_ports(low, high):
                where = text(rule.get("protocol")) if low < 0 else f"ports {low}-{high}"
                yield Hit(f"inbound from {', '.join(sources)} to {where}", line=rule.line,
                          end_line=rule.end_line, key=f"{text(rule.get('name'))}:{low}-{high}")  # fmt: skip


_FIREWALL_KINDS = ("azurerm_sql_firewall_rule", "azurerm_mssql_firewall_rule", "azurerm_postgresql_firewall_rule",
                   "azurerm_mysql_firewall_rule", "azurerm_mariadb_firewall_rule",
                   "azurerm_postgresql_flexible_server_firewall_rule", "azurerm_mysql_flexible_server_firewall_rule",
                   "azurerm_synapse_firewall_rule", "azurerm_cosmosdb_account")  # fmt: skip


def _ip(value: object) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text(value))
    except ValueError:
        return None


@check(
    "SW-TF-AZURE-008",
    "Database firewall rule allows the whole internet",
    Severity.HIGH,
    TF,
    kinds=_FIREWALL_KINDS,
    description="A firewall rule from 0.0.0.0 to 255.255.255.255 (or a range covering most of the internet) lets "
    "any address connect to the database server.",
    remediation="List the client addresses that need access; prefer private endpoints.",
    controls=(f"{CIS_AZURE}:4.1.2", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "mssql_firewall_rule",),
)
def _db_firewall(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    if item.type == "azurerm_cosmosdb_account":
        ranges = strings(block.get("ip_range_filter"))
        if any(is_world(r) for r in ranges):
            yield at(block, "ip_range_filter", "ip_range_filter allows 0.0.0.0/0")
        return
    start, end = _ip(block.get("start_ip_address")), _ip(block.get("end_ip_address"))
    if start is None or end is None:
        return
    if int(end) - int(start) >= 2**31:
        yield at(block, "end_ip_address", f"allows {start} - {end}", found=f"{start}-{end}")


@check(
    "SW-TF-AZURE-009",
    "Database firewall allows all Azure services",
    Severity.MEDIUM,
    TF,
    kinds=_FIREWALL_KINDS[:-1],
    description="The 0.0.0.0 - 0.0.0.0 rule admits traffic from any Azure service, including other customers' "
    "resources.",
    remediation="Remove the rule; use private endpoints or virtual network rules.",
    controls=(f"{CIS_AZURE}:4.1.2", f"{NIST_53}:SC-7"),
    references=(_DOCS + "mssql_firewall_rule",),
)
def _db_firewall_azure(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("start_ip_address")) == _ANY and text(block.get("end_ip_address")) == _ANY:
        yield at(block, "start_ip_address", "allows all Azure services (0.0.0.0 - 0.0.0.0)")


_SERVER_KINDS = ("azurerm_mssql_server", "azurerm_sql_server", "azurerm_postgresql_server", "azurerm_mysql_server",
                 "azurerm_mariadb_server", "azurerm_postgresql_flexible_server")  # fmt: skip


@check(
    "SW-TF-AZURE-010",
    "Database server allows public network access",
    Severity.MEDIUM,
    TF,
    kinds=_SERVER_KINDS,
    description="public_network_access_enabled (the default) lets firewall rules admit internet clients.",
    remediation="Set public_network_access_enabled = false and use private endpoints.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "mssql_server#public_network_access_enabled",),
)
def _db_public(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    if item.type == "azurerm_postgresql_flexible_server" and block.get("delegated_subnet_id") is not None:
        return
    value = block.get("public_network_access_enabled")
    if value is None or is_true(value):
        yield at(block, "public_network_access_enabled", "public network access is enabled")


@check(
    "SW-TF-AZURE-011",
    "Database server does not enforce TLS",
    Severity.MEDIUM,
    TF,
    kinds=_SERVER_KINDS,
    description="With SSL enforcement off, clients may connect without encryption.",
    remediation="Set ssl_enforcement_enabled = true.",
    controls=(f"{CIS_AZURE}:4.3.1", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "postgresql_server#ssl_enforcement_enabled",),
)
def _db_ssl(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_false(block.get("ssl_enforcement_enabled")):
        yield at(block, "ssl_enforcement_enabled", "ssl_enforcement_enabled = false", key="ssl")


@check(
    "SW-TF-AZURE-023",
    "Database server accepts TLS older than 1.2",
    Severity.MEDIUM,
    TF,
    kinds=_SERVER_KINDS,
    description="A minimum TLS version below 1.2 lets clients use deprecated protocol versions.",
    remediation='Set minimum_tls_version / ssl_minimal_tls_version_enforced = "TLS1_2".',
    controls=(f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "postgresql_server#ssl_minimal_tls_version_enforced",),
)
def _db_tls(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for attr in ("minimum_tls_version", "ssl_minimal_tls_version_enforced"):
        if text(block.get(attr)) in (*_OLD_TLS, "TLSEnforcementDisabled", "Disabled"):
            yield at(block, attr, f"{attr} = {text(block.get(attr))}", key=attr)


@check(
    "SW-TF-AZURE-012",
    "AKS API server is not restricted to authorized IP ranges",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_kubernetes_cluster",),
    description="A public AKS API server without authorized IP ranges accepts connections from anywhere.",
    remediation="api_server_access_profile { authorized_ip_ranges = [...] } or private_cluster_enabled = true.",
    controls=(f"{NIST_53}:SC-7", f"{PCI}:1.3.1"),
    references=(_DOCS + "kubernetes_cluster#api_server_access_profile",),
)
def _aks_ips(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("private_cluster_enabled")):
        return
    ranges = block.get("api_server_authorized_ip_ranges")
    profile = block.child("api_server_access_profile")
    if profile is not None and ranges is None:
        ranges = profile.get("authorized_ip_ranges")
    if ranges is None or (is_known(ranges) and not as_list(ranges)):
        yield at(block, "api_server_access_profile", "no authorized IP ranges for the API server")
    elif any(is_world(r) for r in strings(ranges)):
        yield at(block, "api_server_access_profile", "authorized IP ranges include 0.0.0.0/0")


@check(
    "SW-TF-AZURE-013",
    "AKS role-based access control is disabled",
    Severity.HIGH,
    TF,
    kinds=("azurerm_kubernetes_cluster",),
    description="Without RBAC every authenticated user has full access to the cluster.",
    remediation="Set role_based_access_control_enabled = true.",
    controls=(f"{CIS_AZURE}:8.5", f"{NIST_53}:AC-3"),
    references=(_DOCS + "kubernetes_cluster#role_based_access_control_enabled",),
)
def _aks_rbac(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_false(block.get("role_based_access_control_enabled")):
        yield at(block, "role_based_access_control_enabled", "role_based_access_control_enabled = false")
    for rbac in block.children("role_based_access_control"):
        if is_false(rbac.get("enabled")):
            yield at(block, "role_based_access_control", "role_based_access_control.enabled = false")


@check(
    "SW-TF-AZURE-014",
    "AKS cluster has no network policy",
    Severity.LOW,
    TF,
    kinds=("azurerm_kubernetes_cluster",),
    description="Without a network policy plugin every pod can reach every other pod.",
    remediation='network_profile { network_policy = "azure" } (or calico, cilium).',
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "kubernetes_cluster#network_policy",),
)
def _aks_netpol(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    profile = block.child("network_profile")
    if profile is None or profile.get("network_policy") is None:
        yield at(block, "network_profile", "no network_policy")


@check(
    "SW-TF-AZURE-015",
    "Key Vault purge protection is disabled",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_key_vault",),
    description="Without purge protection a deleted vault and its keys can be purged for good before recovery.",
    remediation="Set purge_protection_enabled = true.",
    controls=(f"{CIS_AZURE}:8.5", f"{NIST_53}:CP-9"),
    references=(_DOCS + "key_vault#purge_protection_enabled",),
)
def _kv_purge(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("purge_protection_enabled")):
        yield at(block, "purge_protection_enabled", "purge_protection_enabled is not true")
    days = as_int(block.get("soft_delete_retention_days"))
    if days is not None and not 7 <= days <= 90:
        yield at(block, "soft_delete_retention_days", f"soft_delete_retention_days = {days} (7-90 allowed)")


@check(
    "SW-TF-AZURE-016",
    "Key Vault network access defaults to allow",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_key_vault",),
    description="Without network ACLs denying by default, the vault accepts connections from any network.",
    remediation='network_acls { default_action = "Deny", bypass = "AzureServices" }.',
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "key_vault#network_acls",),
)
def _kv_network(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    acls = block.child("network_acls")
    if acls is None:
        yield at(block, "network_acls", "no network_acls")
    elif text(acls.get("default_action")) == "Allow":
        yield at(block, "network_acls", "network_acls default_action = Allow")


@check(
    "SW-TF-AZURE-017",
    "Key Vault secret or key has no expiration date",
    Severity.LOW,
    TF,
    kinds=("azurerm_key_vault_secret", "azurerm_key_vault_key"),
    description="Secrets and keys without an expiry are never forced to rotate.",
    remediation="Set expiration_date.",
    controls=(f"{CIS_AZURE}:8.1", f"{CIS_AZURE}:8.2", f"{NIST_53}:SC-12"),
    references=(_DOCS + "key_vault_secret#expiration_date",),
)
def _kv_expiry(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("expiration_date") is None:
        yield at(block, "expiration_date", "no expiration_date")


@check(
    "SW-TF-AZURE-018",
    "Linux virtual machine allows password authentication",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_linux_virtual_machine", "azurerm_linux_virtual_machine_scale_set", "azurerm_virtual_machine"),
    description="Password logins over SSH can be brute-forced; keys cannot.",
    remediation="Set disable_password_authentication = true and configure admin_ssh_key.",
    controls=(f"{NIST_53}:IA-2",),
    references=(_DOCS + "linux_virtual_machine#disable_password_authentication",),
)
def _vm_password(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    if item.type == "azurerm_virtual_machine":
        for config in block.children("os_profile_linux_config"):
            if is_false(config.get("disable_password_authentication")):
                yield at(block, "os_profile_linux_config", "disable_password_authentication = false")
        return
    if is_false(block.get("disable_password_authentication")):
        yield at(block, "disable_password_authentication", "disable_password_authentication = false")


@check(
    "SW-TF-AZURE-019",
    "App Service accepts plain HTTP",
    Severity.MEDIUM,
    TF,
    kinds=(
        "azurerm_app_service",
        "azurerm_linux_web_app",
        "azurerm_windows_web_app",
        "azurerm_function_app",
        "azurerm_linux_function_app",
        "azurerm_windows_function_app",
    ),
    description="Without https_only the app answers plain HTTP; a minimum TLS version below 1.2 allows weak ciphers.",
    remediation='Set https_only = true and site_config { minimum_tls_version = "1.2" }.',
    controls=(f"{CIS_AZURE}:9.2", f"{CIS_AZURE}:9.3", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "linux_web_app#https_only",),
)
def _app_https(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("https_only")):
        yield at(block, "https_only", "https_only is not true", key="https")


_APP_KINDS = ("azurerm_app_service", "azurerm_linux_web_app", "azurerm_windows_web_app", "azurerm_function_app",
              "azurerm_linux_function_app", "azurerm_windows_function_app")  # fmt: skip


@check(
    "SW-TF-AZURE-024",
    "App Service accepts TLS older than 1.2",
    Severity.MEDIUM,
    TF,
    kinds=_APP_KINDS,
    description="A minimum TLS version below 1.2 allows deprecated protocol versions.",
    remediation='site_config { minimum_tls_version = "1.2" }.',
    controls=(f"{CIS_AZURE}:9.3", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "linux_web_app#minimum_tls_version",),
)
def _app_tls(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for config in block.children("site_config"):
        for attr in ("min_tls_version", "minimum_tls_version"):
            if text(config.get(attr)) in _OLD_TLS:
                yield at(block, "site_config", f"{attr} = {text(config.get(attr))}", key=attr)


@check(
    "SW-TF-AZURE-020",
    "Managed disk is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_managed_disk",),
    description="encryption_settings disabled leaves the disk without Azure Disk Encryption.",
    remediation="encryption_settings { enabled = true } or disk_encryption_set_id.",
    controls=(f"{CIS_AZURE}:7.2", f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "managed_disk#encryption_settings",),
)
def _disk(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for settings in block.children("encryption_settings"):
        if is_false(settings.get("enabled")):
            yield at(block, "encryption_settings", "encryption_settings.enabled = false")


@check(
    "SW-TF-AZURE-021",
    "Data Lake store is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_data_lake_store",),
    description="encryption_state Disabled stores data unencrypted.",
    remediation='Set encryption_state = "Enabled".',
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "data_lake_store#encryption_state",),
)
def _datalake(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("encryption_state")) == "Disabled":
        yield at(block, "encryption_state", "encryption_state = Disabled")


@check(
    "SW-TF-AZURE-022",
    "Data factory allows public network access",
    Severity.MEDIUM,
    TF,
    kinds=("azurerm_data_factory",),
    description="public_network_enabled (the default) exposes the service endpoint to the internet.",
    remediation="Set public_network_enabled = false and use private endpoints.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "data_factory#public_network_enabled",),
)
def _datafactory(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    value = block.get("public_network_enabled")
    if value is None or is_true(value):
        yield at(block, "public_network_enabled", "public network access is enabled")


CHECKS: tuple[Check, ...] = (
    _storage_https,
    _storage_tls,
    _storage_public,
    _container_public,
    _storage_default_action,
    _nsg_sensitive,
    _nsg_public,
    _db_firewall,
    _db_firewall_azure,
    _db_public,
    _db_ssl,
    _db_tls,
    _aks_ips,
    _aks_rbac,
    _aks_netpol,
    _kv_purge,
    _kv_network,
    _kv_expiry,
    _vm_password,
    _app_https,
    _app_tls,
    _disk,
    _datalake,
    _datafactory,
)
