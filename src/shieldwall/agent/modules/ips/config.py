"""``suricata.yaml`` generation from the packaged template.

Every value placed in the YAML is either a path inside the module's state
directory (checked to hold no quote, newline or ``$``) or a value Shieldwall
computed (validated CIDRs, booleans), never raw policy text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from shieldwall.agent.modules.ips.layout import MAX_SOCKET_PATH, Layout

_FORBIDDEN = set("\"'\n\r$\\")
_EXTENDED = {"http", "tls"}
_EXCEPTION_POLICIES = {"auto", "drop-packet", "drop-flow", "pass-packet", "pass-flow", "bypass", "ignore", "reject"}


class ConfigError(ValueError):
    """The configuration cannot be generated (a path that cannot be quoted, a socket path too long)."""


@dataclass(frozen=True, slots=True)
class ConfigOptions:
    """What varies between generated configurations."""

    home_net: Sequence[str] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    rule_files: Sequence[str] = ()
    """Absolute paths of rule files (normally the layout's generated ones)."""
    unix_socket: bool = True
    nfq_fail_open: bool = True
    """Suricata's own ``nfq.fail-open``: accept packets when its queue is full instead of dropping."""
    checksum_validation: bool = True
    midstream: bool = False
    exception_policy: str = "auto"
    extra_eve_types: Sequence[str] = ()
    """More eve ``types`` entries (``http``, ``dns``, ``tls``...), for replays."""
    stats: bool = False
    """Suricata's stats counters (needed for an eve ``stats`` entry)."""
    af_packet: Sequence[str] = ()
    """AF_PACKET interfaces: one (passive IDS) or two (bridged by Suricata, ``af_packet_copy_mode``)."""
    af_packet_copy_mode: str = ""
    """``ips`` (drop rules drop), ``tap`` (bridge, never drop) or empty (passive, one interface)."""


def _quoted(path: Path) -> str:
    text = str(path)
    if any(c in _FORBIDDEN for c in text):
        raise ConfigError(f"path {text!r} contains a character that cannot be placed in suricata.yaml")
    return text


_IFACE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def _af_packet(options: ConfigOptions) -> str:
    """The ``af-packet:`` section: each interface copies to the other in ips/tap mode."""
    ifaces = list(options.af_packet)
    if not ifaces:
        return ""
    if any(not _IFACE.match(i) for i in ifaces) or len(ifaces) > 2 or len(set(ifaces)) != len(ifaces):
        raise ConfigError(f"bad AF_PACKET interfaces {ifaces!r}")
    if options.af_packet_copy_mode not in ("", "ips", "tap"):
        raise ConfigError(f"bad AF_PACKET copy mode {options.af_packet_copy_mode!r}")
    if options.af_packet_copy_mode and len(ifaces) != 2:
        raise ConfigError("AF_PACKET copy mode needs exactly two interfaces")
    lines = ["af-packet:"]
    for n, iface in enumerate(ifaces):
        lines += [
            f"  - interface: {iface}",
            f"    cluster-id: {98 - n}",
            "    cluster-type: cluster_flow",
            "    defrag: no",
        ]
        if options.af_packet_copy_mode:
            other = ifaces[1 - n]
            lines += [f"    copy-mode: {options.af_packet_copy_mode}", f"    copy-iface: {other}"]
    return "\n".join(lines)


def template_text() -> str:
    """The packaged ``suricata.yaml`` template."""
    return files("shieldwall.agent.modules.ips").joinpath("data/suricata.yaml.tmpl").read_text(encoding="utf-8")


def render(layout: Layout, options: ConfigOptions) -> str:
    """The text of ``suricata.yaml`` for ``layout``."""
    if options.unix_socket and len(str(layout.socket)) > MAX_SOCKET_PATH:
        raise ConfigError(f"unix socket path {layout.socket} is longer than {MAX_SOCKET_PATH} bytes")
    nets = [str(ipaddress.ip_network(n, strict=False)) for n in options.home_net]
    if options.exception_policy not in _EXCEPTION_POLICIES:
        raise ConfigError(f"unknown exception policy {options.exception_policy!r}")
    eve_types = "".join(
        f"        - {t}:\n            extended: yes\n" if t in _EXTENDED else f"        - {t}\n"
        for t in options.extra_eve_types
        if t.isalnum()
    )
    rule_files = "".join(f'  - "{_quoted(Path(p))}"\n' for p in options.rule_files)
    yes_no = {True: "yes", False: "no"}
    text = Template(template_text()).substitute(
        home_net="[" + ",".join(nets) + "]",
        log_dir=_quoted(layout.log_dir),
        rule_dir=_quoted(layout.rule_dir),
        rule_files=rule_files.rstrip("\n"),
        classification_file=_quoted(layout.classification),
        reference_file=_quoted(layout.reference),
        threshold_file=_quoted(layout.threshold),
        extra_eve_types=eve_types.rstrip("\n"),
        unix_enabled=yes_no[options.unix_socket],
        socket=_quoted(layout.socket),
        pid_file=_quoted(layout.pid_file),
        nfq_fail_open=yes_no[options.nfq_fail_open],
        checksum_validation=yes_no[options.checksum_validation],
        midstream=str(options.midstream).lower(),
        exception_policy=options.exception_policy,
        stats_enabled=yes_no[options.stats],
        af_packet=_af_packet(options),
    )
    return text
