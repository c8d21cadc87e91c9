"""``shieldwall db``: import, status, export/import-bundle, exit codes and diagnoses."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from shieldwall.cli.main import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_status_without_a_database_tells_how_to_get_one(tmp_path: Path) -> None:
    code, _, err = _run("db", "status", "--db", str(tmp_path / "none.sqlite"))
    assert code == 2 and "shieldwall db update" in err


def test_import_samples_and_feeds_then_status(tmp_path: Path) -> None:
    db = str(tmp_path / "v.sqlite")
    code, _, err = _run("db", "import-samples", "--db", db)
    assert code == 0 and "imported 42 sample advisories" in err
    code, _, err = _run("db", "import", str(FIXTURES / "rustsec"), "--db", db)
    assert code == 0 and "2 advisories (2 new" in err and "toolchain" in err
    code, _, err = _run("db", "import", str(FIXTURES / "kev.csv"), "--format", "kev", "--db", db)
    assert code == 0 and "cisa-kev: 1 entries" in err
    code, _, err = _run("db", "import", str(FIXTURES / "osv"), "--source", "my-osv", "--db", db, "-q")
    assert code == 0 and err == ""
    code, out, _ = _run("db", "status", "--format", "json", "--db", db)
    assert code == 0
    status = json.loads(out)
    assert status["ecosystems"]["crates.io"] == 2 and status["ecosystems"]["Debian:12"] == 11
    assert status["kev_entries"] == 4 and status["age_seconds"] < 3600
    assert {s["name"] for s in status["sources"]} >= {"bundled-samples", "cisa-kev", "my-osv"}
    code, out, _ = _run("db", "status", "--db", db)
    assert code == 0 and "crates.io" in out and "my-osv" in out and "Last update" in out


def test_import_errors_leave_the_database(tmp_path: Path) -> None:
    db = tmp_path / "v.sqlite"
    assert _run("db", "import-samples", "--db", str(db))[0] == 0
    before = db.read_bytes()
    code, _, err = _run("db", "import", str(tmp_path / "absent"), "--db", str(db))
    assert code == 2 and "no such file" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.json").write_text("{")
    code, _, err = _run("db", "import", str(broken), "--format", "osv", "--db", str(db))
    assert code == 2 and "no advisory could be read" in err
    assert db.read_bytes() == before


def test_export_and_import_bundle(tmp_path: Path) -> None:
    online = str(tmp_path / "online.sqlite")
    assert _run("db", "import-samples", "--db", online)[0] == 0
    bundle = tmp_path / "vulndb-bundle.tar"
    code, _, err = _run("db", "export", str(bundle), "--db", online)
    assert code == 0 and "sha256" in err
    site = str(tmp_path / "site.sqlite")
    code, _, err = _run("db", "import-bundle", str(bundle), "--db", site)
    assert code == 0 and "sha256 verified" in err
    code, _, err = _run("db", "import", str(bundle), "--db", str(tmp_path / "site2.sqlite"))
    assert code == 0 and "imported bundle" in err

    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    data = bytearray(members["vulndb.sqlite"])
    data[100] ^= 1
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(tampered, "w") as tar:
        for name, content in (("manifest.json", members["manifest.json"]), ("vulndb.sqlite", bytes(data))):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    code, _, err = _run("db", "import-bundle", str(tampered), "--db", site)
    assert code == 2 and "digest mismatch" in err and "not changed" in err


def test_status_lists_inventoried_ecosystems_without_data(tmp_path: Path) -> None:
    from shieldwall.model import Location, OSInfo, Package, PackageType, ScanResult, Target, TargetKind, TargetRef
    from shieldwall.store.core import Store
    from shieldwall.store.records import record_scan
    from shieldwall.vulndb.update import DEFAULT_ECOSYSTEMS

    db = str(tmp_path / "v.sqlite")
    assert _run("db", "import-samples", "--db", db)[0] == 0
    code, out, _ = _run("db", "status", "--format", "json", "--db", db)
    assert code == 0 and json.loads(out)["inventoried_without_data"] is None  # no store yet: cannot know
    rpm = Package(PackageType.RPM, "openssl-libs", "3.0.7-24.el9", "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9")
    pypi = Package(PackageType.PYPI, "jinja2", "2.7.1", "pkg:pypi/jinja2@2.7.1", locations=(Location("/r.txt"),))
    result = ScanResult(
        target=Target(TargetRef(TargetKind.DIRECTORY, "/x"), "x"),
        os=OSInfo("rocky", "Rocky Linux", "9.3"),
        packages=(rpm, pypi),
    )
    store = Store.open()
    try:
        record_scan(store, result)
    finally:
        store.close()
    code, out, _ = _run("db", "status", "--format", "json", "--db", db)
    assert code == 0 and json.loads(out)["inventoried_without_data"] == ["Rocky Linux"]
    code, out, _ = _run("db", "status", "--db", db)
    assert "Inventoried ecosystems without data: Rocky Linux" in " ".join(out.split())
    # and `db update` asks for Rocky Linux (every ecosystem the matcher supports) by default
    assert {"Rocky Linux", "AlmaLinux", "Red Hat", "Wolfi", "SUSE"} <= set(DEFAULT_ECOSYSTEMS)
