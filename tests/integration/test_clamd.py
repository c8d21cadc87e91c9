"""The malware analyzer against a real clamd (Debian's ``clamav-daemon``), offline.

clamd is started on a UNIX socket in a temporary folder with a tiny
signature database written here (no freshclam download): an ``.ndb`` body
signature for the EICAR test string and one for a custom marker. Like the
registry tests, a missing clamd fails the test (CI must run it): .ci/run
installs ``clamav-daemon``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, FileInfo
from shieldwall.analyze.malware import MalwareAnalyzer, MalwareConfig
from shieldwall.analyze.malware.clamd import ClamdClient, ClamdScanError, parse_clamd_address
from shieldwall.analyze.malware.samples import eicar_test_file

pytestmark = pytest.mark.integration

MARKER = b"SHIELDWALL-CLAMD-INTEGRATION-MARKER"


@dataclass
class RunningClamd:
    socket: str
    process: subprocess.Popen[bytes]


def _clamd_binary() -> str:
    found = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
    if found is None:
        pytest.fail(
            "clamd is not installed: the clamd integration test needs Debian's clamav-daemon package; "
            ".ci/run must install it (apt-get install -y clamav-daemon)",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningClamd]:
    binary = _clamd_binary()
    root = tmp_path_factory.mktemp("clamd")
    db = root / "db"
    db.mkdir()
    (db / "shieldwall-test.ndb").write_text(
        f"Shieldwall.Test.EICAR:0:0:{eicar_test_file().hex()}\nShieldwall.Test.Marker:0:*:{MARKER.hex()}\n"
    )
    sock = root / "clamd.sock"
    conf = root / "clamd.conf"
    conf.write_text(
        f"DatabaseDirectory {db}\nLocalSocket {sock}\nForeground yes\nLogFile {root / 'clamd.log'}\n"
        f"PidFile {root / 'clamd.pid'}\nStreamMaxLength 1M\nSelfCheck 0\n"
    )
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = ClamdClient(parse_clamd_address(str(sock)), timeout=5)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = (root / "clamd.log").read_text(errors="replace") if (root / "clamd.log").exists() else ""
            pytest.fail(f"clamd exited with {process.returncode}: {err[-2000:]} {log[-2000:]}", pytrace=False)
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("clamd did not answer PING within 60 s", pytrace=False)
            time.sleep(0.2)
    try:
        yield RunningClamd(str(sock), process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _run(analyzer: MalwareAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def test_real_clamd_answers_the_client(clamd: RunningClamd) -> None:
    client = ClamdClient(parse_clamd_address(clamd.socket), chunk_size=16)
    assert client.version().startswith("ClamAV ")
    assert client.scan(b"prefix " + MARKER + b" suffix").signature == "Shieldwall.Test.Marker.UNOFFICIAL"
    assert not client.scan(b"harmless bytes").infected
    with pytest.raises(ClamdScanError, match="size limit"):
        ClamdClient(parse_clamd_address(clamd.socket)).scan(b"\0" * (2 * 1024 * 1024))


def test_analyzer_reports_clamav_findings(clamd: RunningClamd, tmp_path: Path) -> None:
    analyzer = MalwareAnalyzer(MalwareConfig(builtin_rules=False, clamd_socket=clamd.socket, cache_dir=tmp_path))
    result = _run(analyzer, "/srv/eicar.com", eicar_test_file())
    assert result.warnings == ()
    assert [f.rule_id for f in result.findings] == ["clamav:Shieldwall.Test.EICAR.UNOFFICIAL"]
    # clamd opens archives itself: the outer file is enough
    zipped = _run(analyzer, "/srv/bundle.zip", _zip("inner/marker.txt", MARKER))
    assert [f.rule_id for f in zipped.findings] == ["clamav:Shieldwall.Test.Marker.UNOFFICIAL"]
    assert _run(analyzer, "/srv/clean", b"clean").findings == ()


def test_yara_and_clamd_together(clamd: RunningClamd, tmp_path: Path) -> None:
    analyzer = MalwareAnalyzer(MalwareConfig(clamd_socket=clamd.socket, cache_dir=tmp_path))
    result = _run(analyzer, "/srv/eicar.com", eicar_test_file())
    assert sorted(f.evidence[0].detector for f in result.findings) == ["clamav", "yara"]


def test_file_over_clamds_stream_limit_is_a_warning(clamd: RunningClamd, tmp_path: Path) -> None:
    analyzer = MalwareAnalyzer(MalwareConfig(builtin_rules=False, clamd_socket=clamd.socket, cache_dir=tmp_path))
    result = _run(analyzer, "/srv/big.bin", b"\0" * (2 * 1024 * 1024))
    assert result.findings == ()
    assert len(result.warnings) == 1 and "size limit exceeded" in result.warnings[0]
