"""``db update`` against a local HTTP server: incremental, resumable, atomic."""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.feed_server import FeedServer, feed_server
from shieldwall.cli.main import app
from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.store import VulnDB
from shieldwall.vulndb.update import (
    DownloadInterruptedError,
    UpdateError,
    UpdateOptions,
    UpdateReport,
    resolve_base_url,
    update_database,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vulndb"


def _record(ident: str, ecosystem: str, name: str, fixed: str, padding: int = 0) -> dict[str, object]:
    return {
        "id": ident,
        "modified": "2024-01-01T00:00:00Z",
        "details": "x" * padding,
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
    }


def _zip(records: list[dict[str, object]], noise: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in records:
            zf.writestr(f"{record['id']}.json", json.dumps(record))
        if noise:
            # incompressible bytes so the archive is big enough to be cut in the middle
            zf.writestr("noise.bin", random.Random(7).randbytes(noise))
    return buf.getvalue()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as state:
        yield state


@pytest.fixture
def options(server: FeedServer, tmp_path: Path) -> UpdateOptions:
    return UpdateOptions(
        base_url=server.base_url,
        ecosystems=("PyPI", "npm"),
        db_path=tmp_path / "data" / "vulndb.sqlite",
        cache_dir=tmp_path / "cache",
        timeout=10.0,
    )


def _ids(db_path: Path, ecosystem: str, name: str) -> list[str]:
    with VulnDB.open(db_path) as db:
        return [a.id for a in db.lookup(ecosystem, name)]


def _status(report: UpdateReport) -> dict[str, str]:
    return {f.request.name: f.status for f in report.fetched}


def test_update_is_incremental_resumable_and_atomic(server: FeedServer, options: UpdateOptions) -> None:
    db_path = options.db_path
    assert db_path is not None
    server.publish(
        "/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0"), _record("PY-2", "PyPI", "Beta_Pkg", "2.0")])
    )
    server.publish("/npm/all.zip", _zip([_record("NPM-1", "npm", "left-pad", "1.3.0")]))

    # 1. first update downloads everything
    first = update_database(options)
    assert _status(first) == {"osv:PyPI": "downloaded", "osv:npm": "downloaded"}
    assert first.transferred == sum(len(f.body) for f in server.files.values())
    assert _ids(db_path, "PyPI", "beta-pkg") == ["PY-2"]
    assert _ids(db_path, "npm", "left-pad") == ["NPM-1"]
    assert ("PyPI", "alpha") in first.changed_packages
    with VulnDB.open(db_path) as db:
        source = db.source("osv:PyPI")
        assert source is not None and source.etag == server.files["/PyPI/all.zip"].etag
        assert source.url == f"{server.base_url}/PyPI/all.zip" and source.count == 2

    # 2. nothing changed: conditional requests, 304, nothing transferred or re-imported
    server.clear_log()
    second = update_database(options)
    assert _status(second) == {"osv:PyPI": "not-modified", "osv:npm": "not-modified"}
    assert second.transferred == 0 and second.imported == () and second.changed_packages == frozenset()
    assert sorted(second.unchanged) == ["osv:PyPI", "osv:npm"]
    for request in server.log:
        assert request.status == 304 and request.sent == 0
        assert request.headers["If-None-Match"] == server.files[request.path].etag
        assert request.headers["If-Modified-Since"] == server.files[request.path].last_modified

    # 3. a changed archive is downloaded again, the other is not
    server.publish(
        "/PyPI/all.zip", _zip([_record("PY-2", "PyPI", "Beta_Pkg", "2.1"), _record("PY-3", "PyPI", "gamma", "3.0")])
    )
    server.clear_log()
    third = update_database(options)
    assert _status(third) == {"osv:PyPI": "downloaded", "osv:npm": "not-modified"}
    assert [r.status for r in server.requests_for("/PyPI/all.zip")] == [200]
    assert third.changed_packages == {("PyPI", "alpha"), ("PyPI", "beta-pkg"), ("PyPI", "gamma")}
    assert _ids(db_path, "PyPI", "alpha") == [] and _ids(db_path, "PyPI", "gamma") == ["PY-3"]
    (stats,) = [r.stats for r in third.imported]
    assert stats is not None and (stats.added, stats.changed, stats.removed) == (1, 1, 1)

    # 4. an interrupted download fails the update and leaves the previous database intact and queryable
    big = _zip(
        [_record("NPM-1", "npm", "left-pad", "1.3.1"), _record("NPM-2", "npm", "is-odd", "3.0.1")], noise=300_000
    )
    server.publish("/npm/all.zip", big)
    cut = 120_000
    server.cut_after["/npm/all.zip"] = cut
    before = db_path.read_bytes()
    with pytest.raises(DownloadInterruptedError) as info:
        update_database(options)
    message = str(info.value)
    assert "interrupted" in message and "not changed" in message and "resume" in message
    assert f"after {cut} of {len(big)} bytes" in message
    assert db_path.read_bytes() == before
    assert _ids(db_path, "npm", "is-odd") == [] and _ids(db_path, "PyPI", "gamma") == ["PY-3"]
    assert sorted(p.name for p in db_path.parent.iterdir() if not p.name.endswith(".lock")) == ["vulndb.sqlite"]
    part = options.cache_dir / "osv_npm.part"  # type: ignore[operator]
    assert part.stat().st_size == cut

    # 5. the rerun resumes with a Range request and finishes the import
    del server.cut_after["/npm/all.zip"]
    server.clear_log()
    fifth = update_database(options)
    assert _status(fifth) == {"osv:PyPI": "not-modified", "osv:npm": "resumed"}
    (resume,) = server.requests_for("/npm/all.zip")
    assert resume.headers["Range"] == f"bytes={cut}-"
    assert resume.headers["If-Range"] == server.files["/npm/all.zip"].etag
    assert resume.status == 206 and resume.sent == len(big) - cut
    assert fifth.transferred == len(big) - cut
    assert _ids(db_path, "npm", "is-odd") == ["NPM-2"]
    assert not part.exists()


def test_a_resume_after_the_archive_changed_starts_over(server: FeedServer, options: UpdateOptions) -> None:
    options = replace(options, ecosystems=("npm",))
    server.publish("/npm/all.zip", _zip([_record("NPM-1", "npm", "a", "1.0")], noise=200_000))
    server.cut_after["/npm/all.zip"] = 50_000
    with pytest.raises(DownloadInterruptedError):
        update_database(options)
    assert options.db_path is not None and not options.db_path.exists()
    del server.cut_after["/npm/all.zip"]
    newer = _zip([_record("NPM-9", "npm", "a", "2.0")], noise=210_000)
    server.publish("/npm/all.zip", newer)
    server.clear_log()
    report = update_database(options)
    (request,) = server.log
    assert request.headers["Range"] == "bytes=50000-" and request.status == 200  # If-Range no longer matches
    assert _status(report) == {"osv:npm": "downloaded"} and report.transferred == len(newer)
    assert _ids(options.db_path, "npm", "a") == ["NPM-9"]


def test_last_modified_without_etags(server: FeedServer, options: UpdateOptions) -> None:
    server.use_etags = False
    options = replace(options, ecosystems=("npm",))
    server.publish("/npm/all.zip", _zip([_record("NPM-1", "npm", "a", "1.0")]))
    update_database(options)
    server.clear_log()
    report = update_database(options)
    (request,) = server.log
    assert "If-None-Match" not in request.headers and request.status == 304
    assert report.transferred == 0 and report.unchanged == ("osv:npm",)


def test_a_corrupt_archive_fails_and_is_downloaded_again(server: FeedServer, options: UpdateOptions) -> None:
    db_path = options.db_path
    assert db_path is not None
    server.publish("/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0")]))
    server.publish("/npm/all.zip", _zip([_record("NPM-1", "npm", "a", "1.0")]))
    update_database(options)
    before = db_path.read_bytes()
    server.publish("/npm/all.zip", b"this is not a zip archive at all")
    with pytest.raises(CorruptInputError, match=r"not a readable zip.*not changed"):
        update_database(options)
    assert db_path.read_bytes() == before
    server.publish("/npm/all.zip", _zip([_record("NPM-2", "npm", "a", "2.0")]))
    server.clear_log()
    update_database(options)
    # the broken copy was dropped: no If-None-Match for it, a full download
    (request,) = server.requests_for("/npm/all.zip")
    assert "If-None-Match" not in request.headers and request.status == 200
    assert _ids(db_path, "npm", "a") == ["NPM-2"]


def test_http_errors_name_the_url(server: FeedServer, options: UpdateOptions) -> None:
    server.publish("/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0")]))
    with pytest.raises(UpdateError, match=r"/npm/all\.zip: HTTP 404"):
        update_database(options)
    assert options.db_path is not None and not options.db_path.exists()


def test_kev_and_epss_urls(server: FeedServer, options: UpdateOptions) -> None:
    server.publish("/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0")]))
    server.publish("/kev.json", (FIXTURES / "kev.json").read_bytes())
    server.publish("/epss.csv", (FIXTURES / "epss.csv").read_bytes())
    options = replace(
        options, ecosystems=("PyPI",), kev_url=f"{server.base_url}/kev.json", epss_url=f"{server.base_url}/epss.csv"
    )
    update_database(options)
    assert options.db_path is not None
    with VulnDB.open(options.db_path) as db:
        assert db.kev("CVE-2099-0100") is not None
        epss = db.epss("CVE-2099-0100")
        assert epss is not None and epss.epss == pytest.approx(0.91234)
    assert update_database(options).transferred == 0


def test_base_url_from_the_environment() -> None:
    assert resolve_base_url("", {"SHIELDWALL_OSV_URL": "http://mirror.invalid/osv/"}) == "http://mirror.invalid/osv"
    assert (
        resolve_base_url("http://flag.invalid", {"SHIELDWALL_OSV_URL": "http://env.invalid"}) == "http://flag.invalid"
    )
    assert resolve_base_url("", {}) == "https://osv-vulnerabilities.storage.googleapis.com"
    with pytest.raises(Exception, match="invalid OSV base URL"):
        resolve_base_url("ftp://x", {})


def test_cli_update_and_url_import(server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.publish("/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0")]))
    server.publish("/Go/all.zip", _zip([_record("GO-1", "Go", "example.com/m", "1.0.0")]))
    monkeypatch.setenv("SHIELDWALL_OSV_URL", server.base_url)
    runner = CliRunner()
    db = str(tmp_path / "v.sqlite")
    result = runner.invoke(app, ["db", "update", "-e", "PyPI,Go", "--db", db])
    assert result.exit_code == 0, result.stderr
    assert "osv:PyPI: downloaded" in result.stderr and "database updated" in result.stderr
    result = runner.invoke(app, ["db", "update", "-e", "PyPI", "-e", "Go", "--db", db])
    assert result.exit_code == 0 and "unchanged (304), 0 bytes transferred" in result.stderr
    result = runner.invoke(app, ["db", "update", "-e", "npm", "--db", db])
    assert result.exit_code == 2 and "HTTP 404" in result.stderr
    server.publish("/extra/feed.zip", _zip([_record("X-1", "npm", "extra", "1.0")]))
    result = runner.invoke(app, ["db", "import", f"{server.base_url}/extra/feed.zip", "--db", db])
    assert result.exit_code == 0, result.stderr
    assert _ids(Path(db), "npm", "extra") == ["X-1"] and _ids(Path(db), "Go", "example.com/m") == ["GO-1"]
    with VulnDB.open(Path(db)) as opened:
        assert opened.source(f"osv:{server.base_url}/extra/feed.zip") is not None
    assert os.environ["SHIELDWALL_OSV_URL"] == server.base_url


def test_a_lost_database_is_rebuilt_from_the_kept_archives(server: FeedServer, options: UpdateOptions) -> None:
    db_path = options.db_path
    assert db_path is not None
    server.publish("/PyPI/all.zip", _zip([_record("PY-1", "PyPI", "alpha", "1.0")]))
    server.publish("/npm/all.zip", _zip([_record("NPM-1", "npm", "a", "1.0")]))
    update_database(options)
    db_path.unlink()
    server.clear_log()
    report = update_database(options)
    # the server says "not modified", and the kept archives are imported again
    assert _status(report) == {"osv:PyPI": "not-modified", "osv:npm": "not-modified"} and report.transferred == 0
    assert sorted(r.source for r in report.imported) == ["osv:PyPI", "osv:npm"]
    assert _ids(db_path, "PyPI", "alpha") == ["PY-1"] and _ids(db_path, "npm", "a") == ["NPM-1"]
