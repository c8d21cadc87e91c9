"""Terraform checks for AWS: S3, security groups and NACLs, encryption at rest, RDS, IAM, CloudTrail, KMS, EKS,
and credentials written into provider blocks and resources.

Values that Terraform computes (``Unresolved``) are never judged: a check
flags a setting only when it is a literal or absent with an insecure default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._tf import (
    ADMIN_PORTS,
    CIS_AWS,
    NIST_53,
    PCI,
    TF,
    all_protocols,
    as_int,
    as_list,
    at,
    credential_attr,
    document_statements,
    exposed_ports,
    is_false,
    is_true,
    literal_credential,
    not_true,
    policy_document_statements,
    principal_is_public,
    secrets_in_script,
    strings,
    text,
    tf,
    world_sources,
)
from shieldwall.misconfig.inputs.terraform import TfBlock, TfResource, is_known
from shieldwall.model import Severity

_DOCS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/"
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read", "website"})


def _bucket_companions(item: TfResource, type_: str) -> list[TfResource]:
    return item.module.referring(type_, "bucket", item)


# --------------------------------------------------------------------------- S3


@check(
    "SW-TF-AWS-001",
    "S3 bucket ACL grants public access",
    Severity.HIGH,
    TF,
    kinds=("aws_s3_bucket", "aws_s3_bucket_acl"),
    description="A canned ACL of public-read, public-read-write, authenticated-read or website lets anyone "
    "(or any AWS account) list or read the bucket's objects.",
    remediation="Use the 'private' ACL (or disable ACLs with object ownership 'BucketOwnerEnforced') and share "
    "objects through CloudFront or presigned URLs.",
    controls=(f"{CIS_AWS}:2.1.5", f"{PCI}:1.3.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "s3_bucket_acl",),
)
def _s3_public_acl(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    acl = block.get("acl")
    if isinstance(acl, str) and acl in _PUBLIC_ACLS:
        yield at(block, "acl", f"canned ACL {acl!r} makes the bucket public", found=acl)
    for grant in block.children("grant"):
        uri = text(grant.get("uri"))
        if uri.endswith(("/global/AllUsers", "/global/AuthenticatedUsers")):
            yield at(block, "grant", f"ACL grant to {uri.rsplit('/', 1)[-1]}", key=uri, found=uri)
    policy = block.child("access_control_policy")
    for grant in policy.children("grant") if policy is not None else ():
        for grantee in grant.children("grantee"):
            uri = text(grantee.get("uri"))
            if uri.endswith(("/global/AllUsers", "/global/AuthenticatedUsers")):
                yield at(block, "access_control_policy", f"ACL grant to {uri.rsplit('/', 1)[-1]}", key=uri,
                         found=uri)  # fmt: skip


@check(
    "SW-TF-AWS-002",
    "S3 bucket has no public access block",
    Severity.LOW,
    TF,
    kinds=("aws_s3_bucket",),
    description="Without an aws_s3_bucket_public_access_block, a later ACL or bucket policy can make the bucket "
    "public. (A block declared in another file of the module is not seen; suppress with a reason.)",
    remediation="Add an aws_s3_bucket_public_access_block for the bucket with all four settings true.",
    controls=(f"{CIS_AWS}:2.1.5", f"{NIST_53}:AC-3"),
    references=(_DOCS + "s3_bucket_public_access_block",),
)
def _s3_no_pab(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if _bucket_companions(item, "aws_s3_bucket_public_access_block"):
        return
    if any(True for _ in item.module.of_type("aws_s3_account_public_access_block")):
        return
    yield Hit("no aws_s3_bucket_public_access_block refers to this bucket", key="pab")


def _pab_setting(setting: str, effect: str) -> Check:
    number = {"block_public_acls": "003", "block_public_policy": "004", "ignore_public_acls": "005",
              "restrict_public_buckets": "006"}[setting]  # fmt: skip

    @check(
        f"SW-TF-AWS-{number}",
        f"S3 public access block does not set {setting}",
        Severity.MEDIUM,
        TF,
        kinds=("aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"),
        description=f"With {setting} false (the default), {effect}.",
        remediation=f"Set {setting} = true.",
        controls=(f"{CIS_AWS}:2.1.5", f"{NIST_53}:AC-3"),
        references=(_DOCS + "s3_bucket_public_access_block",),
    )
    def evaluate(resource: Resource) -> Iterator[Hit]:
        block = tf(resource).block
        value = block.get(setting)
        if not_true(value):
            yield at(block, setting, f"{setting} is {'not set' if value is None else 'false'}")

    return evaluate


_s3_block_acls = _pab_setting("block_public_acls", "new public ACLs on the bucket and its objects are accepted")
_s3_block_policy = _pab_setting("block_public_policy", "a bucket policy granting public access is accepted")
_s3_ignore_acls = _pab_setting("ignore_public_acls", "existing public ACLs keep granting access")
_s3_restrict = _pab_setting("restrict_public_buckets", "a public bucket policy keeps granting access to anyone")


@check(
    "SW-TF-AWS-007",
    "S3 bucket has no default encryption configured",
    Severity.MEDIUM,
    TF,
    kinds=("aws_s3_bucket",),
    description="No server_side_encryption_configuration on the bucket or in an "
    "aws_s3_bucket_server_side_encryption_configuration. S3 applies SSE-S3 to new objects since 2023, but an "
    "explicit configuration (preferably SSE-KMS) documents and enforces the intent.",
    remediation="Add aws_s3_bucket_server_side_encryption_configuration with sse_algorithm 'aws:kms' (or 'AES256').",
    controls=(f"{CIS_AWS}:2.1.1", f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "s3_bucket_server_side_encryption_configuration",),
)
def _s3_encryption(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.block.has("server_side_encryption_configuration"):
        return
    companions = _bucket_companions(item, "aws_s3_bucket_server_side_encryption_configuration")
    if not companions:
        yield Hit("no default encryption for the bucket", key="sse")
        return
    for companion in companions:
        rules = companion.block.children("rule")
        if rules and not any(r.children("apply_server_side_encryption_by_default") for r in rules):
            yield Hit(f"{companion.address} has no apply_server_side_encryption_by_default", key="sse-rule")


@check(
    "SW-TF-AWS-008",
    "S3 bucket versioning is not enabled",
    Severity.MEDIUM,
    TF,
    kinds=("aws_s3_bucket",),
    description="Without versioning, an overwritten or deleted object (ransomware, a mistake) cannot be recovered.",
    remediation='Add aws_s3_bucket_versioning with versioning_configuration { status = "Enabled" }.',
    controls=(f"{NIST_53}:CP-9",),
    references=(_DOCS + "s3_bucket_versioning",),
)
def _s3_versioning(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    inline = item.block.child("versioning")
    if inline is not None:
        if not_true(inline.get("enabled")):
            yield at(item.block, "versioning", "versioning is disabled")
        return
    companions = _bucket_companions(item, "aws_s3_bucket_versioning")
    if not companions:
        yield Hit("no versioning configured for the bucket", key="versioning")
        return
    for companion in companions:
        config = companion.block.child("versioning_configuration")
        status = config.get("status") if config is not None else None
        if is_known(status) and text(status) != "Enabled":
            yield Hit(f"{companion.address} sets status {text(status)!r}", key=companion.address)


@check(
    "SW-TF-AWS-009",
    "S3 bucket access logging is not enabled",
    Severity.LOW,
    TF,
    kinds=("aws_s3_bucket",),
    description="Server access logs record who read or changed objects; without them an incident cannot be "
    "investigated.",
    remediation="Add aws_s3_bucket_logging pointing at a dedicated log bucket.",
    controls=(f"{CIS_AWS}:3.6", f"{PCI}:10.2.1", f"{NIST_53}:AU-2"),
    references=(_DOCS + "s3_bucket_logging",),
)
def _s3_logging(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.block.has("logging") or _bucket_companions(item, "aws_s3_bucket_logging"):
        return
    if text(item.block.get("acl")) == "log-delivery-write":
        return  # a log bucket itself
    for acl in _bucket_companions(item, "aws_s3_bucket_acl"):
        if text(acl.block.get("acl")) == "log-delivery-write":
            return
    # a bucket that another bucket logs into is a log bucket
    for other in item.module.of_type("aws_s3_bucket_logging"):
        if _refers_by(other.block.get("target_bucket"), item):
            return
    for other in item.module.of_type("aws_s3_bucket"):
        for logging in other.block.children("logging"):
            if _refers_by(logging.get("target_bucket"), item):
                return
    yield Hit("no access logging configured for the bucket", key="logging")


def _refers_by(value: object, target: TfResource) -> bool:
    from shieldwall.misconfig.inputs.terraform import refers_to

    return refers_to(value, target)


@check(
    "SW-TF-AWS-010",
    "S3 bucket policy allows public access",
    Severity.HIGH,
    TF,
    kinds=("aws_s3_bucket_policy", "aws_s3_bucket"),
    description="A statement that allows Principal '*' without a condition grants every anonymous caller access "
    "to the bucket.",
    remediation="Name the principals that need access, or add a condition (aws:SourceVpce, aws:PrincipalOrgID).",
    controls=(f"{CIS_AWS}:2.1.5", f"{PCI}:1.3.1", f"{NIST_53}:AC-3"),
    references=(_DOCS + "s3_bucket_policy",),
)
def _s3_public_policy(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    for statement in document_statements(item):
        if text(statement.get("Effect")) != "Allow" or statement.get("Condition"):
            continue
        if principal_is_public(statement.get("Principal")):
            actions = ", ".join(strings(statement.get("Action"))) or "actions"
            yield at(item.block, "policy", f"allows {actions} to Principal '*'", key=actions, found=actions)


# --------------------------------------------------------------------------- network


def _sg_rules(item: TfResource) -> Iterator[tuple[TfBlock, str, str]]:
    """(rule, direction, attribute for its lines) for every rule an SG-like resource declares."""
    block = item.block
    if item.type in ("aws_security_group", "aws_default_security_group"):
        for rule in block.children("ingress"):
            yield rule, "ingress", "ingress"
        for rule in block.children("egress"):
            yield rule, "egress", "egress"
    elif item.type == "aws_security_group_rule":
        yield block, text(block.get("type")), ""
    elif item.type == "aws_vpc_security_group_ingress_rule":
        yield block, "ingress", ""
    elif item.type == "aws_vpc_security_group_egress_rule":
        yield block, "egress", ""


def _rule_world(rule: TfBlock) -> list[str]:
    return world_sources([*as_list(rule.get("cidr_blocks")), *as_list(rule.get("ipv6_cidr_blocks")),
                          rule.get("cidr_ipv4"), rule.get("cidr_ipv6")])  # fmt: skip


def _rule_ports(rule: TfBlock) -> tuple[int, int] | None:
    protocol = rule.get("protocol", rule.get("ip_protocol"))
    if all_protocols(protocol):
        return 0, 65535
    low, high = as_int(rule.get("from_port")), as_int(rule.get("to_port"))
    if low is None or high is None:
        return None
    if low == -1 or high == -1:
        return 0, 65535  # ICMP type/code, or -1 for all
    if low == 0 and high in (0, 65535) and text(protocol).lower() in ("tcp", "udp", "6", "17"):
        return 0, 65535
    return low, high


def _ingress_hits(resource: Resource, admin_only: bool) -> Iterator[Hit]:
    item = tf(resource)
    for rule, direction, attr in _sg_rules(item):
        if direction != "ingress":
            continue
        sources = _rule_world(rule)
        ports = _rule_ports(rule)
        if not sources or ports is None:
            continue
        exposed = exposed_ports(*ports)
        if admin_only and not exposed:
            continue
        if not admin_only and exposed:
            continue  # reported by the sensitive-port check
        where = f"ports {ports[0]}-{ports[1]}" if ports[0] != ports[1] else f"port {ports[0]}"
        what = ", ".join(exposed) if exposed else where
        line, end = (rule.line, rule.end_line) if attr else (item.block.line, item.block.end_line)
        yield Hit(f"ingress from {', '.join(sources)} to {what}", line=line, end_line=end,
                  key=f"{ports[0]}-{ports[1]}", found=", ".join(sources))  # fmt: skip


_SG_KINDS = ("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule",
             "aws_default_security_group", "aws_vpc_security_group_egress_rule")  # fmt: skip


@check(
    "SW-TF-AWS-011",
    "Security group allows ingress from the internet to a sensitive port",
    Severity.HIGH,
    TF,
    kinds=_SG_KINDS,
    description="An ingress rule from 0.0.0.0/0 or ::/0 to SSH, RDP, a database or all ports exposes an "
    "administration or data service to the whole internet.",
    remediation="Restrict the source to known CIDR ranges or security groups; reach hosts through a bastion, SSM "
    "Session Manager or a VPN.",
    controls=(f"{CIS_AWS}:5.2", f"{CIS_AWS}:5.3", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "security_group",),
)
def _sg_sensitive(resource: Resource) -> Iterator[Hit]:
    yield from _ingress_hits(resource, admin_only=True)


@check(
    "SW-TF-AWS-012",
    "Security group allows ingress from the internet",
    Severity.MEDIUM,
    TF,
    kinds=_SG_KINDS,
    description="An ingress rule from 0.0.0.0/0 or ::/0 exposes the port to the whole internet; intended only "
    "for public endpoints such as a load balancer's 443.",
    remediation="Restrict the source CIDR, or put the service behind a load balancer and allow only its group.",
    controls=(f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "security_group",),
)
def _sg_public(resource: Resource) -> Iterator[Hit]:
    yield from _ingress_hits(resource, admin_only=False)


@check(
    "SW-TF-AWS-013",
    "Security group allows egress to the internet",
    Severity.LOW,
    TF,
    kinds=_SG_KINDS,
    description="Unrestricted egress lets a compromised workload reach any host (exfiltration, command and control).",
    remediation="Limit egress to the destinations and ports the workload needs.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "security_group",),
)
def _sg_egress(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    for rule, direction, attr in _sg_rules(item):
        if direction != "egress":
            continue
        sources = _rule_world(rule)
        if sources:
            ports = _rule_ports(rule)
            where = "all ports" if ports in (None, (0, 65535)) else f"ports {ports[0]}-{ports[1]}"
            line, end = (rule.line, rule.end_line) if attr else (item.block.line, item.block.end_line)
            yield Hit(f"egress to {', '.join(sources)} on {where}", line=line, end_line=end, key=where)


@check(
    "SW-TF-AWS-014",
    "Network ACL allows ingress from the internet to an administration port",
    Severity.MEDIUM,
    TF,
    kinds=("aws_network_acl_rule", "aws_network_acl", "aws_default_network_acl"),
    description="A NACL rule allowing 0.0.0.0/0 or ::/0 to SSH, RDP or all ports lets the whole internet reach "
    "every instance of the subnet.",
    remediation="Deny administration ports from the internet in the NACL; allow only known ranges.",
    controls=(f"{CIS_AWS}:5.1", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "network_acl_rule",),
)
def _nacl(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    rules: list[tuple[TfBlock, bool]] = []
    if item.type == "aws_network_acl_rule":
        if not is_true(item.block.get("egress")):
            rules.append((item.block, False))
    else:
        rules += [(r, True) for r in item.block.children("ingress")]
    for rule, nested in rules:
        action = text(rule.get("rule_action", rule.get("action"))).lower()
        if action != "allow":
            continue
        sources = world_sources([rule.get("cidr_block"), rule.get("ipv6_cidr_block")])
        ports = _rule_ports(rule)
        if not sources or ports is None:
            continue
        if ports != (0, 65535) and not any(ports[0] <= p <= ports[1] for p in ADMIN_PORTS):
            continue
        what = "all ports" if ports == (0, 65535) else f"ports {ports[0]}-{ports[1]}"
        line, end = (rule.line, rule.end_line) if nested else (item.block.line, item.block.end_line)
        yield Hit(f"allows {', '.join(sources)} to {what}", line=line, end_line=end, key=f"{ports[0]}-{ports[1]}")


@check(
    "SW-TF-AWS-015",
    "Default security group allows traffic",
    Severity.MEDIUM,
    TF,
    kinds=("aws_default_security_group",),
    description="Resources launched without a security group land in the VPC's default group; it should allow "
    "nothing so that mistake fails closed.",
    remediation="Declare aws_default_security_group without ingress or egress rules.",
    controls=(f"{CIS_AWS}:5.4", f"{NIST_53}:SC-7"),
    references=(_DOCS + "default_security_group",),
)
def _default_sg(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for name in ("ingress", "egress"):
        if block.children(name):
            yield at(block, name, f"default security group has {name} rules", key=name)


@check(
    "SW-TF-AWS-016",
    "Security group or rule has no description",
    Severity.LOW,
    TF,
    kinds=("aws_security_group", "aws_security_group_rule"),
    description="Descriptions say why a rule exists, which is what a reviewer needs to remove a stale one.",
    remediation="Set description on the security group and on each rule.",
    controls=(f"{NIST_53}:CM-6",),
    references=(_DOCS + "security_group",),
)
def _sg_description(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.block.get("description") in (None, ""):
        yield Hit("no description", key="description")
    if item.type == "aws_security_group":
        for name in ("ingress", "egress"):
            for index, rule in enumerate(item.block.children(name)):
                if rule.get("description") in (None, ""):
                    yield Hit(f"{name} rule has no description", line=rule.line, end_line=rule.end_line,
                              key=f"{name}{index}")  # fmt: skip


@check(
    "SW-TF-AWS-017",
    "Subnet assigns public IP addresses on launch",
    Severity.LOW,
    TF,
    kinds=("aws_subnet",),
    description="map_public_ip_on_launch gives every instance of the subnet a public address.",
    remediation="Set map_public_ip_on_launch = false; expose services through load balancers.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "subnet",),
)
def _subnet_public_ip(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("map_public_ip_on_launch")):
        yield at(block, "map_public_ip_on_launch", "map_public_ip_on_launch = true")


# --------------------------------------------------------------------------- EC2 / EBS


def _devices(block: TfBlock) -> Iterator[tuple[str, TfBlock]]:
    for name in ("root_block_device", "ebs_block_device"):
        for device in block.children(name):
            yield name, device
    for mapping in block.children("block_device_mappings"):
        for ebs in mapping.children("ebs"):
            yield "block_device_mappings", ebs


@check(
    "SW-TF-AWS-018",
    "EBS volume is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=(
        "aws_ebs_volume",
        "aws_instance",
        "aws_launch_configuration",
        "aws_launch_template",
        "aws_ebs_encryption_by_default",
    ),
    description="Unencrypted EBS volumes and snapshots expose their data to anyone who gets a copy.",
    remediation="Set encrypted = true (or enable aws_ebs_encryption_by_default) and use a KMS key.",
    controls=(f"{CIS_AWS}:2.2.1", f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "ebs_volume",),
)
def _ebs(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    if item.type == "aws_ebs_encryption_by_default":
        if is_false(block.get("enabled")):
            yield at(block, "enabled", "EBS encryption by default is disabled")
        return
    if any(not is_false(r.block.get("enabled")) for r in item.module.of_type("aws_ebs_encryption_by_default")):
        return  # the account encrypts new volumes by default
    if item.type == "aws_ebs_volume":
        if not_true(block.get("encrypted")) and block.get("snapshot_id") is None:
            yield at(block, "encrypted", "encrypted is not true")
        return
    for name, device in _devices(block):
        if device.get("snapshot_id") is not None:
            continue
        if not_true(device.get("encrypted")):
            label = text(device.get("device_name")) or name
            yield Hit(f"{label} is not encrypted", line=device.line, end_line=device.end_line, key=label)
    if item.type == "aws_instance" and not block.children("root_block_device"):
        yield Hit("root_block_device is not declared (unencrypted unless encryption by default is on)", key="root")


@check(
    "SW-TF-AWS-019",
    "EC2 instance metadata service does not require IMDSv2 tokens",
    Severity.MEDIUM,
    TF,
    kinds=("aws_instance", "aws_launch_template", "aws_launch_configuration"),
    description="IMDSv1 answers any request; an SSRF bug then leaks the instance role's credentials.",
    remediation='metadata_options { http_tokens = "required" } (or http_endpoint = "disabled").',
    controls=(f"{NIST_53}:AC-3",),
    references=(_DOCS + "instance#metadata-options",),
)
def _imds(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    options = block.child("metadata_options")
    if options is None:
        yield Hit("no metadata_options: IMDSv1 is allowed", key="imds")
        return
    if text(options.get("http_endpoint")) == "disabled":
        return
    tokens = options.get("http_tokens")
    if tokens is None or (is_known(tokens) and text(tokens) != "required"):
        yield at(block, "metadata_options", f"http_tokens is {text(tokens) or 'not set'}", key="imds")


@check(
    "SW-TF-001",
    "Hard-coded cloud credential in a provider block or script",
    Severity.CRITICAL,
    TF,
    description="A literal access key, secret key, client secret or token in a provider block, or cloud keys "
    "written into user data, end up in version control, plan files and state, and give whoever reads them the "
    "deployer's access.",
    remediation="Take provider credentials from the environment, a profile or workload identity; read secrets "
    "from a secrets manager at boot instead of user data; rotate the exposed credential.",
    controls=(f"{PCI}:8.6.2", f"{NIST_53}:IA-5"),
    references=("https://registry.terraform.io/providers/hashicorp/aws/latest/docs#authentication-and-configuration",),
)
def _cloud_credentials(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.mode == "data":
        return
    block = item.block
    if item.mode == "provider":
        for name, value in block.attrs.items():
            if credential_attr(name) and literal_credential(value):
                yield at(block, name, f"{name} is a literal value", key=name, found=f"{name}=***")
        for nested in ("assume_role", "client_certificate"):
            for child in block.children(nested):
                for name, value in child.attrs.items():
                    if credential_attr(name) and literal_credential(value):
                        yield at(block, nested, f"{nested}.{name} is a literal value", key=f"{nested}.{name}")
        return
    for holder in (block, *block.children("os_profile")):
        for name in ("user_data", "custom_data", "user_data_base64", "metadata_startup_script"):
            found = secrets_in_script(holder.get(name))
            if found:
                line, end = block.lines(name) if holder is block else (holder.line, holder.end_line)
                yield Hit(f"{name} contains a credential", line=line, end_line=end, key=name, found=found[0])


@check(
    "SW-TF-002",
    "Hard-coded password or secret in a resource",
    Severity.MEDIUM,
    TF,
    description="A literal password, secret or key in a resource argument is readable by everyone with access to "
    "the repository and its history.",
    remediation="Generate it (random_password, manage_master_user_password) or read it from a secrets manager or "
    "a sensitive variable without a default; rotate the exposed value.",
    controls=(f"{PCI}:8.6.2", f"{NIST_53}:IA-5"),
    references=("https://developer.hashicorp.com/terraform/tutorials/configuration-language/sensitive-variables",),
)
def _resource_credentials(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.mode != "managed" or item.from_plan:
        return  # a plan holds every value resolved, variables and generated passwords included
    block = item.block
    for name, value in block.attrs.items():
        if credential_attr(name) and literal_credential(value):
            yield at(block, name, f"{name} is a literal value", key=name, found=f"{name}=***")
    for nested in ("master_auth", "os_profile", "administrator_login", "admin_user"):
        for child in block.children(nested):
            for name, value in child.attrs.items():
                if credential_attr(name) and literal_credential(value):
                    yield at(block, nested, f"{nested}.{name} is a literal value", key=f"{nested}.{name}")


# --------------------------------------------------------------------------- databases and storage


@check(
    "SW-TF-AWS-021",
    "RDS instance or cluster storage is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("aws_db_instance", "aws_rds_cluster", "aws_docdb_cluster", "aws_neptune_cluster"),
    description="Unencrypted database storage, snapshots and replicas expose data to anyone who gets a copy.",
    remediation="Set storage_encrypted = true with a kms_key_id (requires recreating an existing database).",
    controls=(f"{CIS_AWS}:2.3.1", f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "db_instance#storage_encrypted",),
)
def _rds_encryption(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    block = item.block
    if item.type == "aws_db_instance" and block.get("replicate_source_db") is not None:
        return  # a replica inherits its source's encryption
    if item.type == "aws_rds_cluster" and text(block.get("engine_mode")) == "serverless":
        return  # Aurora Serverless v1 is always encrypted
    if not_true(block.get("storage_encrypted")):
        yield at(block, "storage_encrypted", "storage_encrypted is not true")


@check(
    "SW-TF-AWS-057",
    "Database storage is encrypted without a customer managed key",
    Severity.LOW,
    TF,
    kinds=("aws_db_instance", "aws_rds_cluster", "aws_docdb_cluster", "aws_neptune_cluster"),
    description="Storage encrypted with the AWS managed key cannot be governed by your own key policy, rotation "
    "or revocation.",
    remediation="Set kms_key_id to a customer managed KMS key.",
    controls=(f"{PCI}:3.6.1", f"{NIST_53}:SC-12"),
    references=(_DOCS + "rds_cluster#kms_key_id",),
)
def _rds_cmk(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("storage_encrypted")) and block.get("kms_key_id") is None:
        yield at(block, "storage_encrypted", "no kms_key_id: the AWS managed key is used")


@check(
    "SW-TF-AWS-022",
    "RDS instance is publicly accessible",
    Severity.HIGH,
    TF,
    kinds=("aws_db_instance", "aws_rds_cluster_instance"),
    description="publicly_accessible gives the database a public DNS name and address.",
    remediation="Set publicly_accessible = false; reach the database from inside the VPC.",
    controls=(f"{CIS_AWS}:2.3.3", f"{PCI}:1.3.1", f"{NIST_53}:SC-7"),
    references=(_DOCS + "db_instance#publicly_accessible",),
)
def _rds_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("publicly_accessible")):
        yield at(block, "publicly_accessible", "publicly_accessible = true")


@check(
    "SW-TF-AWS-023",
    "RDS backup retention is one day or less",
    Severity.LOW,
    TF,
    kinds=("aws_db_instance", "aws_rds_cluster"),
    description="A backup retention period of 0 disables automated backups; the default of one day leaves "
    "little time to notice a problem before the last good backup is gone.",
    remediation="Set backup_retention_period to at least 7 days.",
    controls=(f"{NIST_53}:CP-9",),
    references=(_DOCS + "db_instance#backup_retention_period",),
)
def _rds_backup(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("replicate_source_db") is not None:
        return
    value = block.get("backup_retention_period")
    days = as_int(value)
    if value is None or (days is not None and days < 2):
        yield at(block, "backup_retention_period", f"backup_retention_period is {text(value) or 'not set (1 day)'}")


@check(
    "SW-TF-AWS-024",
    "EFS file system is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("aws_efs_file_system",),
    description="An unencrypted EFS file system stores its data in the clear.",
    remediation="Set encrypted = true (and kms_key_id).",
    controls=(f"{CIS_AWS}:2.4.1", f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "efs_file_system#encrypted",),
)
def _efs(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("encrypted")):
        yield at(block, "encrypted", "encrypted is not true")


@check(
    "SW-TF-AWS-025",
    "DynamoDB table or DAX cluster is not encrypted with a KMS key",
    Severity.LOW,
    TF,
    kinds=("aws_dynamodb_table", "aws_dax_cluster"),
    description="Tables are encrypted with an AWS-owned key unless server_side_encryption is enabled, which "
    "leaves key use out of your control and audit; DAX clusters are not encrypted at all unless enabled.",
    remediation="server_side_encryption { enabled = true, kms_key_arn = ... }.",
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "dynamodb_table#server_side_encryption",),
)
def _dynamodb(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    sse = item.block.child("server_side_encryption")
    if sse is None:
        yield Hit("server_side_encryption is not configured", key="sse")
    elif not_true(sse.get("enabled")):
        yield at(item.block, "server_side_encryption", "server_side_encryption is disabled", key="sse")
    elif (
        item.type == "aws_dynamodb_table"
        and text(sse.get("kms_key_arn")) in ("", "alias/aws/dynamodb")
        and (sse.get("kms_key_arn") is None or is_known(sse.get("kms_key_arn")))
    ):
        yield at(item.block, "server_side_encryption", "the AWS managed key is used", key="cmk")


@check(
    "SW-TF-AWS-026",
    "DynamoDB point-in-time recovery is disabled",
    Severity.LOW,
    TF,
    kinds=("aws_dynamodb_table",),
    description="Without point-in-time recovery a deleted or corrupted table cannot be restored.",
    remediation="point_in_time_recovery { enabled = true }.",
    controls=(f"{NIST_53}:CP-9",),
    references=(_DOCS + "dynamodb_table#point_in_time_recovery",),
)
def _dynamodb_pitr(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    pitr = block.child("point_in_time_recovery")
    if pitr is None or not_true(pitr.get("enabled")):
        yield at(block, "point_in_time_recovery", "point_in_time_recovery is not enabled")


@check(
    "SW-TF-AWS-027",
    "SQS queue is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("aws_sqs_queue",),
    description="Messages of a queue without SSE-SQS or a KMS key are stored unencrypted.",
    remediation="Set kms_master_key_id (or sqs_managed_sse_enabled = true).",
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "sqs_queue#kms_master_key_id",),
)
def _sqs(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("kms_master_key_id") is None and not_true(block.get("sqs_managed_sse_enabled")):
        yield at(block, "sqs_managed_sse_enabled", "no kms_master_key_id and SSE-SQS is not enabled")


@check(
    "SW-TF-AWS-028",
    "SNS topic is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("aws_sns_topic",),
    description="Messages of a topic without a KMS key are stored unencrypted.",
    remediation="Set kms_master_key_id (a customer managed key, or alias/aws/sns).",
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "sns_topic#kms_master_key_id",),
)
def _sns(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    key = block.get("kms_master_key_id")
    if key is None or key == "":
        yield at(block, "kms_master_key_id", "no kms_master_key_id")


@check(
    "SW-TF-AWS-029",
    "Kinesis stream is not encrypted",
    Severity.MEDIUM,
    TF,
    kinds=("aws_kinesis_stream",),
    description="Records of a stream without server-side encryption are stored unencrypted.",
    remediation='Set encryption_type = "KMS" and kms_key_id.',
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "kinesis_stream#encryption_type",),
)
def _kinesis(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    kind = block.get("encryption_type")
    if kind is None or (is_known(kind) and text(kind).upper() != "KMS"):
        yield at(block, "encryption_type", f"encryption_type is {text(kind) or 'not set'}")
    elif block.get("kms_key_id") is None:
        yield at(block, "encryption_type", "encryption_type KMS without kms_key_id")


@check(
    "SW-TF-AWS-030",
    "SQS queue policy allows all actions",
    Severity.HIGH,
    TF,
    kinds=("aws_sqs_queue_policy", "aws_sqs_queue"),
    description="A queue policy statement allowing '*' or 'sqs:*' gives its principals full control of the queue.",
    remediation="Allow only the actions needed (sqs:SendMessage, sqs:ReceiveMessage...).",
    controls=(f"{NIST_53}:AC-6",),
    references=(_DOCS + "sqs_queue_policy",),
)
def _sqs_policy(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    for statement in document_statements(item):
        if text(statement.get("Effect")) != "Allow":
            continue
        wild = [a for a in strings(statement.get("Action")) if a in ("*", "sqs:*")]
        if wild:
            yield at(item.block, "policy", f"allows {wild[0]}", key=wild[0], found=wild[0])


# --------------------------------------------------------------------------- IAM

_POLICY_KINDS = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
                 "data.aws_iam_policy_document")  # fmt: skip


def _iam_statements(item: TfResource) -> list[dict[str, object]]:
    if item.mode == "data":
        return list(policy_document_statements(item.block))
    return list(document_statements(item))


@check(
    "SW-TF-AWS-031",
    "IAM policy allows all actions on all resources",
    Severity.HIGH,
    TF,
    kinds=_POLICY_KINDS,
    description="A statement with Action '*' and Resource '*' grants full administrator rights.",
    remediation="Grant only the actions and resources the principal needs; use AWS managed job-function policies.",
    controls=(f"{CIS_AWS}:1.16", f"{PCI}:7.2.2", f"{NIST_53}:AC-6"),
    references=(_DOCS + "iam_policy",),
)
def _iam_admin(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    attr = "statement" if item.mode == "data" else "policy"
    for statement in _iam_statements(item):
        if text(statement.get("Effect")) != "Allow":
            continue
        if "*" in strings(statement.get("Action")) and "*" in strings(statement.get("Resource")):
            yield at(item.block, attr, "allows Action '*' on Resource '*'", key="admin", found="*:*")


@check(
    "SW-TF-AWS-032",
    "IAM policy uses wildcard actions or resources",
    Severity.MEDIUM,
    TF,
    kinds=_POLICY_KINDS,
    description="Wildcards ('s3:*', Resource '*') grant more than the principal needs and widen what a stolen "
    "credential can do.",
    remediation="List the actions and resource ARNs explicitly.",
    controls=(f"{PCI}:7.2.2", f"{NIST_53}:AC-6"),
    references=(_DOCS + "iam_policy",),
)
def _iam_wildcards(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    attr = "statement" if item.mode == "data" else "policy"
    for statement in _iam_statements(item):
        if text(statement.get("Effect")) != "Allow":
            continue
        actions = strings(statement.get("Action"))
        if "*" in actions and "*" in strings(statement.get("Resource")):
            continue  # reported by SW-TF-AWS-031
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild:
            yield at(item.block, attr, f"wildcard action {wild[0]}", key=wild[0], found=wild[0])
        elif "*" in strings(statement.get("Resource")) and any("*" in a for a in actions):
            yield at(item.block, attr, "wildcard action on Resource '*'", key="resource", found="*")


@check(
    "SW-TF-AWS-033",
    "IAM policy attached directly to a user",
    Severity.LOW,
    TF,
    kinds=("aws_iam_user_policy", "aws_iam_user_policy_attachment", "aws_iam_policy_attachment"),
    description="Permissions attached to users instead of groups or roles drift and are hard to review.",
    remediation="Attach policies to groups or roles and add users to groups.",
    controls=(f"{CIS_AWS}:1.15", f"{NIST_53}:AC-2"),
    references=(_DOCS + "iam_user_policy_attachment",),
)
def _iam_user_policy(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    if item.type == "aws_iam_policy_attachment":
        if as_list(item.block.get("users")):
            yield at(item.block, "users", "policy attached to users")
        return
    yield Hit("policy attached directly to a user", key="user")


def _password_setting(number: str, attr: str, title: str, bad: str, test: Callable[[object], bool]) -> Check:
    @check(
        f"SW-TF-AWS-{number}",
        title,
        Severity.MEDIUM,
        TF,
        kinds=("aws_iam_account_password_policy",),
        description=f"The account password policy {bad}.",
        remediation=f"Set {attr} as CIS AWS Foundations recommends.",
        controls=(
            f"{CIS_AWS}:{'1.8' if attr == 'minimum_password_length' else '1.9'}",
            f"{PCI}:8.3.6",
            f"{NIST_53}:IA-5",
        ),
        references=(_DOCS + "iam_account_password_policy",),
    )
    def evaluate(resource: Resource) -> Iterator[Hit]:
        block = tf(resource).block
        value = block.get(attr)
        if test(value):
            yield at(block, attr, f"{attr} is {text(value) or 'not set'}")

    return evaluate


def _below(limit: int) -> Callable[[object], bool]:
    def test(value: object) -> bool:
        number = as_int(value)
        return value is None or (number is not None and number < limit)

    return test


def _above(limit: int) -> Callable[[object], bool]:
    def test(value: object) -> bool:
        number = as_int(value)
        return value is None or (number is not None and (number > limit or number == 0))

    return test


_pw_length = _password_setting("034", "minimum_password_length", "IAM password policy allows short passwords",
                               "accepts passwords shorter than 14 characters", _below(14))  # fmt: skip
_pw_reuse = _password_setting("035", "password_reuse_prevention", "IAM password policy allows password reuse",
                              "remembers fewer than 24 previous passwords", _below(24))  # fmt: skip
_pw_age = _password_setting("036", "max_password_age", "IAM password policy does not expire passwords",
                            "lets passwords live longer than 90 days", _above(90))  # fmt: skip
_pw_symbols = _password_setting("037", "require_symbols", "IAM password policy does not require symbols",
                                "does not require a symbol", not_true)  # fmt: skip
_pw_numbers = _password_setting("038", "require_numbers", "IAM password policy does not require numbers",
                                "does not require a number", not_true)  # fmt: skip
_pw_upper = _password_setting("039", "require_uppercase_characters",
                              "IAM password policy does not require uppercase letters",
                              "does not require an uppercase letter", not_true)  # fmt: skip
_pw_lower = _password_setting("040", "require_lowercase_characters",
                              "IAM password policy does not require lowercase letters",
                              "does not require a lowercase letter", not_true)  # fmt: skip


# --------------------------------------------------------------------------- logging and keys


@check(
    "SW-TF-AWS-041",
    "CloudTrail trail is not multi-region",
    Severity.MEDIUM,
    TF,
    kinds=("aws_cloudtrail",),
    description="A single-region trail misses API activity in every other region, where an attacker can work unseen.",
    remediation="Set is_multi_region_trail = true.",
    controls=(f"{CIS_AWS}:3.1", f"{PCI}:10.2.1", f"{NIST_53}:AU-2"),
    references=(_DOCS + "cloudtrail#is_multi_region_trail",),
)
def _trail_regions(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("is_multi_region_trail")):
        yield at(block, "is_multi_region_trail", "is_multi_region_trail is not true")


@check(
    "SW-TF-AWS-042",
    "CloudTrail log file validation is disabled",
    Severity.MEDIUM,
    TF,
    kinds=("aws_cloudtrail",),
    description="Without log file validation, altered or deleted trail logs cannot be detected.",
    remediation="Set enable_log_file_validation = true.",
    controls=(f"{CIS_AWS}:3.2", f"{PCI}:10.3.4", f"{NIST_53}:AU-9"),
    references=(_DOCS + "cloudtrail#enable_log_file_validation",),
)
def _trail_validation(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("enable_log_file_validation")):
        yield at(block, "enable_log_file_validation", "enable_log_file_validation is not true")


@check(
    "SW-TF-AWS-043",
    "CloudTrail logging is disabled",
    Severity.HIGH,
    TF,
    kinds=("aws_cloudtrail",),
    description="enable_logging = false stops the trail: API activity is no longer recorded.",
    remediation="Remove enable_logging = false.",
    controls=(f"{CIS_AWS}:3.1", f"{PCI}:10.2.1", f"{NIST_53}:AU-12"),
    references=(_DOCS + "cloudtrail#enable_logging",),
)
def _trail_disabled(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_false(block.get("enable_logging")):
        yield at(block, "enable_logging", "enable_logging = false")


@check(
    "SW-TF-AWS-044",
    "CloudTrail logs are not encrypted with a KMS key",
    Severity.LOW,
    TF,
    kinds=("aws_cloudtrail",),
    description="Trail logs encrypted with SSE-KMS can be read only by principals allowed to use the key.",
    remediation="Set kms_key_id to a customer managed key.",
    controls=(f"{CIS_AWS}:3.7", f"{NIST_53}:AU-9"),
    references=(_DOCS + "cloudtrail#kms_key_id",),
)
def _trail_kms(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("kms_key_id") is None:
        yield at(block, "kms_key_id", "no kms_key_id")


@check(
    "SW-TF-AWS-045",
    "CloudTrail is not integrated with CloudWatch Logs",
    Severity.LOW,
    TF,
    kinds=("aws_cloudtrail",),
    description="Without a CloudWatch Logs group, trail events cannot drive metric filters and alarms.",
    remediation="Set cloud_watch_logs_group_arn and cloud_watch_logs_role_arn.",
    controls=(f"{CIS_AWS}:3.4", f"{NIST_53}:AU-6"),
    references=(_DOCS + "cloudtrail#cloud_watch_logs_group_arn",),
)
def _trail_cloudwatch(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if block.get("cloud_watch_logs_group_arn") is None:
        yield at(block, "cloud_watch_logs_group_arn", "no cloud_watch_logs_group_arn")


@check(
    "SW-TF-AWS-046",
    "KMS key rotation is disabled",
    Severity.MEDIUM,
    TF,
    kinds=("aws_kms_key",),
    description="Symmetric customer managed keys should rotate yearly so a leaked key version protects less data.",
    remediation="Set enable_key_rotation = true.",
    controls=(f"{CIS_AWS}:3.8", f"{PCI}:3.7.4", f"{NIST_53}:SC-12"),
    references=(_DOCS + "kms_key#enable_key_rotation",),
)
def _kms_rotation(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    spec = text(block.get("customer_master_key_spec") or block.get("key_spec"))
    usage = text(block.get("key_usage"))
    if (spec and spec != "SYMMETRIC_DEFAULT") or usage in ("SIGN_VERIFY", "GENERATE_VERIFY_MAC"):
        return  # rotation applies to symmetric encryption keys only
    if not_true(block.get("enable_key_rotation")):
        yield at(block, "enable_key_rotation", "enable_key_rotation is not true")


# --------------------------------------------------------------------------- EKS


@check(
    "SW-TF-AWS-047",
    "EKS cluster API endpoint is public",
    Severity.MEDIUM,
    TF,
    kinds=("aws_eks_cluster",),
    description="endpoint_public_access (the default) puts the Kubernetes API server on the internet.",
    remediation="Set vpc_config { endpoint_public_access = false, endpoint_private_access = true }.",
    controls=(f"{NIST_53}:SC-7", "cis-eks-1.4:5.4.2"),
    references=(_DOCS + "eks_cluster#endpoint_public_access",),
)
def _eks_public(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    vpc = block.child("vpc_config")
    value = vpc.get("endpoint_public_access") if vpc is not None else None
    if value is None or is_true(value):
        yield at(block, "vpc_config", f"endpoint_public_access is {'true' if value is not None else 'not set (true)'}")


@check(
    "SW-TF-AWS-048",
    "EKS public API endpoint is open to the internet",
    Severity.HIGH,
    TF,
    kinds=("aws_eks_cluster",),
    description="A public endpoint whose public_access_cidrs include 0.0.0.0/0 (the default) accepts API "
    "connections from anywhere.",
    remediation="Disable the public endpoint, or list the CIDRs that may reach it in public_access_cidrs.",
    controls=(f"{NIST_53}:SC-7", f"{PCI}:1.3.1", "cis-eks-1.4:5.4.2"),
    references=(_DOCS + "eks_cluster#public_access_cidrs",),
)
def _eks_public_cidrs(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    vpc = block.child("vpc_config")
    if vpc is None or is_false(vpc.get("endpoint_public_access")):
        return
    cidrs = vpc.get("public_access_cidrs")
    if cidrs is None and is_true(vpc.get("endpoint_public_access")):
        yield at(block, "vpc_config", "public endpoint without public_access_cidrs (0.0.0.0/0)", found="0.0.0.0/0")
    elif cidrs is not None and world_sources(as_list(cidrs)):
        yield at(block, "vpc_config", "public_access_cidrs includes 0.0.0.0/0", found="0.0.0.0/0")


@check(
    "SW-TF-AWS-049",
    "EKS secrets are not encrypted with a KMS key",
    Severity.LOW,
    TF,
    kinds=("aws_eks_cluster",),
    description="Envelope encryption of Kubernetes secrets with a KMS key protects them in etcd backups.",
    remediation='Add encryption_config { resources = ["secrets"], provider { key_arn = ... } }.',
    controls=(f"{NIST_53}:SC-28", "cis-eks-1.4:5.3.1"),
    references=(_DOCS + "eks_cluster#encryption_config",),
)
def _eks_secrets(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    for config in block.children("encryption_config"):
        resources = config.get("resources")
        provider = config.child("provider")
        if provider is None or provider.get("key_arn") in (None, ""):
            continue
        if not is_known(resources) or "secrets" in strings(resources):
            return
    yield at(block, "encryption_config", "secrets are not encrypted with a KMS key", key="secrets")


@check(
    "SW-TF-AWS-050",
    "EKS control plane logging is incomplete",
    Severity.LOW,
    TF,
    kinds=("aws_eks_cluster",),
    description="Without api, audit and authenticator logs, actions on the cluster cannot be investigated.",
    remediation='enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"].',
    controls=(f"{NIST_53}:AU-2", "cis-eks-1.4:2.1.1"),
    references=(_DOCS + "eks_cluster#enabled_cluster_log_types",),
)
def _eks_logging(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    value = block.get("enabled_cluster_log_types")
    if not is_known(value) and value is not None:
        return
    missing = [t for t in ("api", "audit", "authenticator") if t not in strings(value)]
    if missing:
        yield at(block, "enabled_cluster_log_types", f"log types missing: {', '.join(missing)}")


@check(
    "SW-TF-AWS-051",
    "EC2 instance has a public IP address",
    Severity.LOW,
    TF,
    kinds=("aws_instance", "aws_launch_configuration"),
    description="associate_public_ip_address puts the instance directly on the internet.",
    remediation="Set associate_public_ip_address = false; use a load balancer or NAT.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "instance#associate_public_ip_address",),
)
def _instance_public_ip(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if is_true(block.get("associate_public_ip_address")):
        yield at(block, "associate_public_ip_address", "associate_public_ip_address = true")


@check(
    "SW-TF-AWS-052",
    "ECR repository does not scan images on push",
    Severity.LOW,
    TF,
    kinds=("aws_ecr_repository",),
    description="Scan on push finds known vulnerabilities in every image as it is pushed.",
    remediation="image_scanning_configuration { scan_on_push = true }.",
    controls=(f"{NIST_53}:RA-5", "nist-800-190:4.1.1"),
    references=(_DOCS + "ecr_repository#image_scanning_configuration",),
)
def _ecr_scan(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    config = block.child("image_scanning_configuration")
    if config is None or not_true(config.get("scan_on_push")):
        yield at(block, "image_scanning_configuration", "scan_on_push is not true")


@check(
    "SW-TF-AWS-053",
    "ECR repository tags are mutable",
    Severity.LOW,
    TF,
    kinds=("aws_ecr_repository",),
    description="Mutable tags let a pushed image replace the one a deployment pinned by tag.",
    remediation='Set image_tag_mutability = "IMMUTABLE".',
    controls=(f"{NIST_53}:CM-14", "nist-800-190:4.2.2"),
    references=(_DOCS + "ecr_repository#image_tag_mutability",),
)
def _ecr_mutable(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    value = block.get("image_tag_mutability")
    if value is None or text(value) == "MUTABLE":
        yield at(block, "image_tag_mutability", f"image_tag_mutability is {text(value) or 'not set (MUTABLE)'}")


@check(
    "SW-TF-AWS-054",
    "ElastiCache replication group is not encrypted at rest",
    Severity.MEDIUM,
    TF,
    kinds=("aws_elasticache_replication_group",),
    description="Without at-rest encryption, cached data, backups and swap are stored unencrypted.",
    remediation="Set at_rest_encryption_enabled = true.",
    controls=(f"{PCI}:3.5.1", f"{NIST_53}:SC-28"),
    references=(_DOCS + "elasticache_replication_group#at_rest_encryption_enabled",),
)
def _elasticache_rest(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("at_rest_encryption_enabled")):
        yield at(block, "at_rest_encryption_enabled", "at_rest_encryption_enabled is not true")


@check(
    "SW-TF-AWS-055",
    "ElastiCache replication group is not encrypted in transit",
    Severity.MEDIUM,
    TF,
    kinds=("aws_elasticache_replication_group",),
    description="Without in-transit encryption, traffic to Redis (including AUTH tokens) is readable on the network.",
    remediation="Set transit_encryption_enabled = true.",
    controls=(f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "elasticache_replication_group#transit_encryption_enabled",),
)
def _elasticache_transit(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if not_true(block.get("transit_encryption_enabled")):
        yield at(block, "transit_encryption_enabled", "transit_encryption_enabled is not true")


@check(
    "SW-TF-AWS-056",
    "Network ACL rule allows all protocols",
    Severity.LOW,
    TF,
    kinds=("aws_network_acl_rule", "aws_network_acl"),
    description="An allow rule for protocol -1 (all) admits every protocol and port from its source.",
    remediation="Allow only the protocols and ports needed.",
    controls=(f"{NIST_53}:SC-7",),
    references=(_DOCS + "network_acl_rule#protocol",),
)
def _nacl_all(resource: Resource) -> Iterator[Hit]:
    item = tf(resource)
    rules = [(item.block, False)] if item.type == "aws_network_acl_rule" else [
        (r, True) for name in ("ingress", "egress") for r in item.block.children(name)]  # fmt: skip
    for rule, nested in rules:
        if text(rule.get("rule_action", rule.get("action"))).lower() != "allow":
            continue
        if all_protocols(rule.get("protocol")):
            line, end = (rule.line, rule.end_line) if nested else (item.block.line, item.block.end_line)
            yield Hit(f"allows protocol {text(rule.get('protocol'))}", line=line, end_line=end,
                      key=str(rule.line))  # fmt: skip


@check(
    "SW-TF-AWS-020",
    "Load balancer listener uses plain HTTP",
    Severity.MEDIUM,
    TF,
    kinds=("aws_lb_listener", "aws_alb_listener"),
    description="An HTTP listener that does not redirect to HTTPS serves traffic unencrypted.",
    remediation="Use protocol HTTPS with a certificate, or make the HTTP listener's default action a redirect to "
    "HTTPS.",
    controls=(f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS + "lb_listener",),
)
def _lb_http(resource: Resource) -> Iterator[Hit]:
    block = tf(resource).block
    if text(block.get("protocol")).upper() != "HTTP":
        return
    for action in block.children("default_action"):
        if text(action.get("type")) == "redirect":
            redirect = action.child("redirect")
            if redirect is None or text(redirect.get("protocol")).upper() in ("HTTPS", ""):
                return
    yield at(block, "protocol", "HTTP listener without a redirect to HTTPS")


CHECKS: tuple[Check, ...] = (
    _s3_public_acl,
    _s3_no_pab,
    _s3_block_acls,
    _s3_block_policy,
    _s3_ignore_acls,
    _s3_restrict,
    _s3_encryption,
    _s3_versioning,
    _s3_logging,
    _s3_public_policy,
    _sg_sensitive,
    _sg_public,
    _sg_egress,
    _nacl,
    _default_sg,
    _sg_description,
    _subnet_public_ip,
    _ebs,
    _imds,
    _cloud_credentials,
    _resource_credentials,
    _rds_encryption,
    _rds_cmk,
    _rds_public,
    _rds_backup,
    _efs,
    _dynamodb,
    _dynamodb_pitr,
    _sqs,
    _sns,
    _kinesis,
    _sqs_policy,
    _iam_admin,
    _iam_wildcards,
    _iam_user_policy,
    _pw_length,
    _pw_reuse,
    _pw_age,
    _pw_symbols,
    _pw_numbers,
    _pw_upper,
    _pw_lower,
    _trail_regions,
    _trail_validation,
    _trail_disabled,
    _trail_kms,
    _trail_cloudwatch,
    _kms_rotation,
    _eks_public,
    _eks_public_cidrs,
    _eks_secrets,
    _eks_logging,
    _instance_public_ip,
    _ecr_scan,
    _ecr_mutable,
    _elasticache_rest,
    _elasticache_transit,
    _nacl_all,
    _lb_http,
)
