"""One pass over the bytes for all rules: a multi-pattern prefilter, then confirmation.

The prefilter finds *where* a rule may match. With Hyperscan every rule's
own regex is compiled in prefilter mode (a superset of the rule's matches,
so nothing is lost) into one block-mode database; a rule Hyperscan cannot
take falls back to its keywords as case-insensitive literals. Without
Hyperscan (``prefilter="python"`` or the package missing), one alternation
of every keyword, built as a trie, runs over the lower-cased bytes.

Each hit is then confirmed by the rule's Python regex on the line(s) around
it (a window of a few KiB for multi-line rules such as PEM blocks), and the
secret passes the filters: length, entropy floor, the rule's allowlist, the
global allowlist (placeholders, variable references, documented example
keys) and, for generic rules, stop-words. A match holds the secret bytes in
memory only; callers redact and fingerprint it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shieldwall.analyze.secret.rules import Allowlist, Rule

PrefilterKind = Literal["auto", "hyperscan", "python"]

BINARY_SNIFF_BYTES = 8192
_WINDOW_BACK_LINES = 1
_MULTILINE_WINDOW = 64 * 1024

try:  # optional accelerator
    import hyperscan as _hs

    HAVE_HYPERSCAN = True
except ImportError:  # pragma: no cover - exercised by forcing prefilter="python"
    _hs = None
    HAVE_HYPERSCAN = False


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One confirmed secret: the rule, where it is, and the secret bytes (never printed)."""

    rule: Rule
    start: int
    end: int
    line: int
    column: int
    end_line: int
    secret: bytes = field(repr=False)


def shannon_entropy(data: bytes) -> float:
    """Bits per symbol of ``data`` (0 for empty input)."""
    if not data:
        return 0.0
    total = len(data)
    return -sum((n / total) * math.log2(n / total) for n in Counter(data).values())


_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_WORDISH = re.compile(rb"[a-z]{4,}|[A-Z][a-z]{3,}|[A-Z]{5,}")


def looks_like_words(secret: bytes) -> bool:
    """True when most of ``secret`` is runs of dictionary-like letters (an identifier, not a key).

    Random tokens mix cases chaotically, so runs of all-lower, Capitalised or
    all-upper letters rarely cover half of them; identifiers such as
    ``refresh_token_expired_v2`` are almost nothing else.
    """
    if not secret:
        return True
    covered = sum(len(m) for m in _WORDISH.findall(secret))
    return covered * 2 > len(secret)


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB marks a file as binary."""
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


class _Prefilter:
    """Returns (rule index, end offset) hits; each implementation is one pass over the bytes."""

    kind: str = ""

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        raise NotImplementedError


def _trie_regex(words: Iterable[str]) -> str:
    """An alternation of literals as a trie, so ``re`` never retries shared prefixes."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?"
        return body

    return build(trie)


class _PythonPrefilter(_Prefilter):
    """Keyword search with one trie alternation over the lower-cased bytes."""

    kind = "python"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.by_keyword: dict[bytes, list[int]] = {}
        for index, rule in enumerate(rules):
            for word in rule.keywords:
                self.by_keyword.setdefault(word.encode(), []).append(index)
        words = sorted({w.decode() for w in self.by_keyword}, key=len, reverse=True)
        self.pattern = re.compile(_trie_regex(words).encode()) if words else None

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        if self.pattern is None:
            return []
        lowered = data.lower()
        out: list[tuple[int, int]] = []
        by_keyword = self.by_keyword
        for match in self.pattern.finditer(lowered):
            end = match.end()
            for index in by_keyword.get(match.group(), ()):
                out.append((index, end))
        return out


class _HyperscanPrefilter(_Prefilter):
    """Every rule's regex in Hyperscan prefilter mode; keywords for the rules it cannot compile."""

    kind = "hyperscan"

    def __init__(self, rules: Sequence[Rule]) -> None:
        assert _hs is not None
        self.fallback_rules: list[str] = []
        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        self.literal_owner: dict[int, list[int]] = {}
        for index, rule in enumerate(rules):
            if self._compiles(rule.pattern.pattern):
                expressions.append(rule.pattern.pattern)
                ids.append(index)
                flags.append(_hs.HS_FLAG_PREFILTER | (_hs.HS_FLAG_DOTALL if rule.multiline else 0))
            else:
                self.fallback_rules.append(rule.id)
                for word in rule.keywords:
                    self.literal_owner.setdefault(len(self.literal_owner), []).append(index)
                    key = len(rules) + len(self.literal_owner) - 1
                    expressions.append(re.escape(word).encode())
                    ids.append(key)
                    flags.append(_hs.HS_FLAG_CASELESS)
        self.offset = len(rules)
        self.db: Any = None
        if expressions:
            self.db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            self.db.compile(expressions=expressions, ids=ids, flags=flags)

    @staticmethod
    def _compiles(pattern: bytes) -> bool:
        assert _hs is not None
        try:
            db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            db.compile(expressions=[pattern], ids=[0], flags=[_hs.HS_FLAG_PREFILTER])
        except Exception:  # hyperscan raises its own error types for unsupported or too-large patterns
            return False
        return True

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        if self.db is None or not data:
            return []
        out: list[tuple[int, int]] = []
        append = out.append

        def on_match(pid: int, start: int, end: int, flags: int, context: object) -> None:
            append((pid, end))

        self.db.scan(data, match_event_handler=on_match)
        if not self.literal_owner:
            return out
        resolved: list[tuple[int, int]] = []
        for pid, end in out:
            if pid < self.offset:
                resolved.append((pid, end))
            else:
                resolved.extend((owner, end) for owner in self.literal_owner[pid - self.offset])
        return resolved


def _make_prefilter(rules: Sequence[Rule], kind: PrefilterKind) -> _Prefilter:
    if kind == "hyperscan" and not HAVE_HYPERSCAN:
        raise RuntimeError("the hyperscan package is not installed")
    if kind in ("auto", "hyperscan") and HAVE_HYPERSCAN:
        return _HyperscanPrefilter(rules)
    return _PythonPrefilter(rules)


_SecretFilter = Callable[[Rule, bytes], bool]


class SecretEngine:
    """Finds secrets in bytes with a fixed rule set and allowlist (thread-safe for reads)."""

    def __init__(self, rules: Sequence[Rule], allowlist: Allowlist, *, prefilter: PrefilterKind = "auto") -> None:
        self.rules = list(rules)
        self.allowlist = allowlist
        self.text_prefilter = _make_prefilter(self.rules, prefilter)
        self.binary_rules = [r for r in self.rules if r.binary]
        self.binary_prefilter = _make_prefilter(self.binary_rules, prefilter)
        self._examples = frozenset(e.encode() for e in allowlist.examples)
        self._stopwords = tuple(w.encode() for w in allowlist.stopwords)
        self._allow_regexes = tuple(re.compile(p.pattern.encode(), p.flags & re.IGNORECASE) for p in allowlist.regexes)

    @property
    def prefilter_kind(self) -> str:
        """``hyperscan`` or ``python``: which prefilter this engine uses."""
        return self.text_prefilter.kind

    @property
    def unaccelerated_rules(self) -> list[str]:
        """Rules Hyperscan could not compile (prefiltered by their keywords instead)."""
        pf = self.text_prefilter
        return list(pf.fallback_rules) if isinstance(pf, _HyperscanPrefilter) else []

    def scan(self, data: bytes, path: str = "", *, binary: bool | None = None) -> list[SecretMatch]:
        """Every confirmed secret in ``data`` (a file's bytes), in order of position."""
        if binary is None:
            binary = is_binary(data)
        rules = self.binary_rules if binary else self.rules
        prefilter = self.binary_prefilter if binary else self.text_prefilter
        hits = prefilter.hits(data)
        if not hits:
            return []
        covered: dict[int, int] = {}  # rule index -> end of the last window confirmed
        seen: set[tuple[int, int]] = set()
        found: list[tuple[int, int, Rule, bytes]] = []
        size = len(data)
        for index, end in hits:
            if covered.get(index, -1) >= end:
                continue
            rule = rules[index]
            if path and rule.paths and not rule.applies_to(path):
                covered[index] = size
                continue
            anchor = max(end - 1, 0)
            if rule.multiline:
                anchor = min(end + _MULTILINE_WINDOW, size)
            line_end = data.find(b"\n", anchor)
            if line_end < 0:
                line_end = size
            if rule.multiline:
                start = data.rfind(b"\n", 0, max(end - _MULTILINE_WINDOW, 0)) + 1
            else:
                start = data.rfind(b"\n", 0, anchor) + 1
                for _ in range(_WINDOW_BACK_LINES):
                    if start > 0:
                        start = data.rfind(b"\n", 0, start - 1) + 1
            covered[index] = line_end
            for match in rule.pattern.finditer(data, start, line_end):
                group = rule.secret_group
                secret = match.group(group)
                if not secret:
                    continue
                key = (index, match.start(group))
                if key in seen:
                    continue
                seen.add(key)
                if self._keep(rule, secret):
                    found.append((match.start(group), match.end(group), rule, secret))
        return self._locate(data, _drop_shadowed(found))

    def _keep(self, rule: Rule, secret: bytes) -> bool:
        if len(secret) < rule.min_length:
            return False
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return False
        if secret in self._examples:
            return False
        text = secret.decode("utf-8", errors="replace")
        if any(p.search(text) for p in rule.allow):
            return False
        if any(p.search(secret) for p in self._allow_regexes):
            return False
        if rule.generic:
            if _UUID.fullmatch(secret):
                return False
            lowered = secret.lower()
            if any(word in lowered for word in self._stopwords):
                return False
        return not (rule.random and looks_like_words(secret))

    @staticmethod
    def _locate(data: bytes, found: list[tuple[int, int, Rule, bytes]]) -> list[SecretMatch]:
        out: list[SecretMatch] = []
        line = 1
        position = 0
        for start, end, rule, secret in found:
            line += data.count(b"\n", position, start)
            position = start
            line_start = data.rfind(b"\n", 0, start) + 1
            column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
            end_line = line + data.count(b"\n", start, end)
            out.append(SecretMatch(rule, start, end, line, column, end_line, secret))
        return out


def _drop_shadowed(found: list[tuple[int, int, Rule, bytes]]) -> list[tuple[int, int, Rule, bytes]]:
    """Sort by position; a generic rule's match that overlaps a specific rule's match is dropped."""
    found.sort(key=lambda item: (item[0], item[2].generic, -item[1]))
    specific = [(s, e) for s, e, rule, _ in found if not rule.generic]
    out: list[tuple[int, int, Rule, bytes]] = []
    taken: list[tuple[int, int]] = []
    for start, end, rule, secret in found:
        if rule.generic and any(s < end and start < e for s, e in specific):
            continue
        if rule.generic and any(s < end and start < e for s, e in taken):
            continue
        out.append((start, end, rule, secret))
        if rule.generic:
            taken.append((start, end))
    return out
