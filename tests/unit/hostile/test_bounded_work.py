"""Work a hostile file can cause is bounded and reported: secret-shaped floods, one layer listed many times."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from helpers.analyzers import PkgListAnalyzer
from helpers.images import build_docker_archive
from shieldwall.analyze.secret.config import SecretsConfig, build_ruleset
from shieldwall.analyze.secret.engine import MAX_MATCHES, SecretEngine
from shieldwall.service.scan import ScanOptions, scan_target


def _keys(count: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    alphabet = string.ascii_uppercase + "234567"
    return ["AKIA" + "".join(rnd.choice(alphabet) for _ in range(16)) for _ in range(count)]


def _engine(tmp_path: Path) -> SecretEngine:
    rules = build_ruleset(SecretsConfig())
    return SecretEngine(rules.rules, rules.allowlist, cache_dir=tmp_path / "hs")


def test_a_flood_of_key_shaped_strings_is_capped_and_says_so(tmp_path: Path) -> None:
    data = "\n".join(f"aws_access_key_id={k}" for k in _keys(120_000)).encode()
    matches = _engine(tmp_path).scan(data, "flood.env")
    assert len(matches) == MAX_MATCHES
    assert matches.truncated
    assert [m.line for m in matches] == sorted(m.line for m in matches)


def test_distinct_tokens_on_one_line_keep_correct_columns(tmp_path: Path) -> None:
    keys = _keys(50)
    line = " ".join(f"aws_access_key_id={k}" for k in keys)
    matches = _engine(tmp_path).scan(line.encode(), "one-line.txt")
    assert not matches.truncated
    assert [m.secret.decode() for m in matches] == keys
    for match in matches:
        assert line[match.column - 1 : match.column - 1 + 20] == match.secret.decode()


def test_a_scan_reports_the_cut_as_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "flood.env").write_text("\n".join(f"aws_access_key_id={k}" for k in _keys(3_000)))
    result = scan_target(f"dir:{root}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    assert any("cut short" in w.message for w in result.warnings), result.warnings
    assert sum(1 for f in result.findings if f.kind == "secret") <= MAX_MATCHES


def test_one_layer_listed_many_times_is_analysed_once(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/a.pkglist": b"a 1\n"}])
    import tarfile

    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config_name = manifest[0]["Config"]
        config = json.loads(tar.extractfile(config_name).read())  # type: ignore[union-attr]
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    layer = manifest[0]["Layers"][0]
    manifest[0]["Layers"] = [layer] * 200
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"] * 200
    members["manifest.json"] = json.dumps(manifest).encode()
    members[config_name] = json.dumps(config).encode()
    # the config's digest is its file name in the archive: rename it
    import hashlib
    import io

    new_name = hashlib.sha256(members[config_name]).hexdigest() + ".json"
    members[new_name] = members.pop(config_name)
    manifest[0]["Config"] = new_name
    members["manifest.json"] = json.dumps(manifest).encode()
    repeated = tmp_path / "repeated.tar"
    with tarfile.open(repeated, "w") as out:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    analyzer = PkgListAnalyzer()
    result = scan_target(
        f"docker-archive:{repeated}", ScanOptions(analyzers=(), extra_analyzers=(analyzer,), use_cache=False)
    )
    assert analyzer.calls == 1
    assert len(result.layers) == 200
    assert [p.name for p in result.packages] == ["a"]


def _sqlite_bytes(tmp_path: Path, ddl: str) -> bytes:
    import sqlite3

    path = tmp_path / "rpmdb.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript(ddl)
    connection.commit()
    connection.close()
    return path.read_bytes()


def test_an_rpmdb_whose_packages_is_a_recursive_view_is_refused(tmp_path: Path) -> None:
    from shieldwall.analyze.base import AnalyzerError
    from shieldwall.analyze.os.rpm import sqlite_blobs

    view = _sqlite_bytes(
        tmp_path,
        "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT zeroblob(10) AS blob, x AS hnum FROM c;",
    )
    with pytest.raises(AnalyzerError, match="not a table"):
        sqlite_blobs(view)


def test_an_rpmdb_query_that_never_ends_runs_out_of_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shieldwall.analyze.base import AnalyzerError
    from shieldwall.analyze.os import rpm

    data = _sqlite_bytes(
        tmp_path,
        "CREATE TABLE Packages (hnum INTEGER, blob BLOB);"
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000)"
        " INSERT INTO Packages SELECT x, zeroblob(4) FROM c;",
    )
    # an endless table cannot be written to disk: the budget is proven by lowering it below this table's cost
    monkeypatch.setattr(rpm, "SQLITE_STEP_BUDGET", 5)
    with pytest.raises(AnalyzerError, match="budget"):
        rpm.sqlite_blobs(data)


def test_layers_of_a_compressed_archive_are_read_in_archive_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``docker save | gzip`` with the layers stored last-first: each layer read once, never seeking back."""
    import gzip
    import hashlib
    import io
    import tarfile

    from helpers.images import layer_tar
    from shieldwall.target.blobs import TarBlobs

    layers = [layer_tar({f"/l{i}.pkglist": f"p{i} {i}\n".encode()}) for i in range(6)]
    diffs = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}})
    names = [f"{i}/layer.tar" for i in range(6)]
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": names}])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as out:
        members = [("manifest.json", manifest.encode()), ("c.json", config.encode())]
        members += [(names[i], layers[i]) for i in reversed(range(6))]  # stored last-first
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    archive = tmp_path / "image.tar.gz"
    archive.write_bytes(gzip.compress(raw.getvalue()))

    offsets: list[int] = []
    original = TarBlobs.open

    def recording(self: TarBlobs, name: str) -> object:
        if name.endswith("layer.tar"):
            offsets.append(self.offset(name))
        return original(self, name)

    monkeypatch.setattr(TarBlobs, "open", recording)
    analyzer = PkgListAnalyzer()
    result = scan_target(
        f"docker-archive:{archive}", ScanOptions(analyzers=(), extra_analyzers=(analyzer,), use_cache=False)
    )
    assert offsets == sorted(offsets) and len(offsets) == 6  # one forward pass over the compressed stream
    assert [p.name for p in result.packages] == [f"p{i}" for i in range(6)]  # merged in layer order
    assert [layer.digest for layer in result.layers] == diffs
