"""``.trivyignore``: the IDs a team already ignores in trivy, read beside ``.shieldwallignore.yaml``.

The format, as trivy documents it::

    # Accept the risk
    CVE-2018-14618

    # Accept the risk until 2023-01-01
    CVE-2019-14697 exp:2023-01-01

    # secrets and misconfigurations by rule ID
    generic-unwanted-rule
    AVD-DS-0002

One ID per line, ``#`` starts a comment, ``exp:YYYY-MM-DD`` after the ID sets
the last day it applies. Each line becomes an exception like those of
``.shieldwallignore.yaml`` (matching the rule ID or an alias), so a
suppressed finding names ``.trivyignore:LINE`` as its reason, an expired
entry stops suppressing with a warning, and an entry that matches nothing is
reported.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from shieldwall.config.load import git_root
from shieldwall.errors import ConfigError
from shieldwall.policy.exceptions import ExceptionRule

TRIVYIGNORE_NAME = ".trivyignore"
MAX_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 10_000
NO_EXPIRY = dt.date(9999, 12, 31)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*\Z")


def find_trivyignore(cwd: Path | None = None) -> Path | None:
    """``.trivyignore`` in the working directory, else at the git root (where trivy users keep it)."""
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, git_root(start)):
        if directory is not None and (directory / TRIVYIGNORE_NAME).is_file():
            return directory / TRIVYIGNORE_NAME
    return None


def parse_trivyignore(text: str, where: str) -> tuple[ExceptionRule, ...]:
    """Parse the file's text; a malformed line or date is a ``ConfigError`` naming ``where:LINE``."""
    rules: list[ExceptionRule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        ident, options = fields[0], fields[1:]
        if not _ID.match(ident):
            raise ConfigError(f"{where}:{number}: {ident!r} is not a vulnerability or rule ID")
        expires = NO_EXPIRY
        for option in options:
            key, _, value = option.partition(":")
            if key != "exp" or not value:
                raise ConfigError(f"{where}:{number}: unknown option {option!r} (expected exp:YYYY-MM-DD)")
            try:
                expires = dt.date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"{where}:{number}: {value!r} is not a date (YYYY-MM-DD)") from None
        rules.append(
            ExceptionRule(
                ids=(ident,),
                fingerprints=(),
                packages=(),
                paths=(),
                reason=f"listed in {where}" + (f" until {expires.isoformat()}" if expires != NO_EXPIRY else ""),
                by=where,
                expires=expires,
                where=f"{where}:{number}",
            )
        )
        if len(rules) > MAX_ENTRIES:
            raise ConfigError(f"{where}: more than {MAX_ENTRIES} entries")
    return tuple(rules)


def load_trivyignore(path: Path) -> tuple[ExceptionRule, ...]:
    """Read and parse ``path`` (bounded); errors name the file and line."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES} bytes")
    return parse_trivyignore(data.decode("utf-8", errors="replace"), str(path))
