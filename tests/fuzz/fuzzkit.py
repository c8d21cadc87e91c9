"""Strategies shared by the fuzz tests: JSON-ish values and mutations of small valid documents."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

FUZZ = settings(
    settings.get_profile("shieldwall-fuzz"),
    max_examples=int(os.environ.get("SHIELDWALL_FUZZ_EXAMPLES", "150")),
)
"""Apply to every fuzz test: database-free, derandomized, bounded (150 examples; a longer hunt:
``SHIELDWALL_FUZZ_EXAMPLES=5000``), no deadline."""

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("[]/\\:.@\x00\x1b\n\"'<>&"),
    max_size=24,
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([10**400, -1, 0, 2**63, -(2**63) - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)

JSONISH: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=12,
)
"""Arbitrary JSON-compatible values: random nesting, every scalar type, unicode, huge numbers."""


def deep(depth: int) -> bytes:
    """A JSON list nested ``depth`` levels deep (for recursion limits), as bytes."""
    return b"[" * depth + b"]" * depth


@st.composite
def mutated(draw: st.DrawFn, doc: Any, *, budget: int = 3) -> Any:
    """``doc`` with up to ``budget`` random edits: a field dropped, replaced by any value, or a key added."""
    value = doc
    for _ in range(draw(st.integers(min_value=0, max_value=budget))):
        value = _mutate_once(draw, value)
    return value


def _mutate_once(draw: st.DrawFn, value: Any) -> Any:
    op = draw(st.sampled_from(["replace", "descend", "descend", "descend"]))
    if op == "replace" or not isinstance(value, dict | list) or not value:
        return draw(JSONISH)
    if isinstance(value, dict):
        key = draw(st.sampled_from(sorted(value, key=str)))
        action = draw(st.sampled_from(["drop", "descend", "add", "wrap"]))
        new = dict(value)
        if action == "drop":
            del new[key]
        elif action == "add":
            new[draw(_TEXT)] = draw(JSONISH)
        elif action == "wrap":
            new[key] = [new[key]] if draw(st.booleans()) else {"x": new[key]}
        else:
            new[key] = _mutate_once(draw, new[key])
        return new
    index = draw(st.integers(min_value=0, max_value=len(value) - 1))
    items = list(value)
    action = draw(st.sampled_from(["drop", "descend", "dup", "clear"]))
    if action == "drop":
        del items[index]
    elif action == "dup":
        items.append(items[index])
    elif action == "clear":
        items = []
    else:
        items[index] = _mutate_once(draw, items[index])
    return items


@st.composite
def junk_lines(draw: st.DrawFn, text: str) -> str:
    """``text`` with lines dropped, duplicated, truncated or replaced by junk."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        if not lines:
            lines.append(draw(_TEXT))
            continue
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["drop", "junk", "cut", "dup", "insert"]))
        if action == "drop":
            del lines[i]
        elif action == "junk":
            lines[i] = draw(_TEXT)
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(min_value=0, max_value=max(0, len(lines[i]))))]
        elif action == "dup":
            lines.insert(i, lines[i])
        else:
            lines.insert(i, draw(_TEXT))
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, *, budget: int = 6) -> bytes:
    """``data`` with a few bytes flipped, cut or inserted."""
    out = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=budget))):
        if not out:
            out += draw(st.binary(max_size=16))
            continue
        i = draw(st.integers(min_value=0, max_value=len(out) - 1))
        action = draw(st.sampled_from(["flip", "flip", "set", "cut", "insert", "truncate"]))
        if action == "flip":
            out[i] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "set":
            out[i] = draw(st.sampled_from([0, 0x20, 0x30, 0x37, 0x7F, 0xFF, ord("L"), ord("x"), ord("S")]))
        elif action == "cut":
            del out[i : i + draw(st.integers(min_value=1, max_value=64))]
        elif action == "insert":
            out[i:i] = draw(st.binary(max_size=16))
        else:
            del out[i:]
    return bytes(out)
