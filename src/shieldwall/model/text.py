"""Untrusted text made safe to carry and to show.

Names, paths and strings from images, SBOMs, feeds and logs are written by
whoever built them. Two things go wrong with them downstream:

- file names that are not UTF-8 arrive as lone surrogates (Python's
  ``surrogateescape``) and crash every encoder (JSON files, XML, hashes);
- control characters (ANSI escape sequences, carriage returns, C1 controls)
  and Unicode bidirectional overrides reach a terminal or a log raw and can
  rewrite what a person sees.

``escape_undecodable`` is applied where names enter (tar members, directory
walks), so every later stage and every output format sees valid text;
``printable`` is applied where untrusted text is shown to a person.
"""

from __future__ import annotations

import re

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
# and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNPRINTABLE_NO_NL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape_undecodable(text: str) -> str:
    """Replace lone surrogates (undecodable bytes) with ``\\xNN`` so the text encodes as UTF-8."""
    if text.isascii():
        return text
    return _SURROGATES.sub(_escape, text)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Escape control characters, bidi overrides and surrogates as ``\\xNN``/``\\uNNNN``."""
    pattern = _UNPRINTABLE if keep_newlines else _UNPRINTABLE_NO_NL
    return pattern.sub(_escape, text)
