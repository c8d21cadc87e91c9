"""Bounded reading of package manifests: size limits and JSON decoding that fail as one-line errors."""

from __future__ import annotations

import json

from shieldwall.analyze.base import AnalysisInput, AnalyzerError

MiB = 1024 * 1024


def read_bounded(input: AnalysisInput, limit: int, what: str) -> bytes:
    """Return the file's bytes, or raise ``AnalyzerError`` when it is larger than ``limit``.

    The declared size is checked before reading so an oversized file is never
    loaded; the length is checked again because the declaration may lie.
    """
    if input.info.size > limit:
        raise AnalyzerError(f"{what} is {input.info.size} bytes, over the {limit}-byte limit")
    data = input.read()
    if len(data) > limit:
        raise AnalyzerError(f"{what} is {len(data)} bytes, over the {limit}-byte limit")
    return data


def load_json(input: AnalysisInput, limit: int, what: str) -> object:
    """Decode a bounded JSON file; malformed or hostile JSON becomes a one-line ``AnalyzerError``."""
    data = read_bounded(input, limit, what)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise AnalyzerError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError:
        raise AnalyzerError(f"{what} is not valid UTF-8 JSON") from None
    except RecursionError:
        raise AnalyzerError(f"{what} nests JSON too deeply") from None


def string_list(value: object) -> list[str]:
    """A JSON value that should be a string or a list of strings, as a list (other items dropped)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []
