"""Suricata rule text: the few facts Shieldwall reads from a rule, and the action rewrite.

Rules are parsed only as far as Shieldwall needs them (action, sid, msg, CVE
references from ``metadata`` and ``reference``); Suricata itself is the
authority on whether a rule is valid (``suricata -T``). Rule files are
untrusted text: lines and files are bounded, and a line that does not look like
a rule is counted, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_RULE_LINE = 64 * 1024
"""Longer lines are refused (the longest ET Open rule is about 4 KiB)."""

MAX_RULE_FILE = 64 * 1024 * 1024

ACTIONS = ("alert", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth", "pass")

_RULE_RE = re.compile(r"^\s*(#\s*)?(" + "|".join(ACTIONS) + r")\s+\S+\s+.*\(.*\)\s*$", re.DOTALL)
_SID_RE = re.compile(r"(?:^|[;(\s])sid\s*:\s*(\d{1,10})\s*;")
_MSG_RE = re.compile(r'(?:^|[;(\s])msg\s*:\s*"((?:[^"\\]|\\.)*)"\s*;')
_CVE_META_RE = re.compile(r"\bcve\s+(CVE[_-]\d{4}[_-]\d{4,7})", re.IGNORECASE)
_CVE_REF_RE = re.compile(r"reference\s*:\s*cve\s*,\s*(?:CVE-)?(\d{4}-\d{4,7})\s*;", re.IGNORECASE)
_CVE_ANY_RE = re.compile(r"\bCVE[_-](\d{4})[_-](\d{4,7})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule line with the fields Shieldwall uses."""

    sid: int
    action: str
    msg: str
    cves: tuple[str, ...]
    enabled: bool
    text: str
    """The rule line without a leading comment marker."""
    source: str = ""
    """Where it came from (a file name or pack name)."""

    @property
    def category(self) -> str:
        """The ET category of the rule's file (``emerging-exploit.rules`` -> ``exploit``)."""
        name = Path(self.source).name
        if name.startswith("emerging-") and name.endswith(".rules"):
            return name[len("emerging-") : -len(".rules")]
        return name.removesuffix(".rules")


def normalise_cve(raw: str) -> str:
    """``cve_2021_44228`` / ``CVE-2021-44228`` / ``2021-44228`` -> ``CVE-2021-44228``."""
    digits = re.findall(r"\d+", raw)
    if len(digits) < 2:
        return raw.upper()
    return f"CVE-{digits[0]}-{digits[1]}"


def rule_cves(text: str) -> tuple[str, ...]:
    """CVE IDs named by a rule's ``metadata: cve ...`` and ``reference: cve,...`` options."""
    found: list[str] = []
    for m in _CVE_META_RE.finditer(text):
        found.append(normalise_cve(m.group(1)))
    for m in _CVE_REF_RE.finditer(text):
        found.append(normalise_cve(m.group(1)))
    return tuple(dict.fromkeys(found))


def parse_rule(line: str, source: str = "") -> Rule | None:
    """A ``Rule`` when ``line`` is a (possibly commented-out) rule with a sid, else None."""
    if len(line) > MAX_RULE_LINE:
        return None
    m = _RULE_RE.match(line)
    if not m:
        return None
    sid = _SID_RE.search(line)
    if not sid:
        return None
    enabled = m.group(1) is None
    text = line.strip()
    if not enabled:
        text = text.lstrip("#").lstrip()
    msg = _MSG_RE.search(text)
    return Rule(
        sid=int(sid.group(1)),
        action=m.group(2),
        msg=msg.group(1) if msg else "",
        cves=rule_cves(text),
        enabled=enabled,
        text=text,
        source=source,
    )


def parse_rules(lines: Iterable[str], source: str = "") -> Iterator[Rule]:
    """Every rule in ``lines`` (comments and blank lines skipped)."""
    for line in lines:
        rule = parse_rule(line.rstrip("\n"), source)
        if rule is not None:
            yield rule


def read_rule_file(path: Path) -> list[Rule]:
    """The rules of one file, bounded in size."""
    if path.stat().st_size > MAX_RULE_FILE:
        raise ValueError(f"{path.name}: rule file larger than {MAX_RULE_FILE} bytes")
    with path.open(encoding="utf-8", errors="replace") as fh:
        return list(parse_rules(fh, source=path.name))


def with_action(rule_text: str, action: str) -> str:
    """``rule_text`` with its leading action replaced (``alert`` <-> ``drop``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown rule action {action!r}")
    head, sep, rest = rule_text.lstrip().partition(" ")
    if head not in ACTIONS or not sep:
        raise ValueError("not a rule line")
    return f"{action} {rest}"
