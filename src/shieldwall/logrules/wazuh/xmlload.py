"""Read Wazuh's XML files, which are fragments and not always well-formed XML.

Wazuh's own parser accepts several root elements per file, ``--`` inside
comments and raw ``&`` or ``<`` inside ``<regex>``; this reader removes
comments, escapes stray ``&`` and ``<``, wraps the file in one root and
parses it with defusedxml (no entities, no external references).
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET

MAX_FILE_BYTES = 8 * 1024 * 1024

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DECL = re.compile(r"<\?xml[^>]*\?>")
_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)")
_LT = re.compile(r"<(?![A-Za-z_/!?])")
_ESCAPED_LT = re.compile(r"(?<!\\)((?:\\\\)*)\\<")


class RulesetError(ValueError):
    """A ruleset file that cannot be read at all."""


def parse_fragment(text: str, origin: str = "") -> Element:
    """The elements of a Wazuh XML file under one synthetic ``<root>``."""
    text = _COMMENT.sub("", _DECL.sub("", text))
    # "\<" is OS_Regex's escaped "<" (e.g. "\<log>"), never the start of an element
    text = _LT.sub("&lt;", _ESCAPED_LT.sub(r"\1\\&lt;", _AMP.sub("&amp;", text)))
    try:
        root: Element = DET.fromstring(f"<root>{text}</root>")
    except Exception as exc:  # defusedxml raises ParseError and its own errors
        raise RulesetError(f"{origin}: {exc}") from exc
    return root


def read_fragment(path: Path) -> Element:
    """``parse_fragment`` of a file, refusing files over ``MAX_FILE_BYTES``."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RulesetError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return parse_fragment(path.read_text(encoding="utf-8", errors="replace"), str(path))
