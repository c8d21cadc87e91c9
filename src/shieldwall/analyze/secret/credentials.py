"""Credential-shaped values in commands and settings, found without a provider-specific rule.

Provider rules (AKIA..., ghp_...) catch tokens by their shape; passwords have
no shape. In an image config and in finding evidence a password shows up by
its context instead: ``DB_PASSWORD=...``, ``--password=...``, ``curl -u
user:pass``, ``https://user:pass@host``. These patterns find such values so
that they are reported (image config) and never printed (everywhere).
Placeholders (``$VAR``, ``${VAR}``, ``<password>``, ``changeme``...) are not
credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_KEYWORDS = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|auth[_-]?key|credentials?)"
)

_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?:^|(?<=[\s;&|'"(,{{]))               # start of a word
    (?P<key>-{{0,2}}[\w.-]*{_KEYWORDS}[\w.-]*) # a key that names a credential
    ["']?\s*[=:]\s*
    (?P<quote>["']?)(?P<value>[^\s"';|&,}}]{{4,}})""",
)
_FLAG_VALUE = re.compile(
    rf"(?i)(?:^|\s)(?P<key>--{_KEYWORDS}[\w-]*)\s+(?P<quote>[\"']?)(?P<value>[^\s\"'-][^\s\"']{{3,}})"
)
_USER_OPTION = re.compile(
    r"(?:^|\s)(?P<key>-u|--user|--proxy-user)(?:\s+|=)(?P<quote>[\"']?)[^\s:\"']+:(?P<value>[^\s\"']{3,})"
)
_URL_USERINFO = re.compile(r"(?i)(?P<key>[a-z][a-z0-9+.-]*://[^\s/:@]+):(?P<value>[^\s/@]{3,})@")

_PLACEHOLDERS = frozenset(
    {"changeme", "change_me", "password", "passwd", "secret", "token", "example", "xxxx", "xxxxx", "none",
     "null", "true", "false", "redacted", "dummy", "test", "required", "optional"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CredentialValue:
    """A credential-shaped value and the key (or option) that names it."""

    key: str
    value: str


_NOT_A_VALUE_KEY = re.compile(
    r"(?i)[_.-](?:url|uri|file|path|dir|host|port|user|username|name|type|endpoint|header|length|expiry|ttl|"
    r"min|max|enabled|id|format|algorithm|method|policy|location|server|realm|issuer|audience|scope)$"
)
_URL = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://")


def _placeholder(value: str) -> bool:
    lowered = value.lower().strip("\"'")
    if lowered.startswith(("$", "<", "{", "%", "*")) or "****" in lowered:
        return True
    return lowered in _PLACEHOLDERS or set(lowered) <= {"x", "*", "-", "."}


def credential_values(text: str) -> Iterator[CredentialValue]:
    """Every credential-shaped value in ``text`` (placeholders left out), in order of appearance."""
    for pattern in (_ASSIGNMENT, _FLAG_VALUE, _USER_OPTION, _URL_USERINFO):
        for match in pattern.finditer(text):
            value = match.group("value")
            key = match.group("key")
            if pattern is not _URL_USERINFO and (_NOT_A_VALUE_KEY.search(key) or _URL.match(value)):
                continue
            if not _placeholder(value):
                yield CredentialValue(key, value)
