"""Severity of a vulnerability from its advisories: CVSS vectors first, vendor ratings otherwise.

Vectors are parsed and scored by the ``cvss`` library (v2, v3.0, v3.1, v4.0).
The preferred version is CVSS 3.x, then 4.0, then 2; among several vectors
of the preferred version the highest score wins. Without any vector, the
vendor's rating is used: GitHub's ``database_specific.severity``
(``MODERATE``...), Debian's ``urgency``, Ubuntu's priority.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

from shieldwall.model import Severity

_VERSION_PREFERENCE = ("3", "4", "2")

_VENDOR_WORDS = {
    "critical": Severity.CRITICAL,
    "important": Severity.HIGH,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
}


@dataclass(frozen=True, slots=True)
class CvssScore:
    """One parsed vector: its clean form, major version (``2``/``3``/``4``), full version, score, rating."""

    vector: str
    major: str
    version: str
    score: float
    severity: Severity


def _rating(text: str) -> Severity:
    try:
        return Severity(text.strip().upper())
    except ValueError:
        return Severity.UNKNOWN  # "None" (score 0.0) and anything unexpected


def _v2_rating(score: float) -> Severity:
    # CVSS v2 defines no qualitative scale; NVD's is Low < 4.0 <= Medium < 7.0 <= High.
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.UNKNOWN


@lru_cache(maxsize=16384)
def parse_vector(kind: str, text: str) -> CvssScore | None:
    """Score one OSV severity entry (``CVSS_V3`` + vector); None when it is not a valid vector."""
    vector = text.strip()
    if not vector or len(vector) > 512:
        return None
    try:
        if vector.startswith("CVSS:4") or kind == "CVSS_V4":
            v4 = CVSS4(vector)
            return CvssScore(v4.clean_vector(), "4", "4.0", float(v4.base_score), _rating(str(v4.severity)))
        if vector.startswith("CVSS:3") or kind == "CVSS_V3":
            v3 = CVSS3(vector)
            version = f"3.{v3.minor_version}"
            return CvssScore(v3.clean_vector(), "3", version, float(v3.base_score), _rating(v3.severities()[0]))
        if kind == "CVSS_V2" or vector.startswith("AV:"):
            v2 = CVSS2(vector)
            score = float(v2.base_score)
            return CvssScore(v2.clean_vector(), "2", "2.0", score, _v2_rating(score))
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return None


def best_cvss(entries: Iterable[tuple[str, str]]) -> CvssScore | None:
    """The vector to report from ``(type, score)`` severity entries: v3 over v4 over v2, then highest."""
    parsed = [p for kind, text in entries if (p := parse_vector(kind, text)) is not None]
    for major in _VERSION_PREFERENCE:
        of_version = [p for p in parsed if p.major == major]
        if of_version:
            return max(of_version, key=lambda p: (p.score, p.version))
    return None


def vendor_severity(text: str) -> Severity:
    """A vendor's rating word as a ``Severity`` (``MODERATE`` -> MEDIUM, ``unimportant`` -> LOW)."""
    return _VENDOR_WORDS.get(text.strip().lower(), Severity.UNKNOWN)
