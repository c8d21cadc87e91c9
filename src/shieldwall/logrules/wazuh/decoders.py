"""Wazuh decoders: parents chosen by program name and prematch, children extract fields.

Evaluation follows Wazuh's analysis daemon: the first parent decoder whose
``program_name`` and ``prematch`` match wins; its children are tried in file
order, the first matching child is the decoder, and following children with
the same name (sibling decoders) add their fields too. ``offset`` says where a
child's prematch or regex starts: after the parent's prematch, after the
child's own prematch, or after the previous sibling's regex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

import re2  # type: ignore[import-untyped]

from shieldwall.logrules.saferegex import RegexStats
from shieldwall.logrules.wazuh.event import Event
from shieldwall.logrules.wazuh.matchers import Pattern, TextMatcher, build_matcher

MAX_JSON_FIELDS = 512


@dataclass(slots=True)
class Decoder:
    """One ``<decoder>`` element."""

    name: str
    parent: str = ""
    program_name: TextMatcher | None = None
    prematch: Pattern | None = None
    prematch_offset: str = ""
    regex: Pattern | None = None
    regex_offset: str = ""
    order: tuple[str, ...] = ()
    category: str = "syslog"
    plugin: str = ""
    plugin_offset: str = ""
    use_own_name: bool = False
    fts: tuple[str, ...] = ()
    children: list[Decoder] = field(default_factory=list)


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def parse_decoder(el: Element, stats: RegexStats) -> Decoder:
    """Build a ``Decoder`` from its XML element."""
    dec = Decoder(name=el.get("name", "").strip())
    for child in el:
        tag = child.tag
        # pattern text keeps its spaces: "^User \S+ from " differs from "^User \S+ from"
        text = (child.text or "") if tag in ("prematch", "regex") else _text(child)
        kind = child.get("type", "")
        if tag == "parent":
            dec.parent = text
        elif tag == "program_name":
            dec.program_name = build_matcher(text, kind, "osmatch", stats)
        elif tag == "prematch":
            dec.prematch = Pattern.compile(text, kind or "osregex", stats)
            dec.prematch_offset = child.get("offset", "")
        elif tag == "regex":
            # several <regex> elements are one pattern, concatenated (Wazuh's loader does the same)
            source = (dec.regex.source if dec.regex is not None else "") + text
            dec.regex = Pattern.compile(source, kind or (dec.regex.kind if dec.regex else "osregex"), stats)
            dec.regex_offset = child.get("offset", dec.regex_offset)
        elif tag == "order":
            dec.order = tuple(p.strip() for p in text.split(",") if p.strip())
        elif tag == "type":
            dec.category = text
        elif tag == "plugin_decoder":
            dec.plugin = text
            dec.plugin_offset = child.get("offset", "")
        elif tag == "use_own_name":
            dec.use_own_name = text.lower() == "true"
        elif tag == "fts":
            dec.fts = tuple(p.strip() for p in text.split(",") if p.strip())
    return dec


def _flatten(prefix: str, value: object, out: dict[str, str]) -> None:
    if len(out) >= MAX_JSON_FIELDS:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, separators=(",", ":"))
    elif value is None:
        return
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = str(value)


def json_fields(text: str) -> dict[str, str] | None:
    """Wazuh's JSON_Decoder: nested keys flattened with dots, arrays kept as JSON."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, str] = {}
    _flatten("", data, out)
    return out


class DecoderSet:
    """All decoders of a ruleset, parents in load order with their children."""

    def __init__(self) -> None:
        self.parents: list[Decoder] = []
        self.by_name: dict[str, Decoder] = {}
        self.orphans: list[str] = []
        self._prefilter: tuple[Any, list[int], set[int]] | None = None

    def add(self, dec: Decoder) -> None:
        """Register ``dec`` (a child attaches to the first parent of that name)."""
        self._prefilter = None
        if not dec.parent:
            self.by_name.setdefault(dec.name, dec)
            self.parents.append(dec)
            return
        # a parent name may be declared several times (by program name, by prematch): children belong to each
        parents = [p for p in self.parents if p.name == dec.parent]
        if not parents:
            self.orphans.append(dec.name)
            return
        for parent in parents:
            parent.children.append(dec)

    def _build_prefilter(self) -> None:
        """One re2 set of every parent prematch, so a line is tested against all of them in one pass."""
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False
        options.max_mem = 64 << 20
        rset = re2.Set.SearchSet(options)
        owner: list[int] = []
        always: set[int] = set()
        for i, parent in enumerate(self.parents):
            pm = parent.prematch
            if pm is None or not all(a.uses_re2 for a in pm.alts) or pm.kind != "osregex":
                always.add(i)
                continue
            try:
                for alt in pm.alts:
                    rset.Add(alt.pattern)
                    owner.append(i)
            except Exception:  # a pattern the set refuses is simply always checked
                always.add(i)
        try:
            rset.Compile()
        except Exception:  # no prefilter: every parent is checked
            self._prefilter = None
            return
        self._prefilter = (rset, owner, always)

    def _candidates(self, log: str) -> set[int] | None:
        if self._prefilter is None:
            self._build_prefilter()
        if self._prefilter is None:
            return None
        rset, owner, always = self._prefilter
        hits = rset.Match(log) or []
        return always | {owner[h] for h in hits}

    def decode(self, ev: Event) -> None:
        """Fill ``ev``'s decoder name, category and fields (no decoder: left empty)."""
        log = ev.log
        candidates = self._candidates(log)
        for index, parent in enumerate(self.parents):
            if candidates is not None and index not in candidates:
                continue
            if parent.program_name is not None and not (
                ev.program_name and parent.program_name.matches(ev.program_name)
            ):
                continue
            pmatch = 0
            if parent.prematch is not None:
                m = parent.prematch.search(log)
                if m is None:
                    continue
                pmatch = m.end
            ev.decoder = ev.decoder_parent = parent.name
            ev.category = parent.category or "syslog"
            if not parent.children:
                self._extract(parent, ev, pmatch, pmatch, None)
                ev.fts = parent.fts
                return
            chosen: Decoder | None = None
            regex_prev: int | None = None
            skip_group = ""
            for child in parent.children:
                if chosen is not None and child.name != chosen.name:
                    break
                if skip_group and child.name == skip_group:
                    continue
                skip_group = ""
                cmatch = pmatch
                if child.program_name is not None and not (
                    ev.program_name and child.program_name.matches(ev.program_name)
                ):
                    skip_group = child.name if chosen is None else ""
                    continue
                if child.prematch is not None:
                    start = pmatch if child.prematch_offset == "after_parent" else 0
                    m = child.prematch.search(log, start)
                    if m is None:
                        # a sibling group is entered through its first member's prematch
                        skip_group = child.name if chosen is None else ""
                        continue
                    cmatch = m.end
                result = self._extract(child, ev, pmatch, cmatch, regex_prev)
                if result is None:
                    continue
                if result >= 0:
                    regex_prev = result
                if chosen is None:
                    chosen = child
                    ev.fts = child.fts or parent.fts
                    if child.category and child.category != "syslog":
                        ev.category = child.category
                    if child.use_own_name:
                        ev.decoder = child.name
            return

    def _extract(self, dec: Decoder, ev: Event, pmatch: int, cmatch: int, regex_prev: int | None) -> int | None:
        """Apply ``dec``'s regex or plugin; None when its regex does not match, else the regex end (-1: none)."""
        log = ev.log
        if dec.plugin:
            if dec.plugin == "JSON_Decoder":
                start = (
                    pmatch
                    if dec.plugin_offset == "after_parent"
                    else cmatch
                    if dec.plugin_offset == "after_prematch"
                    else 0
                )
                decoded = json_fields(log[start:])
                if decoded is None:
                    return None
                ev.fields.update(decoded)
            return -1
        if dec.regex is None:
            return -1
        offset = dec.regex_offset
        if offset == "after_parent":
            start = pmatch
        elif offset == "after_prematch":
            start = cmatch
        elif offset == "after_regex":
            start = regex_prev if regex_prev is not None else cmatch
        else:
            start = 0
        m = dec.regex.search(log, start)
        if m is None:
            return None
        for name, value in zip(dec.order, m.groups, strict=False):
            if value is not None and name:
                ev.fields[name] = value
        return m.end
