"""Terraform checks for Google Cloud: Cloud Storage, firewall rules, Cloud SQL, GKE, KMS, Compute, IAM, BigQuery."""

from __future__ import annotations

from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._tf import (
    CIS_GCP,
    NIST_53,
    PCI,
    TF,
    as_list,
    at,
    exposed_ports,
    is_false,
    is_true,
    not_true,
    port_range,
    strings,
    text,
    tf,
    world_sources,
)
from shieldwall.misconfig.inputs.terraform import TfBlock, is_known, refers_to
from shieldwall.model import Severity

_DOCS = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/"
_PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def _public_members(values: object) -> list[str]:
    return [m for m in strings(values) if m in _PUBLIC_MEMBERS]


@check(
    "SW-TF-GCP-001",
    "Cloud Storage bucket is public",
    Severity.HIGH,
    TF,
    kinds=(
        "google_storage_bucket_iam_binding",
        "google_storage_bucket_iam_member",
        "google_storage_bucket_acl",
        "google_storage_default_object_acl",
        "google_storage_object_acl",
        "google_storage_default_object_access_control",
        "google_storage_bucket_access_control",
    ),
    description="Granting allUsers or allAuthenticatedUsers makes the bucket's objects readable by anyone on the "
    "internet (or any Google account).",
    remediation="Grant roles to named users, groups or service accounts; keep public access prevention enforced.",
    controls=(f"{CIS_GCP}:5.1", f"{PCI}:1.3.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "storage_bucket_iam",),
)
def _gcs_public(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    found = _public_members(block.get("members")) + _public_members(block.get("member"))
    for attr in ("role_entity",):
        found += [e for e in strings(block.get(attr)) if e.split(":")[-1] in _PUBLIC_MEMBERS]
    if text(block.get("entity")) in _PUBLIC_MEMBERS:
        found.append(text(block.get("entity")))
    for member in dict.fromkeys(found):
        attr = next((a for a in ("members", "member", "role_entity", "entity") if block.has(a)), "")
        yield at(block, attr, f"grants access to {member}", key=member, found=member)


@check(
    "SW-TF-GCP-002",
    "Cloud Storage bucket does not use uniform bucket-level access",
    Severity.MEDIUM,
    TF,
    kinds=("google_storage_bucket",),
    description="Without uniform bucket-level access, per-object ACLs can make single objects public.",
    remediation="Set uniform_bucket_level_access = true.",
    controls=(f"{CIS_GCP}:5.2", f"{NIST_53}:AC-3"),
    references=(_DOCS + "storage_bucket#uniform_bucket_level_access",),
)
def _gcs_ubla(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("uniform_bucket_level_access")):
        yield at(block, "uniform_bucket_level_access", "uniform_bucket_level_access is not true")


@check(
    "SW-TF-GCP-003",
    "Cloud Storage bucket versioning is not enabled",
    Severity.LOW,
    TF,
    kinds=("google_storage_bucket",),
    description="Without versioning an overwritten or deleted object cannot be recovered.",
    remediation="versioning { enabled = true }.",
    controls=(f"{NIST_53}:CP-9",),
    references=(_DOCS + "storage_bucket#versioning",),
)
def _gcs_versioning(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    versioning = block.child("versioning")
    if versioning is None or not_true(versioning.get("enabled")):
        yield at(block, "versioning", "versioning is not enabled")


@check(
    "SW-TF-GCP-004",
    "Cloud Storage bucket access logging is not enabled",
    Severity.LOW,
    TF,
    kinds=("google_storage_bucket",),
    description="Usage logs record who accessed the bucket.",
    remediation="logging { log_bucket = ... }.",
    controls=(f"{NIST_53}:AU-2", f"{PCI}:10.2.1"),
    references=(_DOCS + "storage_bucket#logging",),
)
def _gcs_logging(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    logging = block.child("logging")
    if logging is not None and logging.get("log_bucket") is not None:
        return
    name = block.get("name")
    for other in item.module.of_type("google_storage_bucket"):
        target = other.block.child("logging")
        value = target.get("log_bucket") if target is not None else None
        if value is not None and (value == name or refers_to(value, item)):
            return  # this bucket receives other buckets' logs
    yield at(block, "logging", "no access logging")


_TCP_LIKE = ("tcp", "6", "sctp", "132")


def _allowed(block: TfBlock) -> list[tuple[str, int, int]]:
    """(protocol, low, high) for every allow entry; protocols without ports cover 0-65535."""
    out: list[tuple[str, int, int]] = []
    for allow in block.children("allow"):
        raw = allow.get("protocol")
        if raw is not None and not is_known(raw):
            continue
        protocol = text(raw).lower() or "all"
        ports = allow.get("ports")
        if ports is not None and not is_known(ports):
            continue
        if not as_list(ports):
            out.append((protocol, 0, 65535))
            continue
        for port in as_list(ports):
            got = port_range(port)
            if got is not None:
                out.append((protocol, got[0], got[1]))
    return out


def _firewall_rules(block: TfBlock) -> tuple[list[str], list[tuple[str, int, int]]]:
    """World-open sources and allowed (protocol, low, high) of an ingress firewall rule."""
    if text(block.get("direction")).upper() == "EGRESS" or is_true(block.get("disabled")):
        return [], []
    return world_sources(as_list(block.get("source_ranges"))), _allowed(block)


def _sensitive(protocol: str, low: int, high: int) -> list[str]:
    if protocol in ("all", "-1"):
        return ["all protocols and ports"]
    if protocol in _TCP_LIKE:
        return exposed_ports(low, high)
    return []


@check(
    "SW-TF-GCP-005",
    "Firewall rule allows ingress from the internet to a sensitive port",
    Severity.HIGH,
    TF,
    kinds=("google_compute_firewall",),
    description="An ingress rule from 0.0.0.0/0 to SSH, RDP, a database or all ports exposes it to the internet.",
    remediation="Restrict source_ranges; use IAP TCP forwarding (35.235.240.0/20) for SSH and RDP.",
    controls=(f"{CIS_GCP}:3.6", f"{CIS_GCP}:3.7", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "compute_firewall",),
)
def _fw_sensitive(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    sources, ranges = _firewall_rules(block)
    if not sources:
        return
    for protocol, low, high in ranges:
        exposed = _sensitive(protocol, low, high)
        if exposed:
            yield at(block, "allow", f"ingress from {', '.join(sources)} to {', '.join(exposed)}",
                     key=f"{protocol}:{low}-{high}", found=", ".join(sources))  # fmt: skip


@check(
    "SW-TF-GCP-006",
    "Firewall rule allows ingress from the internet",
    Severity.MEDIUM,
    TF,
    kinds=("google_compute_firewall",),
    description="An ingress rule from 0.0.0.0/0 exposes the port to the whole internet; intended only for public "
    "endpoints.",
    remediation="Restrict source_ranges to known networks.",
    controls=(f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "compute_firewall",),
)
def _fw_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    sources, ranges = _firewall_rules(block)
    if not sources:
        return
    for protocol, low, high in ranges:
        if not _sensitive(protocol, low, high):
            where = protocol if (low, high) == (0, 65535) else f"{protocol} {low}-{high}"
            yield at(block, "allow", f"ingress from {', '.join(sources)} to {where}",
                     key=f"{protocol}:{low}-{high}", found=", ".join(sources))  # fmt: skip


@check(
    "SW-TF-GCP-007",
    "Firewall rule allows all ports or a wide port range",
    Severity.LOW,
    TF,
    kinds=("google_compute_firewall",),
    description="A rule that allows every port of a protocol, or a range of more than 30 ports, opens more "
    "services than its purpose needs.",
    remediation="List the individual ports (or a narrow range).",
    controls=(f"{NIST_53}:CM-7",),
    references=(_DOCS + "compute_firewall",),
)
def _fw_range(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("direction")).upper() == "EGRESS":
        return
    for protocol, low, high in _allowed(block):
        if protocol not in (*_TCP_LIKE, "udp", "17", "all", "-1"):
            continue
        if (low, high) == (0, 65535):
            yield at(block, "allow", f"all {protocol} ports", key=f"{protocol}:all")
        elif high - low + 1 > 30:
            yield at(block, "allow", f"port range {low}-{high} ({high - low + 1} ports)", key=f"{protocol}:{low}")


@check(
    "SW-TF-GCP-008",
    "Cloud SQL instance is open to the internet",
    Severity.HIGH,
    TF,
    kinds=("google_sql_database_instance",),
    description="An authorized network of 0.0.0.0/0 lets any address connect to the database's public IP.",
    remediation="Remove 0.0.0.0/0 from authorized_networks; use private IP or the Cloud SQL Auth Proxy.",
    controls=(f"{CIS_GCP}:6.5", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "sql_database_instance#authorized_networks",),
)
def _sql_open(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    settings = block.child("settings")
    ip = settings.child("ip_configuration") if settings is not None else None
    for network in ip.children("authorized_networks") if ip is not None else ():
        if world_sources([network.get("value")]):
            yield at(block, "settings", "authorized network 0.0.0.0/0", found=text(network.get("value")))


@check(
    "SW-TF-GCP-009",
    "Cloud SQL instance has a public IP address",
    Severity.MEDIUM,
    TF,
    kinds=("google_sql_database_instance",),
    description="ipv4_enabled (the default) gives the instance a public address.",
    remediation="Set settings.ip_configuration.ipv4_enabled = false and use a private network.",
    controls=(f"{CIS_GCP}:6.6", f"{NIST_53}:SC-7"),
    references=(_DOCS + "sql_database_instance#ipv4_enabled",),
)
def _sql_public_ip(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    settings = block.child("settings")
    ip = settings.child("ip_configuration") if settings is not None else None
    value = ip.get("ipv4_enabled") if ip is not None else None
    if value is None or is_true(value):
        yield at(block, "settings", "ipv4_enabled is not false")


@check(
    "SW-TF-GCP-010",
    "Cloud SQL instance does not require TLS",
    Severity.MEDIUM,
    TF,
    kinds=("google_sql_database_instance",),
    description="Without require_ssl (or ssl_mode ENCRYPTED_ONLY), clients may connect unencrypted.",
    remediation='settings.ip_configuration { ssl_mode = "ENCRYPTED_ONLY" } (or require_ssl = true).',
    controls=(f"{CIS_GCP}:6.4", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "sql_database_instance#ssl_mode",),
)
def _sql_tls(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    settings = block.child("settings")
    ip = settings.child("ip_configuration") if settings is not None else None
    if ip is None:
        yield at(block, "settings", "no ip_configuration: TLS is not required")
        return
    mode = ip.get("ssl_mode")
    if is_true(ip.get("require_ssl")) or text(mode) in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
        return
    if (mode is None or is_known(mode)) and (ip.get("require_ssl") is None or is_known(ip.get("require_ssl"))):
        yield at(block, "settings", "TLS is not required")


@check(
    "SW-TF-GCP-011",
    "Cloud SQL automated backups are disabled",
    Severity.LOW,
    TF,
    kinds=("google_sql_database_instance",),
    description="Without automated backups a lost or corrupted database cannot be restored.",
    remediation="settings.backup_configuration { enabled = true }.",
    controls=(f"{CIS_GCP}:6.7", f"{NIST_53}:CP-9"),
    references=(_DOCS + "sql_database_instance#backup_configuration",),
)
def _sql_backup(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("master_instance_name") is not None:
        return  # a read replica is backed up through its primary
    settings = block.child("settings")
    backup = settings.child("backup_configuration") if settings is not None else None
    if backup is None or not_true(backup.get("enabled")):
        yield at(block, "settings", "automated backups are not enabled")


@check(
    "SW-TF-GCP-012",
    "GKE legacy ABAC is enabled",
    Severity.HIGH,
    TF,
    kinds=("google_container_cluster",),
    description="Legacy ABAC grants broad, static permissions that bypass RBAC.",
    remediation="Set enable_legacy_abac = false (the default) and use RBAC.",
    controls=(f"{CIS_GCP}:7.3", "cis-gke-1.2:5.8.3", f"{NIST_53}:AC-3"),
    references=(_DOCS + "container_cluster#enable_legacy_abac",),
)
def _gke_abac(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("enable_legacy_abac")):
        yield at(block, "enable_legacy_abac", "enable_legacy_abac = true")


@check(
    "SW-TF-GCP-013",
    "GKE control plane endpoint is public",
    Severity.MEDIUM,
    TF,
    kinds=("google_container_cluster",),
    description="Without a private endpoint, the Kubernetes API is reachable from the internet.",
    remediation="private_cluster_config { enable_private_endpoint = true, enable_private_nodes = true }.",
    controls=(f"{CIS_GCP}:7.20", "cis-gke-1.2:5.6.4", f"{NIST_53}:SC-7"),
    references=(_DOCS + "container_cluster#private_cluster_config",),
)
def _gke_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    private = block.child("private_cluster_config")
    if private is None or not_true(private.get("enable_private_endpoint")):
        yield at(block, "private_cluster_config", "enable_private_endpoint is not true")


@check(
    "SW-TF-GCP-014",
    "GKE control plane is open to all networks",
    Severity.MEDIUM,
    TF,
    kinds=("google_container_cluster",),
    description="master_authorized_networks_config missing, or listing 0.0.0.0/0, lets any address reach the "
    "Kubernetes API.",
    remediation='master_authorized_networks_config { cidr_blocks { cidr_block = "10.0.0.0/8" } }.',
    controls=(f"{CIS_GCP}:7.4", "cis-gke-1.2:5.6.3", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "container_cluster#master_authorized_networks_config",),
)
def _gke_networks(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    private = block.child("private_cluster_config")
    if private is not None and is_true(private.get("enable_private_endpoint")):
        return
    config = block.child("master_authorized_networks_config")
    if config is None:
        yield at(block, "master_authorized_networks_config", "no master_authorized_networks_config", key="missing")
        return
    for cidr in config.children("cidr_blocks"):
        if world_sources([cidr.get("cidr_block")]):
            yield at(block, "master_authorized_networks_config", "authorized network 0.0.0.0/0", key="world")


@check(
    "SW-TF-GCP-015",
    "GKE cluster uses basic authentication or client certificates",
    Severity.HIGH,
    TF,
    kinds=("google_container_cluster",),
    description="Static passwords and client certificates cannot be revoked and bypass IAM.",
    remediation="Remove master_auth username/password and set issue_client_certificate = false.",
    controls=(f"{CIS_GCP}:7.10", "cis-gke-1.2:5.8.1", f"{NIST_53}:IA-2"),
    references=(_DOCS + "container_cluster#master_auth",),
)
def _gke_legacy_auth(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    auth = block.child("master_auth")
    if auth is None:
        return
    password = auth.get("password")
    if isinstance(password, str) and password:
        yield at(block, "master_auth", "basic authentication password set", key="basic")
    cert = auth.child("client_certificate_config")
    if cert is not None and is_true(cert.get("issue_client_certificate")):
        yield at(block, "master_auth", "issue_client_certificate = true", key="cert")


@check(
    "SW-TF-GCP-016",
    "GKE network policy is not enabled",
    Severity.LOW,
    TF,
    kinds=("google_container_cluster",),
    description="Without network policy enforcement every pod can reach every other pod.",
    remediation='network_policy { enabled = true } (or use Dataplane V2: datapath_provider = "ADVANCED_DATAPATH").',
    controls=(f"{CIS_GCP}:7.11", "cis-gke-1.2:5.6.7", f"{NIST_53}:SC-7"),
    references=(_DOCS + "container_cluster#network_policy",),
)
def _gke_netpol(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("datapath_provider")) == "ADVANCED_DATAPATH" or is_true(block.get("enable_autopilot")):
        return
    policy = block.child("network_policy")
    if policy is None or not_true(policy.get("enabled")):
        yield at(block, "network_policy", "network policy is not enabled")


@check(
    "SW-TF-GCP-017",
    "KMS crypto key is not rotated within 90 days",
    Severity.MEDIUM,
    TF,
    kinds=("google_kms_crypto_key",),
    description="Keys without a rotation period (or one above 90 days) protect more data with one key version.",
    remediation='Set rotation_period = "7776000s" or less.',
    controls=(f"{CIS_GCP}:1.10", f"{PCI}:3.7.4", f"{NIST_53}:SC-12"),
    references=(_DOCS + "kms_crypto_key#rotation_period",),
)
def _kms_rotation(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    purpose = text(block.get("purpose"))
    if purpose and purpose != "ENCRYPT_DECRYPT":
        return
    value = block.get("rotation_period")
    if value is None:
        yield at(block, "rotation_period", "no rotation_period")
        return
    seconds = text(value).rstrip("s")
    if seconds.replace(".", "", 1).isdigit() and float(seconds) > 7776000:
        yield at(block, "rotation_period", f"rotation_period {text(value)} exceeds 90 days")


@check(
    "SW-TF-GCP-018",
    "Compute instance allows serial port access",
    Severity.MEDIUM,
    TF,
    kinds=("google_compute_instance", "google_compute_instance_template", "google_compute_project_metadata"),
    description="The interactive serial console accepts connections from any IP address.",
    remediation="Remove metadata serial-port-enable (or set it to false).",
    controls=(f"{CIS_GCP}:4.5", f"{NIST_53}:CM-7"),
    references=(_DOCS + "compute_instance#metadata",),
)
def _serial_port(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    metadata = block.get("metadata")
    if isinstance(metadata, dict) and is_true(metadata.get("serial-port-enable")):
        yield at(block, "metadata", "serial-port-enable = true")


@check(
    "SW-TF-GCP-019",
    "Compute instance can forward IP packets",
    Severity.LOW,
    TF,
    kinds=("google_compute_instance", "google_compute_instance_template"),
    description="can_ip_forward lets the instance route traffic it does not own, bypassing firewall intent.",
    remediation="Set can_ip_forward = false unless the instance is a NAT or router.",
    controls=(f"{CIS_GCP}:4.6", f"{NIST_53}:SC-7"),
    references=(_DOCS + "compute_instance#can_ip_forward",),
)
def _ip_forward(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("can_ip_forward")):
        yield at(block, "can_ip_forward", "can_ip_forward = true")


@check(
    "SW-TF-GCP-020",
    "Compute instance uses the default service account with full access",
    Severity.MEDIUM,
    TF,
    kinds=("google_compute_instance", "google_compute_instance_template"),
    description="The default Compute Engine service account has Editor on the project; with the cloud-platform "
    "scope every process on the VM inherits it.",
    remediation="Use a dedicated service account with least privilege.",
    controls=(f"{CIS_GCP}:4.1", f"{CIS_GCP}:4.2", f"{NIST_53}:AC-6"),
    references=(_DOCS + "compute_instance#service_account",),
)
def _default_sa(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for account in block.children("service_account"):
        email = account.get("email")
        if email is None or (isinstance(email, str) and email.endswith("-compute@developer.gserviceaccount.com")):
            yield at(block, "service_account", "default compute service account", key="sa")


@check(
    "SW-TF-GCP-021",
    "IAM grants a role to allUsers or allAuthenticatedUsers",
    Severity.HIGH,
    TF,
    kinds=(
        "google_project_iam_binding",
        "google_project_iam_member",
        "google_bigquery_dataset_iam_binding",
        "google_bigquery_dataset_iam_member",
        "google_pubsub_topic_iam_member",
        "google_pubsub_topic_iam_binding",
        "google_cloudfunctions_function_iam_member",
        "google_cloud_run_service_iam_member",
        "google_kms_crypto_key_iam_member",
        "google_kms_crypto_key_iam_binding",
    ),
    description="allUsers or allAuthenticatedUsers as a member makes the resource accessible to the internet.",
    remediation="Grant roles to named principals only.",
    controls=(f"{CIS_GCP}:1.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "google_project_iam",),
)
def _iam_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for member in _public_members(block.get("members")) + _public_members(block.get("member")):
        yield at(block, "members" if block.has("members") else "member", f"grants {text(block.get('role'))} to "
                 f"{member}", key=member, found=member)  # fmt: skip


@check(
    "SW-TF-GCP-022",
    "BigQuery dataset is public",
    Severity.HIGH,
    TF,
    kinds=("google_bigquery_dataset", "google_bigquery_dataset_access"),
    description="An access entry for allUsers or allAuthenticatedUsers exposes the dataset.",
    remediation="Remove the special_group / iam_member entry for allUsers or allAuthenticatedUsers.",
    controls=(f"{CIS_GCP}:7.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "bigquery_dataset#access",),
)
def _bq_public(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    entries = [item.block] if item.type == "google_bigquery_dataset_access" else list(item.block.children("access"))
    for entry in entries:
        for attr in ("special_group", "iam_member"):
            if text(entry.get(attr)) in _PUBLIC_MEMBERS:
                line, end = (entry.line, entry.end_line)
                yield Hit(f"access for {text(entry.get(attr))}", line=line, end_line=end, key=text(entry.get(attr)))


@check(
    "SW-TF-GCP-023",
    "Project IAM grants a primitive role to a user",
    Severity.MEDIUM,
    TF,
    kinds=("google_project_iam_binding", "google_project_iam_member"),
    description="roles/owner and roles/editor grant nearly every permission of the project.",
    remediation="Grant predefined or custom roles with the permissions needed.",
    controls=(f"{CIS_GCP}:1.5", f"{NIST_53}:AC-6"),
    references=(_DOCS + "google_project_iam",),
)
def _iam_primitive(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    role = text(block.get("role"))
    if role not in ("roles/owner", "roles/editor"):
        return
    members = strings(block.get("members")) + strings(block.get("member"))
    users = [m for m in members if m.startswith(("user:", "group:", "serviceAccount:"))]
    if users:
        yield at(block, "role", f"{role} granted to {users[0]}", key=role, found=role)


@check(
    "SW-TF-GCP-024",
    "Compute disk or instance uses a raw encryption key",
    Severity.HIGH,
    TF,
    kinds=("google_compute_disk", "google_compute_instance"),
    description="A raw customer-supplied key written into Terraform is readable from the code, plans and state.",
    remediation="Use a Cloud KMS key (kms_key_self_link) instead of raw_key.",
    controls=(f"{PCI}:3.6.1", f"{NIST_53}:SC-12"),
    references=(_DOCS + "compute_disk#disk_encryption_key",),
)
def _raw_key(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    holders = [block.child("disk_encryption_key")]
    for disk in block.children("boot_disk") + block.children("attached_disk"):
        holders.append(disk)
        holders.append(disk.child("disk_encryption_key"))
    for holder in holders:
        if holder is None:
            continue
        for attr in ("raw_key", "disk_encryption_key_raw", "rsa_encrypted_key"):
            value = holder.get(attr)
            if isinstance(value, str) and value:
                yield Hit(f"{attr} is set", line=holder.line, end_line=holder.end_line, key=attr)


@check(
    "SW-TF-GCP-025",
    "Compute instance has a public IP address",
    Severity.LOW,
    TF,
    kinds=("google_compute_instance", "google_compute_instance_template"),
    description="An access_config on a network interface gives the instance an external address.",
    remediation="Remove access_config; reach the instance through IAP or Cloud NAT.",
    controls=(f"{CIS_GCP}:4.9", f"{NIST_53}:SC-7"),
    references=(_DOCS + "compute_instance#access_config",),
)
def _gce_public_ip(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for nic in block.children("network_interface"):
        if nic.children("access_config"):
            yield Hit("network interface has an access_config", line=nic.line, end_line=nic.end_line, key="nic")


@check(
    "SW-TF-GCP-026",
    "Project-wide SSH keys are allowed on the instance",
    Severity.MEDIUM,
    TF,
    kinds=("google_compute_instance", "google_compute_instance_template"),
    description="Project-wide SSH keys give their holders access to every instance of the project.",
    remediation="Set metadata block-project-ssh-keys = true (or use OS Login).",
    controls=(f"{CIS_GCP}:4.3", f"{NIST_53}:AC-3"),
    references=(_DOCS + "compute_instance#metadata",),
)
def _project_ssh_keys(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    for project in item.module.of_type("google_compute_project_metadata"):
        settings = project.block.get("metadata")
        if isinstance(settings, dict) and is_true(settings.get("enable-oslogin")):
            return  # OS Login for the whole project: metadata SSH keys are ignored
    for project in item.module.of_type("google_compute_project_metadata_item"):
        if project.block.get("key") == "enable-oslogin" and is_true(project.block.get("value")):
            return
    metadata = block.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return
    if isinstance(metadata, dict) and (is_true(metadata.get("enable-oslogin"))
                                       or is_true(metadata.get("block-project-ssh-keys"))):  # fmt: skip
        return
    if isinstance(metadata, dict) and is_false(metadata.get("block-project-ssh-keys")):
        yield at(block, "metadata", "block-project-ssh-keys = false")
    elif metadata is None or not_true(metadata.get("block-project-ssh-keys")):
        yield at(block, "metadata", "block-project-ssh-keys is not set")


@check(
    "SW-TF-GCP-027",
    "GKE node pool auto-repair or auto-upgrade is disabled",
    Severity.LOW,
    TF,
    kinds=("google_container_node_pool",),
    description="Auto-repair and auto-upgrade keep nodes healthy and patched.",
    remediation="management { auto_repair = true, auto_upgrade = true }.",
    controls=("cis-gke-1.2:5.5.2", "cis-gke-1.2:5.5.3", f"{NIST_53}:SI-2"),
    references=(_DOCS + "container_node_pool#management",),
)
def _node_pool_management(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    management = block.child("management")
    for attr in ("auto_repair", "auto_upgrade"):
        value = management.get(attr) if management is not None else None
        if is_false(value):
            yield at(block, "management", f"{attr} = false", key=attr)


@check(
    "SW-TF-GCP-028",
    "Cloud DNS zone has DNSSEC disabled",
    Severity.LOW,
    TF,
    kinds=("google_dns_managed_zone",),
    description="Without DNSSEC, answers for the zone can be spoofed.",
    remediation='dnssec_config { state = "on" }.',
    controls=(f"{CIS_GCP}:3.3", f"{NIST_53}:SC-20"),
    references=(_DOCS + "dns_managed_zone#dnssec_config",),
)
def _dnssec(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("visibility")) == "private":
        return
    config = block.child("dnssec_config")
    state = config.get("state") if config is not None else None
    if is_known(state) and text(state) == "off":
        yield at(block, "dnssec_config", "DNSSEC state is off")


@check(
    "SW-TF-GCP-029",
    "GKE nodes have public IP addresses",
    Severity.LOW,
    TF,
    kinds=("google_container_cluster",),
    description="Without private nodes, every node gets an external address and is reachable from the internet.",
    remediation="private_cluster_config { enable_private_nodes = true } (with Cloud NAT for egress).",
    controls=(f"{CIS_GCP}:7.15", "cis-gke-1.2:5.6.5", f"{NIST_53}:SC-7"),
    references=(_DOCS + "container_cluster#enable_private_nodes",),
)
def _gke_private_nodes(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("enable_autopilot")):
        return
    private = block.child("private_cluster_config")
    if private is None or not_true(private.get("enable_private_nodes")):
        yield at(block, "private_cluster_config", "enable_private_nodes is not true")


CHECKS: tuple[Check, ...] = (
    _gcs_public,
    _gcs_ubla,
    _gcs_versioning,
    _gcs_logging,
    _fw_sensitive,
    _fw_public,
    _fw_range,
    _sql_open,
    _sql_public_ip,
    _sql_tls,
    _sql_backup,
    _gke_abac,
    _gke_public,
    _gke_networks,
    _gke_legacy_auth,
    _gke_netpol,
    _kms_rotation,
    _serial_port,
    _ip_forward,
    _default_sa,
    _iam_public,
    _bq_public,
    _iam_primitive,
    _raw_key,
    _gce_public_ip,
    _project_ssh_keys,
    _node_pool_management,
    _dnssec,
    _gke_private_nodes,
)
