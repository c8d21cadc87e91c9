"""The hostile-input contract, end to end: each hostile target is scanned by the real CLI in a subprocess

- with its address space capped (``RLIMIT_AS`` 1.5 GiB: a full scan needs well under 1 GiB),
- inside a network namespace of its own where a listener on loopback counts every connection,
- beside a canary directory that must stay empty,

and must end with the documented exit code, a one-line diagnosis, no planted secret in its output, no
file in the canary, and no connection (a foreign-layer URL and SBOM references point at the listener).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import resource
import string
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

SRC = Path(__file__).resolve().parents[2] / "src"
ADDRESS_SPACE = 3 * (1 << 29)  # 1.5 GiB
PORT = 18765


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _archive(path: Path, layer: bytes, *, diff_id: str | None = None) -> Path:
    diff = diff_id if diff_id is not None else "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}})
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["hostile:1"], "Layers": ["l.tar"]}])
    path.write_bytes(
        _tar([_file("c.json", config.encode()), _file("l.tar", layer), _file("manifest.json", manifest.encode())])
    )
    return path


def _keys(count: int) -> list[str]:
    rnd = random.Random(11)
    return ["AKIA" + "".join(rnd.choice(string.ascii_uppercase + "234567") for _ in range(16)) for _ in range(count)]


FLOOD = _keys(60_000)


def traversal(tmp: Path) -> Path:
    return _archive(tmp / "t.tar", _tar([_file("../../canary/owned", b"pwned")]))


def hardlink_escape(tmp: Path) -> Path:
    link = tarfile.TarInfo("etc/passwd-copy")
    link.type = tarfile.LNKTYPE
    link.linkname = "../../../canary/owned"
    return _archive(tmp / "h.tar", _tar([(link, b"")]))


def bomb(tmp: Path) -> Path:
    data = b"\0" * (300 << 20)
    layer = _tar([_file("zeros.bin", data)])
    return _archive(tmp / "b.tar", gzip.compress(layer, 9), diff_id="sha256:" + hashlib.sha256(layer).hexdigest())


def deep_manifest(tmp: Path) -> Path:
    path = tmp / "d.tar"
    path.write_bytes(_tar([_file("manifest.json", ("[" * 200_000 + "]" * 200_000).encode())]))
    return path


def foreign_layer(tmp: Path) -> Path:
    """An OCI layout whose layer is a foreign layer with URLs at the listener, and the blob absent."""
    layout = tmp / "oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": ["sha256:" + "1" * 64]}}
    ).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (layout / "blobs" / "sha256" / config_digest).write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{config_digest}",
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    "digest": "sha256:" + "2" * 64, "size": 10, "urls": [f"http://127.0.0.1:{PORT}/layer"]}],
    }).encode()  # fmt: skip
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    (layout / "blobs" / "sha256" / manifest_digest).write_bytes(manifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": f"sha256:{manifest_digest}", "size": len(manifest)}]}  # fmt: skip
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def sbom_with_references(tmp: Path) -> Path:
    path = tmp / "refs.cdx.json"
    path.write_text(json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "externalReferences": [{"type": "bom", "url": f"http://127.0.0.1:{PORT}/bom.json"}],
        "components": [{"type": "library", "name": "left-pad", "version": "1.0.0", "purl": "pkg:npm/left-pad@1.0.0",
                        "externalReferences": [{"type": "distribution", "url": f"http://127.0.0.1:{PORT}/x.tgz"}]}],
    }))  # fmt: skip
    return path


def secret_flood(tmp: Path) -> Path:
    text = "\n".join(f"aws_access_key_id={k}" for k in FLOOD).encode()
    return _archive(tmp / "f.tar", _tar([_file("app/keys.env", text)]))


Case = tuple[Callable[[Path], Path], str, tuple[int, ...], str]
CASES: dict[str, Case] = {
    "traversal": (traversal, "docker-archive:", (2,), "escapes"),
    "hardlink-escape": (hardlink_escape, "docker-archive:", (2,), "escapes"),
    "decompression-bomb": (bomb, "docker-archive:", (2,), ""),
    "deep-manifest": (deep_manifest, "docker-archive:", (2,), "manifest.json"),
    "foreign-layer-urls": (foreign_layer, "oci:", (2,), ""),
    "sbom-references": (sbom_with_references, "sbom:", (0,), ""),
    "secret-flood": (secret_flood, "docker-archive:", (0,), ""),
}


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    name = f"swh-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


LISTENER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", %d)); s.listen(16)
print("ready", flush=True)
count = 0
s.settimeout(0.2)
while True:
    try:
        c, _ = s.accept(); count += 1; c.close()
        open(sys.argv[1], "w").write(str(count))
    except socket.timeout:
        pass
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_target_keeps_the_contract(case: str, tmp_path: Path, netns: str) -> None:
    build, prefix, codes, diagnosis = CASES[case]
    work = tmp_path / "work" / "scan"
    work.mkdir(parents=True)
    canary = tmp_path / "canary"
    canary.mkdir()
    target = build(tmp_path)
    hits = tmp_path / "connections"
    listener = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER % PORT, str(hits)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
            "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache"),
            "SHIELDWALL_CONFIG_DIR": str(tmp_path / "config"),
            "TMPDIR": str(work),
        }
        proc = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-m", "shieldwall", "scan", f"{prefix}{target}",
             "--format", "json", "-q", "--no-cache", "--allow-incomplete-db"],
            cwd=work, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_limit, check=False,
        )  # fmt: skip
    finally:
        listener.kill()
        listener.wait(10)
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-2000:])
    if proc.returncode == 2:
        err = proc.stderr.strip()
        assert err.startswith("error:") and len(err.splitlines()) <= 2 and "Traceback" not in err, err
        assert diagnosis in err, err
    assert list(canary.iterdir()) == [], "something was written outside Shieldwall's directories"
    assert not hits.exists(), f"{hits.read_text()} connection(s) left the process"
    output = proc.stdout + proc.stderr
    assert not any(key in output for key in FLOOD), "a planted secret was printed whole"
    if case == "secret-flood":
        doc = json.loads(proc.stdout)
        assert any("cut short" in w["message"] for w in doc["warnings"])
