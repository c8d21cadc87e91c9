"""Air-gapped bundles: export, verified import, tampering rejected, previous database kept."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.vulndb.bundle import DATABASE, MANIFEST, SIGNATURE, export_bundle, import_bundle
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.osv import parse_osv
from shieldwall.vulndb.store import VulnDB


def _advisory(ident: str, name: str) -> object:
    return parse_osv({"id": ident, "affected": [{"package": {"ecosystem": "npm", "name": name}}]})


def _db(path: Path, *names: str) -> Path:
    with VulnDB.build(path) as writer:
        writer.replace_source(SourceInfo("s"), [_advisory(f"ID-{n}", n) for n in names])  # type: ignore[misc]
    return path


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = tmp_path / "key.pem"
    public = tmp_path / "key.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def test_round_trip(tmp_path: Path) -> None:
    source = _db(tmp_path / "online.sqlite", "a", "b")
    bundle = tmp_path / "out" / "bundle.tar"
    manifest = export_bundle(bundle, source)
    assert manifest.advisories == 2 and len(manifest.sha256) == 64 and not manifest.signed
    assert set(_members(bundle)) == {MANIFEST, DATABASE}

    target = _db(tmp_path / "airgap" / "vulndb.sqlite", "a", "old")
    imported = import_bundle(bundle, target)
    assert imported.sha256 == manifest.sha256
    with VulnDB.open(target) as db:
        assert [a.id for a in db.lookup("npm", "b")] == ["ID-b"]
        assert db.lookup("npm", "old") == []
        # the change set and the build generation follow on from the database the bundle replaced
        assert db.changed_packages() == {("npm", "b"), ("npm", "old")}
        assert db.generation() == 2
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == [target.name]


def test_import_into_an_empty_site_marks_everything_changed(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    export_bundle(bundle, _db(tmp_path / "online.sqlite", "a", "b"))
    target = tmp_path / "new" / "vulndb.sqlite"
    import_bundle(bundle, target)
    with VulnDB.open(target) as db:
        assert db.changed_packages() == {("npm", "a"), ("npm", "b")}


def _assert_rejected(bundle: Path, target: Path, error: type[Exception], match: str, **kw: Path) -> None:
    before = target.read_bytes()
    with pytest.raises(error, match=match):
        import_bundle(bundle, target, **kw)  # type: ignore[arg-type]
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == [target.name]
    with VulnDB.open(target) as db:
        assert [a.id for a in db.lookup("npm", "old")] == ["ID-old"]


def test_tampered_database_is_rejected(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    export_bundle(bundle, _db(tmp_path / "online.sqlite", "a"))
    members = _members(bundle)
    data = bytearray(members[DATABASE])
    data[len(data) // 2] ^= 0xFF
    tampered = _write_tar(tmp_path / "tampered.tar", {MANIFEST: members[MANIFEST], DATABASE: bytes(data)})
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(tampered, target, CorruptInputError, "digest mismatch")


def test_truncated_or_resized_database_is_rejected(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    export_bundle(bundle, _db(tmp_path / "online.sqlite", "a"))
    members = _members(bundle)
    short = _write_tar(tmp_path / "short.tar", {MANIFEST: members[MANIFEST], DATABASE: members[DATABASE][:-4096]})
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(short, target, CorruptInputError, "manifest says")


def test_signed_bundle(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    bundle = tmp_path / "b.tar"
    manifest = export_bundle(bundle, _db(tmp_path / "online.sqlite", "a"), signing_key=private)
    assert manifest.signed and SIGNATURE in _members(bundle)
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    import_bundle(bundle, target, public_key=public)
    with VulnDB.open(target) as db:
        assert [a.id for a in db.lookup("npm", "a")] == ["ID-a"]


def test_manifest_rewritten_to_match_a_tampered_database_fails_the_signature(tmp_path: Path) -> None:
    import hashlib

    private, public = _keys(tmp_path)
    bundle = tmp_path / "b.tar"
    export_bundle(bundle, _db(tmp_path / "online.sqlite", "a"), signing_key=private)
    members = _members(bundle)
    evil_db = _db(tmp_path / "evil.sqlite", "a", "evil").read_bytes()
    doc = json.loads(members[MANIFEST])
    doc["database"] = {"name": DATABASE, "sha256": hashlib.sha256(evil_db).hexdigest(), "size": len(evil_db)}
    forged = _write_tar(
        tmp_path / "forged.tar",
        {MANIFEST: json.dumps(doc).encode(), DATABASE: evil_db, SIGNATURE: members[SIGNATURE]},
    )
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(forged, target, CorruptInputError, "signature", public_key=public)
    # without a key the digest alone cannot catch a consistent forgery: that is what signatures are for
    unsigned = _write_tar(tmp_path / "unsigned.tar", {MANIFEST: members[MANIFEST], DATABASE: evil_db})
    _assert_rejected(unsigned, target, CorruptInputError, "manifest says|digest mismatch")


def test_unsigned_bundle_with_a_key_is_rejected(tmp_path: Path) -> None:
    _, public = _keys(tmp_path)
    bundle = tmp_path / "b.tar"
    export_bundle(bundle, _db(tmp_path / "online.sqlite", "a"))
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(bundle, target, CorruptInputError, "not signed", public_key=public)


def test_wrong_key_types(tmp_path: Path) -> None:
    private, _ = _keys(tmp_path)
    with pytest.raises(InputError, match="signing key"):
        export_bundle(tmp_path / "b.tar", _db(tmp_path / "online.sqlite", "a"), signing_key=tmp_path / "missing.pem")
    bundle = tmp_path / "ok.tar"
    export_bundle(bundle, tmp_path / "online.sqlite", signing_key=private)
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(bundle, target, InputError, "public key", public_key=private)


@pytest.mark.parametrize(
    ("members", "error", "match"),
    [
        ({"../evil": b"x", MANIFEST: b"{}"}, UnsafeInputError, "unexpected bundle member"),
        ({MANIFEST: b"{}"}, CorruptInputError, "needs"),
        ({MANIFEST: b"not json", DATABASE: b"x"}, CorruptInputError, "not valid JSON"),
        ({MANIFEST: b'{"format": "other"}', DATABASE: b"x"}, CorruptInputError, "not a Shieldwall"),
        (
            {MANIFEST: b'{"format": "shieldwall-vulndb-bundle", "database": {}}', DATABASE: b"x"},
            CorruptInputError,
            "sha256",
        ),
    ],
)
def test_malformed_bundles(tmp_path: Path, members: dict[str, bytes], error: type[Exception], match: str) -> None:
    bundle = _write_tar(tmp_path / "bad.tar", members)
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(bundle, target, error, match)


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "link.tar"
    with tarfile.open(bundle, "w") as tar:
        info = tarfile.TarInfo(DATABASE)
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(bundle, target, UnsafeInputError, "unexpected")


def test_not_a_tar(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"nope" * 200)
    target = _db(tmp_path / "site" / "vulndb.sqlite", "old")
    _assert_rejected(junk, target, CorruptInputError, "not a readable bundle")
