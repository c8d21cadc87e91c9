"""Import a gitleaks-format TOML rule file (``[[rules]]`` and ``[allowlist]``).

Go's RE2 and Python's ``re`` differ in a few places this converter handles:
flags switched on in the middle of a pattern (``a(?i)b|c`` becomes
``a(?i:b)|(?i:c)``, since Python only accepts global flags at the start),
``\\z`` (``\\Z`` in Python), POSIX classes (``[[:alnum:]]``) and ``\\Q...\\E``
quoting. A rule that still cannot be used (no regex, a Unicode class, a
pattern Python rejects) is reported as a warning and skipped, never a
failure of the whole import.
"""

from __future__ import annotations

import re
import tomllib
import warnings as pywarnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.analyze.secret.rules import Allowlist, Rule, RuleSpec, compile_rule
from shieldwall.errors import ConfigError
from shieldwall.model import Severity

_POSIX = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "xdigit": "0-9A-Fa-f",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
    "blank": r" \t",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}
_FLAG_GROUP = re.compile(r"\(\?([imsU]+)\)")


@dataclass
class GitleaksImport:
    """What an import produced: rules, the global allowlist, and per-rule warnings."""

    rules: list[Rule] = field(default_factory=list)
    allowlist: Allowlist = field(default_factory=Allowlist)
    warnings: list[str] = field(default_factory=list)


def _posix_classes(pattern: str) -> str:
    pattern = re.sub(r"\[\[:(\w+):\]\]", lambda m: f"[{_POSIX.get(m.group(1), m.group(0))}]", pattern)
    return re.sub(r"\[:(\w+):\]", lambda m: _POSIX.get(m.group(1), m.group(0)), pattern)


def _quote_literals(pattern: str) -> str:
    return re.sub(r"\\Q(.*?)(?:\\E|$)", lambda m: re.escape(m.group(1)), pattern)


def _group_end(pattern: str, start: int) -> tuple[int, list[int]]:
    """From ``start`` (inside some group), the index of that group's closing paren and its top-level ``|``s."""
    depth = 0
    bars: list[int] = []
    i = start
    in_class = False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return i, bars
            depth -= 1
        elif char == "|" and depth == 0:
            bars.append(i)
        i += 1
    return len(pattern), bars


def _scope_inline_flags(pattern: str) -> str:
    """Turn every non-leading ``(?flags)`` into scoped groups covering the rest of its group."""
    while True:
        match = None
        for candidate in _FLAG_GROUP.finditer(pattern):
            if candidate.start() != 0:
                match = candidate
                break
        if match is None:
            return pattern
        flags = match.group(1).replace("U", "")
        rest_start = match.end()
        end, bars = _group_end(pattern, rest_start)
        cuts = [rest_start, *[b + 1 for b in bars]]
        stops = [*bars, end]
        pieces = []
        for cut, stop in zip(cuts, stops, strict=True):
            body = pattern[cut:stop]
            pieces.append(f"(?{flags}:{body})" if flags else body)
        pattern = pattern[: match.start()] + "|".join(pieces) + pattern[end:]


def convert_go_regex(pattern: str) -> str:
    """A Python ``re`` equivalent of an RE2 pattern (raises ``ValueError`` when there is none)."""
    if re.search(r"\\[pP]\{?\w", pattern):
        raise ValueError("Unicode character classes (\\p) are not supported")
    converted = _quote_literals(pattern)
    converted = _posix_classes(converted)
    converted = converted.replace(r"\z", r"\Z")
    leading = _FLAG_GROUP.match(converted)
    if leading and "U" in leading.group(1):
        raise ValueError("the ungreedy flag (?U) has no Python equivalent")
    converted = _scope_inline_flags(converted)
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore", FutureWarning)
            re.compile(converted.encode())
    except re.error as exc:
        raise ValueError(f"Python rejects the converted pattern: {exc}") from None
    return converted


def _literal_keywords(pattern: str) -> list[str]:
    """Fallback keywords for a rule that lists none: its longest plain literal run."""
    runs = re.findall(r"(?<!\\)[A-Za-z0-9_~-]{3,}", re.sub(r"\[[^\]]*\]|\{[^}]*\}|\(\?[a-zA-Z-]*:?", " ", pattern))
    runs.sort(key=len, reverse=True)
    return [runs[0].lower()] if runs else []


def _compile_list(patterns: list[Any], what: str, problems: list[str]) -> list[str]:
    out: list[str] = []
    for raw in patterns:
        try:
            out.append(convert_go_regex(str(raw)))
        except ValueError as exc:
            problems.append(f"{what} {raw!r}: {exc}")
    return out


def import_gitleaks(path: Path, *, severity: Severity = Severity.HIGH, prefix: str = "gitleaks.") -> GitleaksImport:
    """Convert a gitleaks TOML file; unreadable files raise ``ConfigError``, bad rules become warnings."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable gitleaks TOML file ({exc})") from None
    result = GitleaksImport()
    source = path.name
    global_allow = doc.get("allowlist") or {}
    allow_lists = [global_allow, *(doc.get("allowlists") or [])]
    paths: list[str] = []
    regexes: list[str] = []
    stopwords: list[str] = []
    for entry in allow_lists:
        if not isinstance(entry, dict):
            continue
        problems: list[str] = []
        paths += _compile_list(list(entry.get("paths") or []), "allowlist path", problems)
        regexes += _compile_list(list(entry.get("regexes") or []), "allowlist regex", problems)
        stopwords += [str(w).lower() for w in entry.get("stopwords") or []]
        result.warnings += [f"{source}: {p}" for p in problems]
    result.allowlist = Allowlist(
        tuple(re.compile(p) for p in paths),
        tuple(re.compile(p) for p in regexes),
        tuple(dict.fromkeys(stopwords)),
    )
    for raw in doc.get("rules") or []:
        rule, problems = _convert_rule(raw, source, severity, prefix)
        result.warnings += problems
        if rule is not None:
            result.rules.append(rule)
    return result


def _convert_rule(raw: Any, source: str, severity: Severity, prefix: str) -> tuple[Rule | None, list[str]]:
    problems: list[str] = []
    if not isinstance(raw, dict) or not raw.get("id"):
        return None, [f"{source}: a rule without an id was skipped"]
    rule_id = str(raw["id"])
    where = f"{source}: rule {rule_id}"
    if not raw.get("regex"):
        return None, [f"{where}: path-only rules (no regex) are not imported"]
    try:
        regex = convert_go_regex(str(raw["regex"]))
    except ValueError as exc:
        return None, [f"{where}: {exc}"]
    keywords = [str(k).lower() for k in raw.get("keywords") or [] if len(str(k)) >= 2]
    if not keywords:
        keywords = _literal_keywords(regex)
        if not keywords:
            return None, [f"{where}: no keywords and no literal to prefilter on"]
    allow: list[str] = []
    allow_match: list[str] = []
    rule_stopwords: list[str] = []
    blocks = list(raw.get("allowlists") or []) + ([raw["allowlist"]] if isinstance(raw.get("allowlist"), dict) else [])
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if str(block.get("condition", "OR")).upper() == "AND":
            problems.append(f"{where}: an AND allowlist is applied as OR")
        if block.get("paths") or block.get("commits"):
            problems.append(f"{where}: allowlist paths/commits are not imported")
        target = str(block.get("regexTarget", "secret"))
        converted = _compile_list(list(block.get("regexes") or []), f"{where}: allowlist regex", problems)
        if target == "secret":
            allow += converted
        else:
            if target == "line":
                problems.append(f"{where}: a line-target allowlist is applied to the match")
            allow_match += converted
        rule_stopwords += [str(w).lower() for w in block.get("stopwords") or []]
    paths: list[str] = []
    if raw.get("path"):
        paths = _compile_list([raw["path"]], f"{where}: path", problems)
    group = raw.get("secretGroup")
    spec_raw: dict[str, Any] = {
        "id": f"{prefix}{rule_id}".lower(),
        "title": str(raw.get("description") or rule_id)[:200],
        "severity": severity,
        "keywords": keywords,
        "regex": regex,
        "secret_group": int(group) if group else -1,
        "entropy": raw.get("entropy"),
        "allow": allow,
        "allow_match": allow_match,
        "stopwords": rule_stopwords,
        "paths": paths,
        "multiline": bool(re.search(r"\\[rn]|\\s|\[\\s", regex)),
    }
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore", FutureWarning)
            spec = RuleSpec.model_validate(spec_raw)
            rule = compile_rule(spec, source)
    except Exception as exc:  # pydantic or re errors: this one rule is skipped with the reason
        return None, [*problems, f"{where}: {exc}".splitlines()[0]]
    return rule, problems
