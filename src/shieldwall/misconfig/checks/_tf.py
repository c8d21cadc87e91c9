"""Helpers shared by the Terraform check modules: values, network ranges, ports, policies, credentials."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from shieldwall.misconfig.check import Hit, InputKind, Resource
from shieldwall.misconfig.checks._common import literal_secret
from shieldwall.misconfig.inputs.terraform import TfBlock, TfResource, Unresolved, is_known

TF = InputKind.TERRAFORM

# Control references (``framework:control``); frameworks with a data file live in src/shieldwall/data/compliance.
CIS_AWS = "cis-aws-foundations-1.4"
CIS_GCP = "cis-gcp-1.3"
CIS_AZURE = "cis-azure-1.5"
NIST_53 = "nist-800-53"
PCI = "pci-dss-4.0"

SENSITIVE_PORTS: dict[int, str] = {
    20: "FTP data",
    21: "FTP",
    22: "SSH",
    23: "Telnet",
    25: "SMTP",
    135: "MS RPC",
    137: "NetBIOS",
    139: "NetBIOS",
    445: "SMB",
    1433: "SQL Server",
    1521: "Oracle",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    2379: "etcd",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5601: "Kibana",
    5900: "VNC",
    5984: "CouchDB",
    6379: "Redis",
    6443: "Kubernetes API",
    8020: "HDFS",
    9042: "Cassandra",
    9200: "Elasticsearch",
    9300: "Elasticsearch",
    10250: "kubelet",
    11211: "Memcached",
    27017: "MongoDB",
}
ADMIN_PORTS = frozenset({22, 3389})

_WORLD_WORDS = frozenset({"*", "internet", "any", "0.0.0.0", "0.0.0.0/0", "::/0", "0::/0", "::0/0"})  # noqa: S104


def tf(resource: Resource) -> TfResource:
    """The Terraform item behind an engine resource."""
    data = resource.data
    assert isinstance(data, TfResource)
    return data


def at(block: TfBlock, attr: str, message: str, *, key: str = "", found: str = "") -> Hit:
    """A hit on the lines of ``attr`` of ``block`` (the block's own lines when the attribute is absent)."""
    line, end = block.lines(attr)
    return Hit(message, line=line, end_line=end, key=key or attr, found=found)


def is_true(value: object) -> bool:
    """Literal true (``true``, ``"true"``)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: object) -> bool:
    """Literal false (``false``, ``"false"``)."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def not_true(value: object) -> bool:
    """Known to be off: absent (``None``) or literal false. An unresolved value is not judged."""
    return value is None or is_false(value)


def as_int(value: object) -> int | None:
    """An integer literal, or None."""
    if isinstance(value, bool) or not is_known(value):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def as_list(value: object) -> list[Any]:
    """A list value (a scalar becomes a one-item list, None an empty list)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def text(value: object) -> str:
    """Literal text of a scalar ('' for unknown and non-scalars)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


def is_world(value: object) -> bool:
    """``0.0.0.0/0``, ``::/0``, ``*``, ``Internet``, ``Any``: every address."""
    if not isinstance(value, str):
        return False
    word = value.strip().lower()
    if word in _WORLD_WORDS:
        return True
    try:
        return ipaddress.ip_network(word, strict=False).prefixlen == 0
    except ValueError:
        return False


def world_sources(values: Iterable[object]) -> list[str]:
    """The items of ``values`` that stand for every address."""
    return [str(v) for v in values if is_world(v)]


def port_range(text_value: object) -> tuple[int, int] | None:
    """``22``, ``"22"``, ``"8000-9000"``, ``"*"`` -> an inclusive range; None when unknown."""
    if isinstance(text_value, bool) or not is_known(text_value):
        return None
    if isinstance(text_value, int):
        return text_value, text_value
    raw = str(text_value).strip()
    if raw in ("*", "", "all", "-1"):
        return 0, 65535
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", raw)
    if match:
        return int(match.group(1)), int(match.group(2))
    if raw.isdigit():
        return int(raw), int(raw)
    return None


def exposed_ports(low: int, high: int) -> list[str]:
    """Names of the sensitive ports inside ``low..high`` (``all ports`` for the full range)."""
    if low <= 0 and high >= 65535:
        return ["all ports"]
    return [f"{port} ({name})" for port, name in SENSITIVE_PORTS.items() if low <= port <= high]


def all_protocols(value: object) -> bool:
    """Protocol ``-1``/``all``/``*``: every protocol and port."""
    return (
        isinstance(value, str | int)
        and not isinstance(value, bool)
        and str(value).strip().lower()
        in (
            "-1",
            "all",
            "*",
        )
    )


# --------------------------------------------------------------------------- IAM-style policy documents


def policy_document(value: object) -> dict[str, Any] | None:
    """A policy JSON string (literal, heredoc or ``jsonencode``; unresolved parts kept as text) as a dict."""
    raw = value.expr if isinstance(value, Unresolved) else value
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or "{" not in raw:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of a policy document (``Statement`` may be one object or a list)."""
    raw = document.get("Statement", document.get("statement"))
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict):
            yield item


def strings(value: object) -> list[str]:
    """String items of a scalar or list."""
    return [v for v in as_list(value) if isinstance(v, str)]


def principal_is_public(principal: object) -> bool:
    """``"*"`` or ``{"AWS": "*"}``: anyone."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


def document_statements(item: TfResource, attr: str = "policy") -> list[dict[str, Any]]:
    """Statements of a resource's policy attribute, following a reference to a ``aws_iam_policy_document``."""
    value = item.block.get(attr)
    document = policy_document(value)
    if document is not None:
        return list(statements(document))
    source = item.module.resolve_reference(value, "data")
    if source is not None and source.type == "aws_iam_policy_document":
        return policy_document_statements(source.block)
    return []


def policy_document_statements(block: TfBlock) -> list[dict[str, Any]]:
    """``data "aws_iam_policy_document"`` statement blocks in the JSON policy shape."""
    out: list[dict[str, Any]] = []
    for statement in block.children("statement"):
        entry: dict[str, Any] = {"Effect": text(statement.get("effect")) or "Allow"}
        if statement.has("actions"):
            entry["Action"] = statement.get("actions")
        if statement.has("not_actions"):
            entry["NotAction"] = statement.get("not_actions")
        if statement.has("resources"):
            entry["Resource"] = statement.get("resources")
        if statement.has("not_resources"):
            entry["NotResource"] = statement.get("not_resources")
        principals = statement.children("principals")
        if principals:
            entry["Principal"] = {text(p.get("type")) or "AWS": p.get("identifiers") for p in principals}
        if statement.children("condition"):
            entry["Condition"] = True
        out.append(entry)
    return out


# --------------------------------------------------------------------------- credentials

_CREDENTIAL_ATTRS = frozenset(
    {
        "access_key",
        "secret_key",
        "token",
        "password",
        "master_password",
        "admin_password",
        "administrator_login_password",
        "client_secret",
        "client_certificate_password",
        "sas_token",
        "api_key",
        "private_key",
        "secret",
        "auth_token",
        "root_password",
        "raw_key",
        "credentials",
    }
)
_USER_DATA_SECRET = re.compile(
    r"(?:AKIA|ASIA)[0-9A-Z]{16}|aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}|"
    r"\b[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|SECRET_KEY)\s*=\s*\\?['\"]?"
    r"(?![$'\"\\{<])[^\s'\"\\]{6,}",
    re.IGNORECASE,
)
_PLACEHOLDERS = re.compile(r"^(?:\*+|x+|changeme|change_me|password|secret|todo|replace[_-]?me|<.*>|\$\{.*\})$", re.I)


def credential_attr(name: str) -> bool:
    """Attribute names that hold a credential (``password``, ``secret_key``, ``client_secret``...)."""
    return name.lower() in _CREDENTIAL_ATTRS


def literal_credential(value: object) -> bool:
    """A literal, non-placeholder credential value (never an unresolved expression)."""
    if not isinstance(value, str) or isinstance(value, Unresolved):
        return False
    stripped = value.strip()
    if len(stripped) < 4 or _PLACEHOLDERS.match(stripped):
        return False
    return literal_secret(stripped)


def secrets_in_script(value: object) -> list[str]:
    """AWS keys written into a user-data script (literal or partly resolved text)."""
    raw = value.expr if isinstance(value, Unresolved) else value
    if not isinstance(raw, str):
        return []
    return [m.group(0)[:8] + "..." for m in _USER_DATA_SECRET.finditer(raw)]
