"""CISA KEV (JSON and CSV) and EPSS (CSV, gzip) readers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.importers.epss import EpssHeader, iter_epss
from shieldwall.vulndb.importers.kev import parse_kev

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb"


def test_kev_json() -> None:
    entries = parse_kev((FIXTURES / "kev.json").read_bytes(), "kev.json")
    assert [e.cve_id for e in entries] == ["CVE-2099-0100", "CVE-2099-0200"]
    first = entries[0]
    assert (first.vendor, first.product, first.date_added, first.due_date, first.known_ransomware) == (
        "Example",
        "ExampleSSL",
        "2099-01-01",
        "2099-01-22",
        "Known",
    )


def test_kev_csv_with_quoted_commas() -> None:
    (entry,) = parse_kev((FIXTURES / "kev.csv").read_bytes(), "kev.csv")
    assert entry.name == "ExampleSSL overflow, remote" and entry.required_action == "Patch."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"vulnerabilities": {}}', "vulnerabilities"),
        (b"{broken", "not valid KEV JSON"),
        (b"a,b,c\n1,2,3\n", "cveID"),
        (b'{"vulnerabilities": [{"cveID": "GHSA-1"}]}', "not a CVE"),
    ],
)
def test_kev_errors(data: bytes, message: str) -> None:
    with pytest.raises(CorruptInputError, match=message):
        parse_kev(data, "kev")


def test_epss_csv_reads_the_model_line() -> None:
    header = EpssHeader()
    entries = list(iter_epss((FIXTURES / "epss.csv").read_bytes(), "epss.csv", header))
    assert [(e.cve_id, e.epss, e.percentile) for e in entries] == [
        ("CVE-2099-0100", 0.91234, 0.99876),
        ("CVE-2099-0200", 0.00043, 0.07),
    ]
    assert (header.model_version, header.score_date, header.rows) == ("v2099.01.01", "2099-01-05T00:00:00+0000", 2)
    assert entries[0].model_version == "v2099.01.01"


def test_epss_gzip() -> None:
    data = gzip.compress((FIXTURES / "epss.csv").read_bytes())
    assert len(list(iter_epss(data, "epss.csv.gz"))) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cve,score\nCVE-1,0.1\n", "columns"),
        ("cve,epss,percentile\nCVE-1,high,0.1\n", "numbers"),
        ("cve,epss,percentile\nCVE-1,1.5,0.1\n", "between 0 and 1"),
        ("cve,epss,percentile\nCVE-1,0.1\n", "cells"),
        ("#model_version:x\n", "no EPSS header"),
    ],
)
def test_epss_errors(text: str, message: str) -> None:
    with pytest.raises(CorruptInputError, match=message):
        list(iter_epss(text.encode(), "epss.csv"))


def test_epss_broken_gzip() -> None:
    data = gzip.compress(b"cve,epss,percentile\n" + b"CVE-1,0.1,0.2\n" * 100)[:-20]
    with pytest.raises(CorruptInputError, match="gzip"):
        list(iter_epss(data, "epss.csv.gz"))
