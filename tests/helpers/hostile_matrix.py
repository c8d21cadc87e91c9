"""Hostile inputs for the contract matrix: each kind is generated on the fly, then written as each target type.

A ``Hostile`` image is a list of uncompressed layer tars (members built by hand,
so names may be bytes, records may lie about their size) plus a config, a
manifest layer listing and diff IDs that may lie too. ``write_target`` turns
it into a docker-archive (plain or gzip), an OCI layout (directory or tar), or
pushes it to a registry; a ``tree`` is the same hostile content as a
directory. SBOM kinds are documents written as files. Nothing here is big on
disk: hostile sizes are claimed by headers, holes and compression, never
stored.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import sqlite3
import string
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.sparse_tar import sparse_layer

MiB = 1 << 20
DEPTH = 100_000

# Planted secrets: every one must never appear whole in any output, the store or an API response.
ENV_PASSWORD = "Sup3rS3cret" + "MatrixPw77"
CURL_PASSWORD = "Hunter2" + "MatrixCurl"
LABEL_TOKEN = "ghp_" + "Mx8Qm2Lp7Rt4Vn6Bc9Kd1Fs3Gh5Jw0Yu2Ea4"
FILE_KEY = "AKIA" + "QZ7XW2MATRIX4HOST"
FILE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzMATRIXKEY"
DOCKERFILE_TOKEN = "ghp_" + "Dd1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"
PLANTED = (ENV_PASSWORD, CURL_PASSWORD, LABEL_TOKEN, FILE_KEY, FILE_SECRET, DOCKERFILE_TOKEN)


def flood_keys(count: int) -> list[str]:
    """Distinct AWS-key-shaped strings (deterministic)."""
    rnd = random.Random(23)
    return ["AKIA" + "".join(rnd.choice(string.ascii_uppercase + "234567") for _ in range(16)) for _ in range(count)]


FLOOD = flood_keys(60_000)


@dataclass(frozen=True)
class Link:
    """A symbolic or hard link member."""

    target: str
    hard: bool = False


Member = tuple[bytes, bytes | Link]


def tar_bytes(members: list[Member]) -> bytes:
    """An uncompressed tar of regular files and links; names are raw bytes (may be non-UTF-8)."""
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for raw, content in members:
            info = tarfile.TarInfo(os.fsdecode(raw))
            info.mtime = 1_700_000_000
            if isinstance(content, Link):
                info.type = tarfile.LNKTYPE if content.hard else tarfile.SYMTYPE
                info.linkname = content.target
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def sha256(data: bytes) -> str:
    """``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Hostile:
    """One hostile image: layers, a config (dict, or raw bytes that may not even be JSON) and what lies."""

    layers: list[bytes]
    config: dict[str, Any] | bytes | None = None
    diff_ids: list[str] | None = None
    listing: list[int] | None = None  # which layers the manifest lists, in order (repeats allowed)
    repo_tags: Any = field(default_factory=lambda: ["hostile/app:1"])
    tree: dict[bytes, bytes | Link] | None = None  # the same content as a directory, when a directory can hold it
    level: int = 1  # gzip level of layer blobs and gzipped archives (9 makes a bomb's ratio ~1000:1)

    def real_diff_ids(self) -> list[str]:
        """What the config claims (the real digests unless a kind lies)."""
        return self.diff_ids if self.diff_ids is not None else [sha256(layer) for layer in self.layers]

    def config_bytes(self) -> bytes:
        """The config blob."""
        if isinstance(self.config, bytes):
            return self.config
        doc: dict[str, Any] = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": self.real_diff_ids()},
            "history": [{"created_by": f"/bin/sh -c #(nop) layer {i}"} for i in range(len(self.layers))],
        }
        for key, value in (self.config or {}).items():
            doc[key] = value
        return json.dumps(doc).encode()

    def order(self) -> list[int]:
        """The manifest's layer listing."""
        return self.listing if self.listing is not None else list(range(len(self.layers)))


# --- writers, one per target type ---


def _outer_tar(path: Path, members: list[tuple[str, bytes]], *, gz: bool = False, level: int = 1) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    path.write_bytes(gzip.compress(raw, level, mtime=0) if gz else raw)
    return path


def docker_archive(image: Hostile, path: Path, *, gz: bool = False, reverse: bool = False) -> Path:
    """``docker save`` layout; ``gz`` compresses the whole archive, ``reverse`` stores layers last-listed first."""
    config = image.config_bytes()
    names = [f"{i:03d}/layer.tar" for i in range(len(image.layers))]
    manifest = [{"Config": "config.json", "RepoTags": image.repo_tags, "Layers": [names[i] for i in image.order()]}]
    layer_members = list(zip(names, image.layers, strict=True))
    if reverse:
        layer_members.reverse()
    members = [("manifest.json", json.dumps(manifest).encode()), ("config.json", config), *layer_members]
    return _outer_tar(path, members, gz=gz, level=image.level)


def oci_blobs(image: Hostile) -> tuple[dict[str, bytes], bytes]:
    """The blobs (gzip layers, config) and the manifest of an OCI image."""
    blobs: dict[str, bytes] = {}
    layer_descs = []
    for layer in image.layers:
        blob = gzip.compress(layer, image.level, mtime=0)
        blobs[sha256(blob)] = blob
        layer_descs.append(
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(blob), "size": len(blob)}
        )
    config = image.config_bytes()
    blobs[sha256(config)] = config
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                   "size": len(config)},
        "layers": [layer_descs[i] for i in image.order()],
    }).encode()  # fmt: skip
    return blobs, manifest


def oci_layout(image: Hostile, path: Path, *, as_tar: bool = False) -> Path:
    """An OCI image layout, as a directory or a tar."""
    blobs, manifest = oci_blobs(image)
    blobs[sha256(manifest)] = manifest
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(manifest),
                       "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "1"}}],
    }  # fmt: skip
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode()}
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest.split(":", 1)[1]] = data
    if as_tar:
        return _outer_tar(path, sorted(files.items()))
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def push(image: Hostile, host: str, repository: str, tag: str) -> str:
    """Push to a registry (blobs, then the manifest); the reference to scan."""
    from shieldwall.target.registry import RegistryClient
    from shieldwall.target.registry_push import put_manifest, upload_blob

    blobs, manifest = oci_blobs(image)
    with RegistryClient(host) as client:
        for digest, data in blobs.items():
            upload_blob(client, repository, digest, len(data), lambda data=data: io.BytesIO(data))  # type: ignore[misc]
        put_manifest(client, repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return f"{host}/{repository}:{tag}"


def directory(tree: dict[bytes, bytes | Link], path: Path) -> Path:
    """The hostile tree as a real directory (names as bytes, links as links)."""
    root = os.fsencode(path)
    for raw, content in tree.items():
        full = os.path.join(root, raw)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if isinstance(content, Link):
            os.symlink(os.fsencode(content.target), full)
        else:
            with open(full, "wb") as handle:
                handle.write(content)
    return path


# --- the kinds: image and directory content ---


def _plain(files: dict[bytes, bytes | Link], **kwargs: Any) -> Hostile:
    return Hostile([tar_bytes(list(files.items()))], tree=dict(files), **kwargs)


def traversal(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n"), (b"../../canary/owned", b"pwned")])])


def hardlink_escape(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/passwd-copy", Link("../../../canary/owned", hard=True))])])


def symlink_escape(tmp: Path) -> Hostile:
    outside = tmp / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "creds.env").write_text(f"aws_access_key_id={FILE_KEY}\naws_secret_access_key={FILE_SECRET}\n")
    return _plain({b"app/creds.env": Link(str(outside / "creds.env")), b"app/up": Link("../../../../../../")})


def non_utf8_names(_: Path) -> Hostile:
    creds = f"aws_access_key_id={FILE_KEY}\naws_secret_access_key={FILE_SECRET}\n".encode()
    return _plain({b"app/\xff\xfe-caf\xe9.env": creds, b"etc/\x80\x81": b"x"})


MARKUP = b"app/[/][link=http://127.0.0.1:1/]x[/link]\x1b[31mred\x1b]8;;http://x\x07\xe2\x80\xaeevil.env"


def markup_names(_: Path) -> Hostile:
    config = {"history": [{"created_by": "/bin/sh -c echo [/] [bold]\x1b[2J\x1b]8;;http://127.0.0.1:1/\x07x"}]}
    creds = f"aws_access_key_id={FILE_KEY}\naws_secret_access_key={FILE_SECRET}\n".encode()
    return _plain({MARKUP: creds}, config=config, repo_tags=["evil/[/]x:1"])


def _record(kind: bytes, size: int) -> bytes:
    """A member whose PAX header or GNU long name claims ``size`` bytes (the bytes are not there)."""
    info = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "././@PaxHeader")
    info.type = kind
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT if kind == tarfile.GNUTYPE_LONGNAME else tarfile.USTAR_FORMAT)
    return header + b"a" * 4096 + b"\0" * 1024


def huge_pax(_: Path) -> Hostile:
    return Hostile([_record(tarfile.XHDTYPE, 1 << 30)])


def huge_long_name(_: Path) -> Hostile:
    return Hostile([_record(tarfile.GNUTYPE_LONGNAME, 600 * MiB)])


def sparse_bomb(_: Path) -> Hostile:
    return Hostile([sparse_layer("gnu-1.0", 2000, 120 * MiB, prefix="app/hole")])


def secret_flood(_: Path) -> Hostile:
    return _plain({b"app/keys.env": "\n".join(f"aws_access_key_id={k}" for k in FLOOD).encode()})


def planted_secrets(_: Path) -> Hostile:
    dockerfile = f"FROM alpine:3.19\nENV GITHUB_TOKEN={DOCKERFILE_TOKEN}\nUSER app\n".encode()
    config = {
        "config": {"Env": ["PATH=/usr/bin", f"DB_PASSWORD={ENV_PASSWORD}"], "Labels": {"deploy-token": LABEL_TOKEN}},
        "history": [{"created_by": f"/bin/sh -c curl -u admin:{CURL_PASSWORD} https://repo.example/x"}],
    }
    files: dict[bytes, bytes | Link] = {
        b"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n",
        b"app/.env": f"aws_access_key_id={FILE_KEY}\naws_secret_access_key={FILE_SECRET}\n".encode(),
        b"app/Dockerfile": dockerfile,
    }
    return _plain(files, config=config)


def deep_lock_json(_: Path) -> Hostile:
    deep = ('{"a":' * DEPTH + "1" + "}" * DEPTH).encode()
    return _plain({b"app/package-lock.json": deep, b"app/package.json": b'{"name":"x","version":"1.0.0"}'})


def deep_pom_xml(_: Path) -> Hostile:
    deep = b"<project>" + b"<a>" * DEPTH + b"</a>" * DEPTH + b"</project>"
    return _plain({b"app/pom.xml": deep})


def xml_entities(_: Path) -> Hostile:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10) for i in range(1, 10))
        + b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]><project><groupId>&lol9;&xxe;</groupId></project>'
    )
    return _plain({b"app/pom.xml": lol})


def wrong_type_lock(_: Path) -> Hostile:
    return _plain({
        b"app/package-lock.json": b'{"lockfileVersion": 3, "packages": 5}',
        b"app/composer.lock": b'{"packages": [5, null, "x", {"name": 7}]}',
        b"app/Pipfile.lock": b"[]",
        b"usr/lib/python3/site-packages/x.dist-info/METADATA": b"\xff\xfe\x00garbage",
    })  # fmt: skip


def _sqlite(tmp: Path, ddl: str) -> bytes:
    path = tmp / "rpmdb-build.sqlite"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.executescript(ddl)
    connection.commit()
    connection.close()
    data = path.read_bytes()
    path.unlink()
    return data


def recursive_rpmdb(tmp: Path) -> Hostile:
    view = _sqlite(
        tmp,
        "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT zeroblob(10) AS blob, x AS hnum FROM c;",
    )
    return _plain({b"etc/os-release": b"ID=rhel\nVERSION_ID=9.3\n", b"var/lib/rpm/rpmdb.sqlite": view})


# --- the kinds: image documents (no directory form) ---


def deep_config(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], config=b'{"x":' + b"[" * DEPTH + b"]" * DEPTH + b"}")


def wrong_type_config(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], config={"rootfs": {"type": "layers", "diff_ids": 5}})


def not_json_config(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], config=b"\xff\xfe not json \x00")


def wrong_type_tags(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], repo_tags=5)


def layer_listed_512_times(_: Path) -> Hostile:
    layer = tar_bytes([(b"app/big.bin", os.urandom(2 * MiB))])
    return Hostile([layer], diff_ids=[sha256(layer)] * 512, listing=[0] * 512)


def layers_past_the_limit(_: Path) -> Hostile:
    layer = tar_bytes([(b"etc/hostname", b"x\n")])
    return Hostile([layer], diff_ids=[sha256(layer)] * 600, listing=[0] * 600)


def reversed_layers(_: Path) -> Hostile:
    rnd = random.Random(5)
    layers = [tar_bytes([(f"app/l{i}.bin".encode(), rnd.randbytes(256 * 1024))]) for i in range(60)]
    return Hostile(layers)


def diff_id_mismatch(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], diff_ids=["sha256:" + "ab" * 32])


def empty_diff_id(_: Path) -> Hostile:
    return Hostile([tar_bytes([(b"etc/hostname", b"x\n")])], diff_ids=[""])


def decompression_bomb(_: Path) -> Hostile:
    # 300 MiB of zeros, gzipped at level 9 (~1000:1): the layer blobs, or the whole docker-archive
    return Hostile([tar_bytes([(b"zeros.bin", b"\0" * (300 * MiB))])], level=9)


Builder = Callable[[Path], Hostile]

# --- SBOM kinds: (file name, builder of the bytes) ---


def _cdx(components: Any) -> bytes:
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components}).encode()


def sbom_deep_cdx_json(_: Path) -> bytes:
    head = b'{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"x","properties":'
    return head + b"[" * DEPTH + b"]" * DEPTH + b"}]}"


def sbom_deep_cdx_xml(_: Path) -> bytes:
    head = b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
    return head + b"<component>" * DEPTH + b"</component>" * DEPTH + b"</components></bom>"


def sbom_entities_cdx_xml(_: Path) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY a%d "%s">' % (i, (b"&a%d;" % (i - 1) if i > 1 else b"&a;") * 10) for i in range(1, 10))
        + b'<!ENTITY xxe SYSTEM "file:///etc/shadow">]><bom xmlns="http://cyclonedx.org/schema/bom/1.5">'
        + b'<components><component type="library"><name>&a9;&xxe;</name><version>1</version></component>'
        + b"</components></bom>"
    )


def sbom_deep_spdx_json(_: Path) -> bytes:
    return b'{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":' + b"[" * DEPTH + b"]" * DEPTH + b"}"


def sbom_wrong_types_cdx(_: Path) -> bytes:
    return _cdx(5)


def sbom_wrong_items_cdx(_: Path) -> bytes:
    return _cdx([5, None, "x", {"name": 7, "version": [1]}, {"name": "ok", "version": "1.0", "purl": 3}])


def sbom_wrong_types_spdx(_: Path) -> bytes:
    return json.dumps({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": {"a": 1}}).encode()


def sbom_too_many(_: Path) -> bytes:
    return _cdx([{"type": "library", "name": f"p{i}", "version": "1"} for i in range(250_001)])


def sbom_junk_tag_value(_: Path) -> bytes:
    rnd = random.Random(3)
    junk = "".join(rnd.choice(string.ascii_letters + ":; \t") for _ in range(4 * MiB))
    return b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n" + junk.encode()


def sbom_markup_names(_: Path) -> bytes:
    name = "[/][link=http://127.0.0.1:1/]x[/link]\x1b[31mred\x1b]8;;http://x\x07\u202eevil"
    return _cdx([{"type": "library", "name": name, "version": "1.0\x1b[2J", "purl": f"pkg:npm/{name}@1.0"}])


def sbom_non_utf8_tag_value(_: Path) -> bytes:
    return (
        b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: x\n"
        b"DocumentNamespace: https://example.com/x\nCreator: Tool: x\nCreated: 2024-01-01T00:00:00Z\n\n"
        b"PackageName: caf\xe9-\xff\xfe\nSPDXID: SPDXRef-p1\nPackageVersion: 1.0\n"
        b"PackageDownloadLocation: NOASSERTION\n"
    )


def sbom_oversize(_: Path) -> bytes:
    return b""  # written as a 65 MiB sparse file by the test (see SBOM_OVERSIZE)


SBOM_OVERSIZE = 65 * MiB
