"""In-file suppressions: ``# shieldwall:ignore=ID[,ID...] reason``.

The comment may start with ``#`` (Dockerfile, YAML, HCL, shell-like configs)
or ``//`` (HCL). A suppressed finding is kept in the result with its reason;
it is never dropped. Which hits a comment covers is decided by the engine
(see ``engine.suppression_for``).
"""

from __future__ import annotations

import re

from shieldwall.misconfig.check import Suppression

_IGNORE = re.compile(r"(?:#|//)\s*shieldwall:ignore=([A-Za-z0-9_.*,-]+)[ \t]*(.*)$")
_QUIET = re.compile(r"^\s*(?:(?:#|//).*)?$")

NO_REASON = "no reason given"


def scan_lines(text: str) -> tuple[tuple[Suppression, ...], frozenset[int]]:
    """Return the suppressions of ``text`` and its blank or comment-only lines (1-based)."""
    found: list[Suppression] = []
    quiet: set[int] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if _QUIET.match(line):
            quiet.add(number)
        if "shieldwall:ignore" not in line:
            continue
        match = _IGNORE.search(line)
        if match is None:
            continue
        ids = frozenset(part.strip() for part in match.group(1).split(",") if part.strip())
        reason = match.group(2).strip() or NO_REASON
        found.append(Suppression(number, ids, reason))
    return tuple(found), frozenset(quiet)
