"""Helpers shared by the host configuration check modules."""

from __future__ import annotations

from shieldwall.misconfig.check import Hit, Resource
from shieldwall.misconfig.inputs.host import HostConfig, Setting

# Control references; cis-docker-1.6 has a data file, the distribution benchmarks are references.
CIS_DEBIAN = "cis-debian-12"
CIS_UBUNTU = "cis-ubuntu-22.04"
CIS_DOCKER = "cis-docker-1.6"
NIST_53 = "nist-800-53"
NIST_190 = "nist-800-190"
PCI = "pci-dss-4.0"


def host_config(resource: Resource) -> HostConfig:
    """The settings behind a host configuration resource."""
    data = resource.data
    assert isinstance(data, HostConfig)
    return data


def setting_hit(setting: Setting | None, message: str, *, key: str, found: str = "") -> Hit:
    """A hit on the line that sets a value (no line when the value is an unset default)."""
    if setting is None:
        return Hit(message, key=key, found=found)
    return Hit(message, line=setting.line, end_line=setting.line, key=key, found=found or setting.value,
               path=setting.path)  # fmt: skip


def as_int(value: str | None) -> int | None:
    """An integer setting value (octal-looking values stay decimal), or None."""
    if value is None:
        return None
    text = value.strip().split()[0] if value.strip() else ""
    try:
        return int(text, 10)
    except ValueError:
        return None


def first_word(value: str | None) -> str:
    """First word of a value, lower-cased ('' when unset)."""
    return value.strip().split()[0].lower() if value and value.strip() else ""
