"""Offline replay: ``suricata -r PCAP`` with a Shieldwall-generated configuration.

Used by the tests (known answers for the rule pack and the eve reader) and by
the suricata-verify runner; it is the same template and rule assembly the
running module uses, with the unix socket off and the output in a private
directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.config import ConfigOptions, render
from shieldwall.agent.modules.ips.layout import Layout

REPLAY_TIMEOUT = 120.0
MAX_EVE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Suricata's exit status, its eve records and the error lines of its log."""

    returncode: int
    events: tuple[dict[str, Any], ...]
    errors: tuple[str, ...]

    def alerts(self) -> list[dict[str, Any]]:
        """The alert records."""
        return [e for e in self.events if e.get("event_type") == "alert"]

    def sids(self) -> list[int]:
        """The signature IDs of the alerts, in order."""
        return [int(e["alert"]["signature_id"]) for e in self.alerts()]


def prepare(
    layout: Layout,
    rules_text: str,
    options: ConfigOptions,
    classification: Path | None = None,
    reference: Path | None = None,
) -> None:
    """Write a configuration tree: ``suricata.yaml``, the rule file, classification and reference."""
    layout.make()
    layout.active_rules.write_text(rules_text, encoding="utf-8")
    if not layout.reputation_rules.exists():
        layout.reputation_rules.write_text("", encoding="utf-8")
    shutil.copyfile(classification or Path("/etc/suricata/classification.config"), layout.classification)
    shutil.copyfile(reference or Path("/etc/suricata/reference.config"), layout.reference)
    layout.threshold.write_text("", encoding="utf-8")
    files = options.rule_files or (str(layout.active_rules), str(layout.reputation_rules))
    opts = ConfigOptions(
        home_net=options.home_net,
        rule_files=files,
        unix_socket=options.unix_socket,
        nfq_fail_open=options.nfq_fail_open,
        checksum_validation=options.checksum_validation,
        midstream=options.midstream,
        exception_policy=options.exception_policy,
        extra_eve_types=options.extra_eve_types,
        stats=options.stats,
        af_packet=options.af_packet,
        af_packet_copy_mode=options.af_packet_copy_mode,
    )
    layout.config.write_text(render(layout, opts), encoding="utf-8")


def read_eve(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of an eve file (bounded)."""
    if not path.exists():
        return []
    if path.stat().st_size > MAX_EVE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_EVE_BYTES} bytes")
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
    return out


def replay(
    tools: Tools,
    layout: Layout,
    pcap: Path,
    extra_args: Sequence[str] = (),
    rule_file: Path | None = None,
    timeout: float = REPLAY_TIMEOUT,
) -> ReplayResult:
    """Run ``suricata -r pcap`` on a prepared layout; ``rule_file`` replaces the configured rules (``-S``)."""
    if layout.eve.exists():
        layout.eve.unlink()
    log = layout.log_dir / "suricata.log"
    if log.exists():
        log.unlink()
    argv = [tools.suricata, "-c", str(layout.config), "-l", str(layout.log_dir), "-r", str(pcap), "--runmode=single"]
    if rule_file is not None:
        argv += ["-S", str(rule_file)]
    argv += list(extra_args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        code = proc.returncode
        stderr = proc.stderr
    except subprocess.TimeoutExpired:
        return ReplayResult(returncode=-1, events=(), errors=(f"suricata -r did not finish within {timeout:.0f} s",))
    errors: list[str] = [ln for ln in stderr.splitlines() if "Error" in ln][:20]
    if log.exists():
        with log.open(encoding="utf-8", errors="replace") as fh:
            errors += [ln.rstrip() for ln in fh if " Error: " in ln][:20]
    return ReplayResult(returncode=code, events=tuple(read_eve(layout.eve)), errors=tuple(errors))
