"""FIRST EPSS scores: the daily CSV (optionally gzip-compressed) with its ``#model_version`` comment line.

::

    #model_version:v2023.03.01,score_date:2024-05-01T00:00:00+0000
    cve,epss,percentile
    CVE-2021-44228,0.97565,0.99996
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from shieldwall.errors import CorruptInputError, UnsafeInputError
from shieldwall.vulndb.model import EpssEntry

MAX_EPSS_BYTES = 512 * 1024 * 1024
"""Largest uncompressed EPSS file accepted (the real one is about 10 MiB)."""


@dataclass
class EpssHeader:
    """What the comment line says; filled while the rows are read."""

    model_version: str = ""
    score_date: str = ""
    rows: int = field(default=0)


def _lines(data: bytes, name: str) -> Iterator[str]:
    stream: io.BufferedIOBase = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=io.BytesIO(data))
    total = 0
    try:
        for raw in stream:
            total += len(raw)
            if total > MAX_EPSS_BYTES:
                raise UnsafeInputError(f"{name}: more than {MAX_EPSS_BYTES} bytes once decompressed")
            yield raw.decode("utf-8", errors="replace").strip()
    except (OSError, EOFError) as exc:
        raise CorruptInputError(f"{name}: broken gzip stream: {exc}") from None


def iter_epss(data: bytes, name: str, header: EpssHeader | None = None) -> Iterator[EpssEntry]:
    """Yield the scores of an EPSS CSV; ``header`` receives the model version and score date."""
    header = header if header is not None else EpssHeader()
    columns: list[str] | None = None
    for number, line in enumerate(_lines(data, name), 1):
        if not line:
            continue
        if line.startswith("#"):
            for part in line.lstrip("#").split(","):
                key, _, value = part.partition(":")
                if key.strip() == "model_version":
                    header.model_version = value.strip()
                elif key.strip() == "score_date":
                    header.score_date = value.strip()
            continue
        cells = [c.strip() for c in line.split(",")]
        if columns is None:
            columns = [c.lower() for c in cells]
            if not {"cve", "epss", "percentile"} <= set(columns):
                raise CorruptInputError(f"{name}: EPSS CSV needs the columns cve,epss,percentile")
            continue
        if len(cells) != len(columns):
            raise CorruptInputError(f"{name}:{number}: {len(cells)} cells, expected {len(columns)}")
        row = dict(zip(columns, cells, strict=True))
        try:
            epss, percentile = float(row["epss"]), float(row["percentile"])
        except ValueError:
            raise CorruptInputError(f"{name}:{number}: scores must be numbers") from None
        if not (0.0 <= epss <= 1.0 and 0.0 <= percentile <= 1.0):
            raise CorruptInputError(f"{name}:{number}: scores must lie between 0 and 1")
        header.rows += 1
        yield EpssEntry(row["cve"].upper(), epss, percentile, header.model_version, header.score_date)
    if columns is None:
        raise CorruptInputError(f"{name}: no EPSS header row")
