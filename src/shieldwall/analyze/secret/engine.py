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

import bisect
import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shieldwall.analyze.secret.rules import Allowlist, Rule

PrefilterKind = Literal["auto", "hyperscan", "python"]

BINARY_SNIFF_BYTES = 8192
_WINDOW_BACK_LINES = 1
_MULTILINE_WINDOW = 64 * 1024
_LINE_CAP = 16 * 1024
MAX_PREFILTER_HITS = 2_000_000
"""Candidate positions confirmed per file at most; a file past this is reported as cut short."""
MAX_MATCHES = 1_000
"""Confirmed secrets kept per file at most (a file of a million key-shaped strings is one warning, not 1 GB)."""


class Matches(list["SecretMatch"]):
    """The secrets found in one input; ``truncated`` says why the search stopped early ("" when it did not)."""

    truncated: str = ""


_hs: Any
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
_WORDISH = re.compile(rb"[a-z]{3,}|[A-Z][a-z]{2,}|[A-Z]{4,}")
_VOWELS = frozenset(b"aeiouyAEIOUY")


def looks_like_words(secret: bytes) -> bool:
    """True when most of ``secret`` is runs of word-like letters (an identifier, not a key).

    A run counts when it is all-lower, Capitalised or all-upper and about a
    third of it is vowels, as in English words; random tokens mix cases
    chaotically and are vowel-poor, so such runs rarely cover half of them,
    while identifiers like ``refresh_token_expired_v2`` are almost nothing else.
    """
    if not secret:
        return True
    covered = 0
    for run in _WORDISH.findall(secret):
        vowels = sum(1 for c in run if c in _VOWELS)
        if vowels * 4 >= len(run) and (len(run) >= 4 or vowels):
            covered += len(run)
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
    """Keyword search with one trie alternation over the lower-cased bytes.

    The alternation sits in a lookahead, so every position where a keyword
    starts is reported (keywords may overlap: ``_password`` holds ``passw``);
    a match also stands for every shorter keyword that is its prefix.
    """

    kind = "python"

    def __init__(self, rules: Sequence[Rule]) -> None:
        by_keyword: dict[bytes, set[int]] = {}
        for index, rule in enumerate(rules):
            for word in rule.keywords:
                by_keyword.setdefault(word.encode(), set()).add(index)
        self.owners: dict[bytes, list[int]] = {
            word: sorted({i for other, owners in by_keyword.items() if word.startswith(other) for i in owners})
            for word in by_keyword
        }
        words = sorted({w.decode() for w in by_keyword}, key=len, reverse=True)
        self.pattern = re.compile(b"(?=(" + _trie_regex(words).encode() + b"))") if words else None

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        if self.pattern is None:
            return []
        lowered = data.lower()
        out: list[tuple[int, int]] = []
        owners = self.owners
        for match in self.pattern.finditer(lowered):
            word = match.group(1)
            end = match.start() + len(word)
            for index in owners.get(word, ()):
                out.append((index, end))
            if len(out) > MAX_PREFILTER_HITS:
                break
        return out


class _HyperscanPrefilter(_Prefilter):
    """Every rule's regex in Hyperscan prefilter mode; keywords for the rules it cannot compile.

    Compiling a few hundred patterns takes seconds, so the serialised database
    is kept under ``cache_dir`` keyed by the patterns and the Hyperscan version.
    """

    kind = "hyperscan"

    def __init__(self, rules: Sequence[Rule], cache_dir: Path | None = None) -> None:
        assert _hs is not None
        self.rules = rules
        self.offset = len(rules)
        self.literal_owner: dict[int, list[int]] = {}
        self.fallback_rules: list[str] = []
        self.db: Any = None
        self._local = threading.local()
        if not rules:
            return
        entries = [
            (r.pattern.pattern, _hs.HS_FLAG_PREFILTER | (_hs.HS_FLAG_DOTALL if r.multiline else 0)) for r in rules
        ]
        digest = hashlib.sha256(repr((_HS_CACHE_FORMAT, _hs_version(), entries)).encode()).hexdigest()
        cached = _load_cached(cache_dir, digest)
        if cached is not None:
            fallback, self.db = cached
        else:
            fallback = self._compile(entries)
            _store_cached(cache_dir, digest, fallback, self.db)
        for index in fallback:
            self.fallback_rules.append(rules[index].id)
            for _ in rules[index].keywords:
                self.literal_owner[len(self.literal_owner)] = [index]

    def _compile(self, entries: list[tuple[bytes, int]]) -> list[int]:
        """Compile all patterns; on failure find the ones Hyperscan rejects and use their keywords."""
        try:
            self.db = self._build(entries, [])
        except Exception:  # hyperscan raises its own error types for unsupported or too-large patterns
            fallback = [i for i, (pattern, flags) in enumerate(entries) if not _hs_compiles(pattern, flags)]
            self.db = self._build(entries, fallback)
            return fallback
        return []

    def _build(self, entries: list[tuple[bytes, int]], fallback: list[int]) -> Any:
        assert _hs is not None
        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        literal = 0
        for index, (pattern, flag) in enumerate(entries):
            if index in fallback:
                for word in self.rules[index].keywords:
                    expressions.append(re.escape(word).encode())
                    ids.append(self.offset + literal)
                    flags.append(_hs.HS_FLAG_CASELESS)
                    literal += 1
            else:
                expressions.append(pattern)
                ids.append(index)
                flags.append(flag)
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        db.compile(expressions=expressions, ids=ids, flags=flags)
        return db

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        if self.db is None or not data:
            return []
        out: list[tuple[int, int]] = []
        append = out.append

        def on_match(pid: int, start: int, end: int, flags: int, context: object) -> bool:
            append((pid, end))
            return len(out) > MAX_PREFILTER_HITS  # True stops the scan: enough to report the file as cut short

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:  # one scratch space per thread: scans may run concurrently
            scratch = self._local.scratch = _hs.Scratch(self.db)
        with contextlib.suppress(_hs.ScanTerminated):  # on_match stopped it at MAX_PREFILTER_HITS
            self.db.scan(data, match_event_handler=on_match, scratch=scratch)
        if not self.literal_owner:
            return out
        resolved: list[tuple[int, int]] = []
        for pid, end in out:
            if pid < self.offset:
                resolved.append((pid, end))
            else:
                resolved.extend((owner, end) for owner in self.literal_owner[pid - self.offset])
        return resolved


_HS_CACHE_FORMAT = 1


def _hs_compiles(pattern: bytes, flags: int) -> bool:
    """True when Hyperscan accepts ``pattern`` on its own."""
    assert _hs is not None
    try:
        probe = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        probe.compile(expressions=[pattern], ids=[0], flags=[flags])
    except Exception:  # unsupported construct or pattern too large
        return False
    return True


def _hs_version() -> str:
    assert _hs is not None
    return str(getattr(_hs, "__version__", "")) + ":" + str(getattr(_hs.Database, "__module__", ""))


def _cache_file(cache_dir: Path, digest: str) -> Path:
    return cache_dir / "secret-prefilter" / f"{digest}.hsdb"


def _load_cached(cache_dir: Path | None, digest: str) -> tuple[list[int], Any] | None:
    """A serialised database from an earlier run, or None (absent, stale or unreadable)."""
    if cache_dir is None or _hs is None:
        return None
    try:
        raw = _cache_file(cache_dir, digest).read_bytes()
        header, _, blob = raw.partition(b"\n")
        fallback = [int(x) for x in json.loads(header)]
        db = _hs.loadb(blob, _hs.HS_MODE_BLOCK)
        db.scratch = _hs.Scratch(db)
        return fallback, db
    except Exception:  # a missing or corrupt cache entry is a miss, never an error
        return None


def _store_cached(cache_dir: Path | None, digest: str, fallback: list[int], db: Any) -> None:
    if cache_dir is None or _hs is None or db is None:
        return
    target = _cache_file(cache_dir, digest)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(fallback).encode() + b"\n" + bytes(_hs.dumpb(db)))
        os.replace(tmp, target)
    except OSError:
        return


def _make_prefilter(rules: Sequence[Rule], kind: PrefilterKind, cache_dir: Path | None = None) -> _Prefilter:
    if kind == "hyperscan" and not HAVE_HYPERSCAN:
        raise RuntimeError("the hyperscan package is not installed")
    if kind in ("auto", "hyperscan") and HAVE_HYPERSCAN:
        return _HyperscanPrefilter(rules, cache_dir)
    return _PythonPrefilter(rules)


_SecretFilter = Callable[[Rule, bytes], bool]


class SecretEngine:
    """Finds secrets in bytes with a fixed rule set and allowlist (thread-safe for reads)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        allowlist: Allowlist,
        *,
        prefilter: PrefilterKind = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        self.rules = list(rules)
        self.allowlist = allowlist
        self.text_prefilter = _make_prefilter(self.rules, prefilter, cache_dir)
        self.binary_rules = [r for r in self.rules if r.binary]
        self.binary_prefilter = _make_prefilter(self.binary_rules, prefilter, cache_dir)
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

    def scan(self, data: bytes, path: str = "", *, binary: bool | None = None) -> Matches:
        """Every confirmed secret in ``data`` (a file's bytes), in order of position."""
        if binary is None:
            binary = is_binary(data)
        rules = self.binary_rules if binary else self.rules
        prefilter = self.binary_prefilter if binary else self.text_prefilter
        hits = prefilter.hits(data)
        if not hits:
            return Matches()
        truncated = ""
        if len(hits) > MAX_PREFILTER_HITS:
            truncated = f"more than {MAX_PREFILTER_HITS} candidate positions; the rest of the file was not searched"
            hits.sort(key=_by_end)
            del hits[MAX_PREFILTER_HITS:]
        hits.sort(key=_by_end)
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
            cap = _LINE_CAP + (_MULTILINE_WINDOW if rule.multiline else 0)
            start = max(start, end - cap)  # minified files: one line may be megabytes long
            line_end = min(line_end, end + cap)
            covered[index] = line_end
            for match in rule.pattern.finditer(data, start, line_end):
                group = rule.secret_group
                if group < 0:
                    group = next((g for g in range(1, (rule.pattern.groups or 0) + 1) if match.group(g)), 0)
                secret = match.group(group)
                if not secret:
                    continue
                key = (index, match.start(group))
                if key in seen:
                    continue
                seen.add(key)
                if rule.allow_match and any(p.search(match.group(0)) for p in rule.allow_match):
                    continue
                if self._keep(rule, secret):
                    found.append((match.start(group), match.end(group), rule, secret))
            if len(found) > MAX_MATCHES * 2:  # shadowed generic matches are dropped below; keep a margin
                truncated = f"more than {MAX_MATCHES} secrets; the rest of the file was not searched"
                break
        kept = _drop_shadowed(found)
        if len(kept) > MAX_MATCHES:
            truncated = truncated or f"more than {MAX_MATCHES} secrets; only the first {MAX_MATCHES} are reported"
            del kept[MAX_MATCHES:]
        matches = self._locate(data, kept)
        matches.truncated = truncated
        return matches

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
        if rule.stopwords:
            lowered = secret.lower()
            if any(word in lowered for word in rule.stopwords):
                return False
        if rule.generic:
            if _UUID.fullmatch(secret):
                return False
            lowered = secret.lower()
            if any(word in lowered for word in self._stopwords):
                return False
        return not (rule.random and looks_like_words(secret))

    @staticmethod
    def _locate(data: bytes, found: list[tuple[int, int, Rule, bytes]]) -> Matches:
        """Line and column of each match, in one pass (columns counted from the previous match on a long line)."""
        out = Matches()
        line = 1
        position = 0
        prev_line_start, prev_start, prev_column = -1, 0, 1
        for start, end, rule, secret in found:
            line += data.count(b"\n", position, start)
            position = start
            line_start = data.rfind(b"\n", 0, start) + 1
            if line_start == prev_line_start and start >= prev_start:
                column = prev_column + len(data[prev_start:start].decode("utf-8", errors="replace"))
            else:
                column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
            prev_line_start, prev_start, prev_column = line_start, start, column
            end_line = line + data.count(b"\n", start, end)
            out.append(SecretMatch(rule, start, end, line, column, end_line, secret))
        return out


def _by_end(hit: tuple[int, int]) -> int:
    return hit[1]


def _drop_shadowed(found: list[tuple[int, int, Rule, bytes]]) -> list[tuple[int, int, Rule, bytes]]:
    """Sort by position; a generic rule's match that overlaps a specific rule's match (or an earlier kept
    generic match) is dropped. O(n log n): specific intervals are searched by start with a running
    maximum of their ends; kept generic intervals never overlap, so the last end is enough."""
    found.sort(key=lambda item: (item[0], item[2].generic, -item[1]))
    specific = sorted((s, e) for s, e, rule, _ in found if not rule.generic)
    starts = [s for s, _ in specific]
    max_end: list[int] = []
    running = -1
    for _, e in specific:
        running = max(running, e)
        max_end.append(running)
    out: list[tuple[int, int, Rule, bytes]] = []
    taken_end = -1
    for start, end, rule, secret in found:
        if rule.generic:
            before = bisect.bisect_left(starts, end)  # specific intervals starting before this one ends
            if before and max_end[before - 1] > start:
                continue
            if taken_end > start:
                continue
            taken_end = max(taken_end, end)
        out.append((start, end, rule, secret))
    return out
