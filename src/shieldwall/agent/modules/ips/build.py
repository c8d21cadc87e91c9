"""Turn a validated policy into a configuration tree and check it with ``suricata -T``.

``build`` writes everything into the staging tree and validates it there; only
a configuration Suricata accepted is then written into the live tree
(``promote``), file by file with atomic renames. A refused configuration never
touches the live tree.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.ips import reputation
from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.config import ConfigError, ConfigOptions, render
from shieldwall.agent.modules.ips.layout import Layout
from shieldwall.agent.modules.ips.policy import Failure, IpsPolicy, Mode
from shieldwall.agent.modules.ips.ruleset import Ruleset, RulesetError, assemble
from shieldwall.agent.modules.ips.sources import RuleIndex, directory_index, pack_index
from shieldwall.agent.modules.ips.validate import validate
from shieldwall.model.finding import Severity


@dataclass(frozen=True, slots=True)
class Built:
    """A validated configuration: file contents plus what they contain."""

    policy: IpsPolicy
    ruleset: Ruleset
    reputation_rules: tuple[str, ...]
    reputation_stats: Mapping[str, int]
    classification: str
    reference: str
    options: ConfigOptions
    loaded: str

    def cves_by_sid(self) -> dict[int, tuple[str, ...]]:
        """CVE references Shieldwall read from the selected rules."""
        return {r.rule.sid: r.rule.cves for r in self.ruleset.rules if r.rule.cves}


def _read_small(path: Path, limit: int = 1024 * 1024) -> str:
    if path.stat().st_size > limit:
        raise PolicyError(f"{path} is larger than {limit} bytes")
    return path.read_text(encoding="utf-8", errors="replace")


def sources(settings: Mapping[str, Any]) -> tuple[RuleIndex | None, RuleIndex]:
    """The ET Open index (when the agent has a copy) and Shieldwall's pack."""
    et_dir = settings.get("et_open_dir")
    et = directory_index(Path(str(et_dir))) if et_dir else None
    return et, pack_index()


def reputation_entries(policy: IpsPolicy, settings: Mapping[str, Any]) -> tuple[list[str], dict[str, int]]:
    """Rules and counters for the policy's reputation section."""
    rep = policy.reputation
    if rep is None:
        return [], {}
    parsed = reputation.ParsedList()
    base = settings.get("reputation_dir")
    for spec in rep.lists:
        name = spec.name
        if "/" in name or name.startswith(".") or not base:
            raise PolicyError(f"reputation list {name!r} is not a file name in the agent's reputation_dir")
        try:
            reputation.read_list(Path(str(base)) / name, parsed, spec.category, Severity(spec.severity))
        except (OSError, reputation.ListError) as exc:
            raise PolicyError(f"reputation list {name}: {exc}") from exc
    reputation.parse_lines(rep.entries, "policy", parsed)
    kept = reputation.apply_allow(parsed.entries, rep.allow)
    rules = reputation.build_rules(kept, rep.mode)
    stats = {
        "reputation_entries": len(kept),
        "reputation_allowed": len(parsed.entries) - len(kept),
        "reputation_rejected": parsed.rejected,
        "reputation_skipped_ip": parsed.skipped_ip,
        "reputation_truncated": int(parsed.truncated),
    }
    return rules, stats


def af_packet_setup(policy: IpsPolicy, settings: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """AF_PACKET interfaces and copy mode for ``capture: af-packet`` (nothing for other captures).

    Two interfaces are bridged by Suricata in ``ips`` copy mode in both modes
    (Detect differs only in its rules, all rewritten to ``alert``, exactly as
    on NFQUEUE; ``tap`` copy mode put the engine in IDS stream mode, where
    these tests saw no alerts). Such a bridge only forwards while Suricata
    runs, so it cannot fail open: ``failure: open`` is refused. One interface
    is a passive IDS tap and cannot Prevent.
    """
    if str(settings.get("capture", "nfqueue")) != "af-packet":
        return (), ""
    raw = settings.get("af_packet_interfaces") or ()
    ifaces = tuple(str(i) for i in raw) if isinstance(raw, (list, tuple)) else ()
    if len(ifaces) == 2:
        if policy.failure == Failure.OPEN:
            raise PolicyError(
                "ips: an AF_PACKET bridge forwards only while Suricata runs and cannot fail open; "
                "use failure: closed or capture: nfqueue"
            )
        return ifaces, "ips"
    if len(ifaces) == 1:
        if policy.mode == Mode.PREVENT:
            raise PolicyError("ips: Prevent with AF_PACKET needs two interfaces (one is a passive tap)")
        return ifaces, ""
    raise PolicyError("ips: capture af-packet needs af_packet_interfaces (one or two interface names)")


def build(
    policy: IpsPolicy,
    settings: Mapping[str, Any],
    tools: Tools,
    staging: Layout,
    live: Layout,
) -> Built:
    """Assemble, render into ``staging`` and validate; raise ``PolicyError`` with Suricata's errors."""
    try:
        et, pack = sources(settings)
        ruleset = assemble(policy, et, pack)
    except (RulesetError, OSError, ValueError) as exc:
        raise PolicyError(f"ips rules: {exc}") from exc
    rep_rules, rep_stats = reputation_entries(policy, settings)
    cls_setting = settings.get("classification_file")
    if cls_setting:
        classification = _read_small(Path(str(cls_setting)))
    elif et is not None and et.classification:
        classification = et.classification
    else:
        classification = _read_small(Path("/etc/suricata/classification.config"))
    reference = _read_small(Path(str(settings.get("reference_file", "/etc/suricata/reference.config"))))
    ifaces, copy_mode = af_packet_setup(policy, settings)
    options = ConfigOptions(
        home_net=policy.home_net,
        rule_files=(),
        unix_socket=True,
        nfq_fail_open=policy.failure == Failure.OPEN,
        checksum_validation=bool(settings.get("checksum_validation", False)),
        af_packet=ifaces,
        af_packet_copy_mode=copy_mode,
    )
    built = Built(
        policy=policy,
        ruleset=ruleset,
        reputation_rules=tuple(rep_rules),
        reputation_stats=rep_stats,
        classification=classification,
        reference=reference,
        options=options,
        loaded="",
    )
    if staging.base.exists():
        shutil.rmtree(staging.base)
    try:
        write(built, staging)
        # the staging copy validates exactly what the live copy will hold, but with its own paths
        render(live, _with_files(options, live))
    except ConfigError as exc:
        raise PolicyError(f"ips configuration: {exc}") from exc
    result = validate(tools, staging)
    if not result.ok:
        raise PolicyError(result.message())
    return Built(
        policy=built.policy,
        ruleset=built.ruleset,
        reputation_rules=built.reputation_rules,
        reputation_stats=built.reputation_stats,
        classification=built.classification,
        reference=built.reference,
        options=built.options,
        loaded=result.loaded,
    )


def _with_files(options: ConfigOptions, layout: Layout) -> ConfigOptions:
    return ConfigOptions(
        home_net=options.home_net,
        rule_files=(str(layout.active_rules), str(layout.reputation_rules)),
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


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write(built: Built, layout: Layout) -> str:
    """Write ``built`` into ``layout`` (rules first, the YAML last); returns the YAML text."""
    layout.make()
    _atomic_write(layout.active_rules, built.ruleset.text())
    _atomic_write(layout.reputation_rules, "".join(r + "\n" for r in built.reputation_rules))
    _atomic_write(layout.classification, built.classification)
    _atomic_write(layout.reference, built.reference)
    if not layout.threshold.exists():
        _atomic_write(layout.threshold, "")
    text = render(layout, _with_files(built.options, layout))
    _atomic_write(layout.config, text)
    return text


def live_config_text(layout: Layout) -> str:
    """The live YAML (empty when none was written yet)."""
    try:
        return layout.config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
