#!/usr/bin/env python3
"""Build the inventory-benchmark image without a Docker daemon.

The image is made of real software fetched through ordinary package clients:

1. a Debian 12 (bookworm) root filesystem made by ``debootstrap --variant=minbase``
   from the Debian mirror, with a few extra packages (python3, pip, curl...);
2. a Python application: ~35 real wheels from PyPI installed into a venv-like
   ``/app/venv/lib/python3.11/site-packages`` (dist-info directories) plus a
   pinned ``/app/requirements.txt``;
3. a Node application: a real ``package.json``, the ``package-lock.json`` and
   ``node_modules`` that ``npm install`` produced;
4. a Go binary built with the local ``go`` toolchain from a tiny module that
   depends on two third-party modules; their sources come from Debian's
   ``golang-*-dev`` packages, served to ``go`` through a file-based GOPROXY, so
   the binary's build info lists real module versions with ``h1:`` sums;
5. a layer that only deletes: ``pip uninstall tabulate`` (whiteouts of files
   from layer 2) and an opaque whiteout of ``/var/lib/apt/lists``.

It is packed twice: as a ``docker save``-style docker-archive (plain layer tars,
``manifest.json``, ``repositories``, legacy ``<id>/json`` + ``VERSION``) and as
an OCI image layout directory (gzip-compressed layers). Layer tars are written
with deterministic ordering, numeric owners, mtimes clamped to a fixed epoch,
and symlinks, hardlinks and modes preserved.

Everything goes under ``benchmarks/work/`` (git-ignored). Each stage is cached
with a stamp of its inputs, so a rerun only repacks (``--rebuild STAGE`` redoes
one stage, ``--rebuild all`` everything). Run as root (debootstrap needs it)::

    .venv/bin/python benchmarks/build_image.py
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / "work"

IMAGE_NAME = "shieldwall-bench"
IMAGE_TAG = "latest"
# Every mtime in every layer is clamped to this (SOURCE_DATE_EPOCH style): 2025-01-01T00:00:00Z.
EPOCH = 1735689600
CREATED = "2025-01-01T00:00:00Z"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_INCLUDE = ("python3", "python3-pip", "ca-certificates", "curl", "openssl")

# A pip-freeze style, fully pinned set: every wheel exists for CPython 3.11 on manylinux x86_64.
PYTHON_REQUIREMENTS = (
    "annotated-types==0.7.0",
    "asgiref==3.8.1",
    "attrs==24.3.0",
    "blinker==1.9.0",
    "certifi==2024.12.14",
    "cffi==1.17.1",
    "charset-normalizer==3.4.1",
    "click==8.1.8",
    "cryptography==44.0.0",
    "Django==5.1.5",
    "Flask==3.1.0",
    "greenlet==3.1.1",
    "gunicorn==23.0.0",
    "idna==3.10",
    "itsdangerous==2.2.0",
    "Jinja2==3.1.5",
    "MarkupSafe==3.0.2",
    "numpy==2.2.2",
    "packaging==24.2",
    "pycparser==2.22",
    "pydantic==2.10.5",
    "pydantic_core==2.27.2",
    "python-dateutil==2.9.0.post0",
    "pytz==2024.2",
    "PyYAML==6.0.2",
    "requests==2.32.3",
    "six==1.17.0",
    "SQLAlchemy==2.0.37",
    "sqlparse==0.5.3",
    "tabulate==0.9.0",
    "typing_extensions==4.12.2",
    "urllib3==2.3.0",
    "Werkzeug==3.1.3",
)
PYTHON_PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64", "linux_x86_64")
# Removed again by the last layer (a real `pip uninstall`, seen as whiteouts).
PYTHON_UNINSTALLED = "tabulate"

NODE_PACKAGE_JSON: dict[str, Any] = {
    "name": "bench-web",
    "version": "1.4.2",
    "private": True,
    "description": "Node application of the Shieldwall inventory benchmark image",
    "main": "index.js",
    "license": "MIT",
    "dependencies": {
        "axios": "1.7.9",
        "chalk": "4.1.2",
        "commander": "13.0.0",
        "dotenv": "16.4.7",
        "express": "4.21.2",
        "jsonwebtoken": "9.0.2",
        "lodash": "4.17.21",
        "moment": "2.30.1",
        "react": "18.3.1",
        "react-dom": "18.3.1",
        "uuid": "11.0.5",
    },
    "devDependencies": {"@types/express": "5.0.0"},
}

# Third-party Go modules: Debian package -> (module path, version, path under /usr/share/gocode/src).
GO_DEPS = (
    ("golang-github-google-uuid-dev", "github.com/google/uuid", "v1.3.0"),
    ("golang-golang-x-text-dev", "golang.org/x/text", "v0.7.0"),
)
GO_MODULE = "example.com/bench/hello"
GO_MAIN = """package main

import (
	"fmt"
	"os"

	"github.com/google/uuid"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

func main() {
	name := "world"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Println(cases.Title(language.English).String("hello " + name), uuid.NewString())
}
"""

PY_APP = '''"""Tiny Flask application of the benchmark image."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
'''

NODE_APP = """const express = require('express');
const app = express();
app.get('/', (req, res) => res.send('ok'));
app.listen(process.env.PORT || 3000);
"""

PATH_ENV = "PATH=/app/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str) -> None:
    """Print a progress line to stderr."""
    print(f"[build_image] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs: Any) -> None:
    """Run a command, echoing it, and fail loudly if it fails."""
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kwargs)


@dataclass
class Stage:
    """One cached build stage: a directory produced from a spec."""

    name: str
    spec: dict[str, Any]
    build: Callable[[Path], None]
    timing: dict[str, float] = field(default_factory=dict)

    def ensure(self, cache: Path, force: bool) -> Path:
        """Return the stage directory, building it first if the stamp does not match."""
        out = cache / self.name
        stamp = cache / f"{self.name}.stamp.json"
        wanted = json.dumps(self.spec, sort_keys=True)
        if not force and out.is_dir() and stamp.is_file() and stamp.read_text() == wanted:
            log(f"stage {self.name}: cached")
            return out
        for path in (out, out.with_name(out.name + ".tmp")):
            if path.exists():
                shutil.rmtree(path)
        stamp.unlink(missing_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.mkdir(parents=True)
        started = time.monotonic()
        self.build(tmp)
        tmp.rename(out)
        stamp.write_text(wanted)
        self.timing["build_s"] = time.monotonic() - started
        log(f"stage {self.name}: built in {self.timing['build_s']:.1f}s")
        return out


# --------------------------------------------------------------------------- stages


def build_debian(out: Path) -> None:
    """Layer 1: debootstrap a minbase bookworm with a few extra packages."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install debootstrap")
    run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(DEBIAN_INCLUDE),
            DEBIAN_SUITE,
            str(out),
            DEBIAN_MIRROR,
        ]
    )
    # What `apt-get clean` and a container base image would leave out.
    for deb in (out / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for name in ("pkgcache.bin", "srcpkgcache.bin"):
        (out / "var/cache/apt" / name).unlink(missing_ok=True)
    # Docker images carry an empty /dev; device nodes are dropped at packing time anyway.
    (out / "etc/hostname").write_text("bench\n")


def build_python(out: Path) -> None:
    """Layer 2: real wheels from PyPI in /app/venv plus /app/requirements.txt."""
    app = out / "app"
    venv = app / "venv"
    site = venv / "lib/python3.11/site-packages"
    site.mkdir(parents=True)
    requirements = app / "requirements.txt"
    requirements.write_text("# pinned with pip freeze\n" + "\n".join(PYTHON_REQUIREMENTS) + "\n")
    (app / "app.py").write_text(PY_APP)
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(site), "--no-compile", "--no-deps"]
    cmd += ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    for platform in PYTHON_PLATFORMS:
        cmd += ["--platform", platform]
    cmd += ["--index-url", "https://pypi.org/simple", "--no-warn-script-location", "--quiet"]
    cmd += ["-r", str(requirements)]
    run(cmd)
    # pip --target puts console scripts in <target>/bin; a venv has them in venv/bin with its own shebang.
    bin_dir = venv / "bin"
    bin_dir.mkdir()
    scripts = site / "bin"
    if scripts.is_dir():
        for script in sorted(scripts.iterdir()):
            data = script.read_bytes()
            if data.startswith(b"#!"):
                data = b"#!/app/venv/bin/python" + data[data.index(b"\n") :]
            (bin_dir / script.name).write_bytes(data)
            (bin_dir / script.name).chmod(0o755)
        shutil.rmtree(scripts)
    os.symlink("/usr/bin/python3", bin_dir / "python")
    os.symlink("python", bin_dir / "python3")
    os.symlink("python", bin_dir / "python3.11")
    os.symlink("lib", venv / "lib64")
    (venv / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
        "executable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv /app/venv\n"
    )
    installed = sorted(p.name for p in site.glob("*.dist-info"))
    log(f"python: {len(installed)} dist-info directories")
    if len(installed) != len(PYTHON_REQUIREMENTS):
        raise SystemExit(f"expected {len(PYTHON_REQUIREMENTS)} dist-info directories, got {installed}")


def build_node(out: Path, npm_cache: Path) -> None:
    """Layer 3: a real npm install (package.json, package-lock.json, node_modules)."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is missing: apt-get install npm")
    web = out / "app/web"
    web.mkdir(parents=True)
    (web / "package.json").write_text(json.dumps(NODE_PACKAGE_JSON, indent=2) + "\n")
    (web / "index.js").write_text(NODE_APP)
    run(
        [
            "npm",
            "install",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--registry=https://registry.npmjs.org/",
            "--cache",
            str(npm_cache),
        ],
        cwd=web,
    )
    lock = json.loads((web / "package-lock.json").read_text())
    log(f"node: lockfileVersion {lock.get('lockfileVersion')}, {len(lock.get('packages', {})) - 1} packages")


def _module_zip(src: Path, module: str, version: str, dest: Path, go_mod: bytes) -> None:
    """Write a Go module zip (files under ``module@version/``) deterministically."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src).as_posix()
            if not path.is_file() or path.is_symlink() or rel == "go.mod" or "/vendor/" in f"/{rel}":
                continue
            info = zipfile.ZipInfo(f"{module}@{version}/{rel}", date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
        info = zipfile.ZipInfo(f"{module}@{version}/go.mod", date_time=(2025, 1, 1, 0, 0, 0))
        zf.writestr(info, go_mod)


def build_go(out: Path, cache: Path) -> None:
    """Layer 4: a Go binary with build info naming two real third-party modules."""
    if shutil.which("go") is None:
        raise SystemExit("go is missing: apt-get install golang-go")
    debs = cache / "go-debs"
    if debs.exists():
        shutil.rmtree(debs)
    debs.mkdir(parents=True)
    run(["apt-get", "download", *(d[0] for d in GO_DEPS)], cwd=debs, stderr=subprocess.DEVNULL)
    extracted = debs / "root"
    for deb in sorted(debs.glob("*.deb")):
        run(["dpkg-deb", "-x", str(deb), str(extracted)])
    # A file-based module proxy (https://go.dev/ref/mod#goproxy-protocol) serving Debian's sources.
    proxy = cache / "goproxy"
    if proxy.exists():
        shutil.rmtree(proxy)
    requires = []
    for _deb, module, version in GO_DEPS:
        src = extracted / "usr/share/gocode/src" / module
        vdir = proxy / module / "@v"
        vdir.mkdir(parents=True)
        # Debian keeps upstream's go.mod; requirements marked tagx:ignore (build tooling) are dropped.
        go_mod = f"module {module}\n\ngo 1.17\n".encode()
        (vdir / "list").write_text(version + "\n")
        (vdir / f"{version}.info").write_text(json.dumps({"Version": version, "Time": CREATED}))
        (vdir / f"{version}.mod").write_bytes(go_mod)
        _module_zip(src, module, version, vdir / f"{version}.zip", go_mod)
        requires.append(f"\t{module} {version}")
    src_dir = cache / "go-src"
    if src_dir.exists():
        shutil.rmtree(src_dir)
    src_dir.mkdir()
    (src_dir / "go.mod").write_text(f"module {GO_MODULE}\n\ngo 1.19\n\nrequire (\n" + "\n".join(requires) + "\n)\n")
    (src_dir / "main.go").write_text(GO_MAIN)
    env = dict(os.environ)
    env.update(
        GOPROXY=proxy.as_uri(),
        GOSUMDB="off",
        GOFLAGS="-mod=mod",
        GOPATH=str(cache / "gopath"),
        GOMODCACHE=str(cache / "gopath/pkg/mod"),
        GOCACHE=str(cache / "gocache"),
        CGO_ENABLED="0",
        GOOS="linux",
        GOARCH="amd64",
    )
    run(["go", "mod", "tidy"], cwd=src_dir, env=env)
    binary = out / "usr/local/bin/bench-hello"
    binary.parent.mkdir(parents=True)
    run(["go", "build", "-trimpath", "-buildvcs=false", "-o", str(binary), "."], cwd=src_dir, env=env)
    info = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, check=True)
    log("go build info:\n" + info.stdout)
    # Go makes its module cache read-only; keep it, it is reused on rebuilds.


# --------------------------------------------------------------------------- layer tars


def _walk(root: Path) -> Iterator[Path]:
    """Yield every path under ``root`` depth-first, names sorted, a directory before its contents."""
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    for entry in entries:
        path = Path(entry.path)
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path)


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = ""
    info.gname = ""
    info.mtime = min(int(info.mtime), EPOCH)
    info.pax_headers = {}
    return info


@dataclass
class LayerTar:
    """A written, uncompressed layer tar."""

    path: Path
    diff_id: str
    size: int
    entries: int


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_layer(
    dest: Path,
    roots: Iterable[Path] = (),
    whiteouts: Iterable[str] = (),
    opaque_dirs: Iterable[str] = (),
) -> LayerTar:
    """Write a layer tar from directory trees (merged in order) plus whiteout markers."""
    count = 0
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for root in roots:
            for path in _walk(root):
                mode = path.lstat().st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                    continue  # device nodes, fifos, sockets: not part of an image layer
                arcname = path.relative_to(root).as_posix()
                info = tar.gettarinfo(str(path), arcname)
                _normalise(info)
                if info.isreg():
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
                count += 1
        markers = sorted(
            [(w.rsplit("/", 1)[0] if "/" in w else "", w) for w in whiteouts]
            + [(d, d + "/.wh..wh..opq") for d in opaque_dirs]
        )
        parents_done: set[str] = set()
        for parent, target in markers:
            if "/.wh..wh..opq" in target:
                name = target
            else:
                name = (parent + "/" if parent else "") + ".wh." + target.rsplit("/", 1)[-1]
            # Parent directories first, as docker's differ writes them.
            parts = parent.split("/") if parent else []
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if sub in parents_done:
                    continue
                parents_done.add(sub)
                dinfo = tarfile.TarInfo(sub)
                dinfo.type = tarfile.DIRTYPE
                dinfo.mode = 0o755
                dinfo.mtime = EPOCH
                tar.addfile(dinfo)
                count += 1
            winfo = tarfile.TarInfo(name)
            winfo.mode = 0o644
            winfo.mtime = EPOCH
            tar.addfile(winfo)
            count += 1
    tmp.rename(dest)
    return LayerTar(dest, "sha256:" + _sha256_file(dest), dest.stat().st_size, count)


# --------------------------------------------------------------------------- packing


@dataclass
class LayerSpec:
    """What goes into one layer and the history line that made it."""

    name: str
    created_by: str
    roots: list[Path]
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_config(layers: list[LayerTar], specs: list[LayerSpec]) -> dict[str, Any]:
    """The image config: env/user/cmd, diff_ids and one history entry per step."""
    history: list[dict[str, Any]] = []
    for spec in specs:
        history.append({"created": CREATED, "created_by": spec.created_by})
        if spec.name == "debian":
            history.append({"created": CREATED, "created_by": 'CMD ["bash"]', "empty_layer": True})
    history += [
        {"created": CREATED, "created_by": f"ENV {PATH_ENV}", "empty_layer": True},
        {"created": CREATED, "created_by": "ENV PYTHONUNBUFFERED=1 NODE_ENV=production", "empty_layer": True},
        {"created": CREATED, "created_by": "WORKDIR /app", "empty_layer": True},
        {"created": CREATED, "created_by": "USER 1000:1000", "empty_layer": True},
        {"created": CREATED, "created_by": "EXPOSE 8000/tcp", "empty_layer": True},
        {
            "created": CREATED,
            "created_by": 'CMD ["/app/venv/bin/gunicorn", "--bind", "0.0.0.0:8000", "app:app"]',
            "empty_layer": True,
        },
    ]
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "author": "shieldwall benchmarks/build_image.py",
        "config": {
            "Env": [PATH_ENV, "PYTHONUNBUFFERED=1", "NODE_ENV=production"],
            "User": "1000:1000",
            "WorkingDir": "/app",
            "ExposedPorts": {"8000/tcp": {}},
            "Cmd": ["/app/venv/bin/gunicorn", "--bind", "0.0.0.0:8000", "app:app"],
            "Labels": {"org.opencontainers.image.title": IMAGE_NAME},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": history,
    }


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = EPOCH
    tar.addfile(info)


def write_docker_archive(dest: Path, layers: list[LayerTar], config: bytes) -> None:
    """Write a ``docker save`` (legacy) archive: manifest.json, <config>.json, <id>/layer.tar, repositories."""
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    tmp = dest.with_suffix(".tmp")
    layer_ids: list[str] = []
    parent = ""
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for index, layer in enumerate(layers):
            # Legacy v1 ids: a chain over the parent id and the diff id, like docker's v1 compatibility ids.
            layer_id = hashlib.sha256(f"{parent}\n{layer.diff_id}".encode()).hexdigest()
            layer_ids.append(layer_id)
            v1: dict[str, Any] = {"id": layer_id, "created": CREATED, "os": "linux"}
            if parent:
                v1["parent"] = parent
            if index == len(layers) - 1:
                v1["config"] = json.loads(config)["config"]
                v1["architecture"] = "amd64"
            _add_dir(tar, layer_id)
            _add_bytes(tar, f"{layer_id}/VERSION", b"1.0")
            _add_bytes(tar, f"{layer_id}/json", _json_bytes(v1))
            info = tarfile.TarInfo(f"{layer_id}/layer.tar")
            info.size = layer.size
            info.mode = 0o644
            info.mtime = EPOCH
            with layer.path.open("rb") as fh:
                tar.addfile(info, fh)
            parent = layer_id
        _add_bytes(tar, config_name, config)
        manifest = [
            {
                "Config": config_name,
                "RepoTags": [f"{IMAGE_NAME}:{IMAGE_TAG}"],
                "Layers": [f"{lid}/layer.tar" for lid in layer_ids],
            }
        ]
        _add_bytes(tar, "manifest.json", _json_bytes(manifest))
        _add_bytes(tar, "repositories", _json_bytes({IMAGE_NAME: {IMAGE_TAG: layer_ids[-1]}}))
    tmp.rename(dest)


def _gzip_to(src: Path, dest: BinaryIO) -> None:
    with gzip.GzipFile(filename="", mode="wb", fileobj=dest, mtime=0, compresslevel=6) as gz, src.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            gz.write(chunk)


def write_oci_layout(dest: Path, layers: list[LayerTar], config: bytes, gz_cache: Path) -> None:
    """Write an OCI image layout directory with gzip-compressed layer blobs."""
    if dest.exists():
        shutil.rmtree(dest)
    blobs = dest / "blobs/sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer_descs = []
    for layer in layers:
        # gzip is the slow part; cache the compressed blob by diff id.
        cached = gz_cache / (layer.diff_id.split(":", 1)[1] + ".tar.gz")
        if not cached.is_file():
            tmp = cached.with_suffix(".tmp")
            with tmp.open("wb") as out:
                _gzip_to(layer.path, out)
            tmp.rename(cached)
        digest = _sha256_file(cached)
        if cached.stat().st_dev == blobs.stat().st_dev:
            os.link(cached, blobs / digest)
        else:
            shutil.copy(cached, blobs / digest)
        layer_descs.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": f"sha256:{digest}",
                "size": cached.stat().st_size,
            }
        )
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layer_descs,
    }
    manifest_desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(_json_bytes(manifest))}
    manifest_desc["annotations"] = {
        "io.containerd.image.name": f"docker.io/library/{IMAGE_NAME}:{IMAGE_TAG}",
        "org.opencontainers.image.ref.name": IMAGE_TAG,
    }
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest_desc],
    }
    (dest / "oci-layout").write_bytes(_json_bytes({"imageLayoutVersion": "1.0.0"}))
    (dest / "index.json").write_bytes(_json_bytes(index))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) every stage, then write the layer tars, docker-archive and OCI layout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work directory (default: %(default)s)")
    parser.add_argument(
        "--rebuild",
        action="append",
        default=[],
        choices=["all", "debian", "python", "node", "go"],
        help="rebuild a cached stage (repeatable)",
    )
    parser.add_argument("--no-go", action="store_true", help="leave out the Go layer")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        log("warning: not root; debootstrap and root-owned files need root")

    work: Path = args.work.resolve()
    cache = work / "cache"
    out_dir = work / "image"
    layer_dir = work / "layers"
    for d in (cache, out_dir, layer_dir, cache / "gz"):
        d.mkdir(parents=True, exist_ok=True)
    rebuild = set(args.rebuild)
    timings: dict[str, float] = {}
    started_all = time.monotonic()

    def force(name: str) -> bool:
        return "all" in rebuild or name in rebuild

    stages = [
        Stage(
            "debian-rootfs",
            {"suite": DEBIAN_SUITE, "mirror": DEBIAN_MIRROR, "include": DEBIAN_INCLUDE, "v": 1},
            build_debian,
        ),
        Stage("python-app", {"req": PYTHON_REQUIREMENTS, "platforms": PYTHON_PLATFORMS, "v": 1}, build_python),
        Stage("node-app", {"package": NODE_PACKAGE_JSON, "v": 1}, lambda out: build_node(out, cache / "npm")),
    ]
    if not args.no_go:
        stages.append(
            Stage(
                "go-app", {"deps": GO_DEPS, "main": GO_MAIN, "module": GO_MODULE, "v": 2}, lambda o: build_go(o, cache)
            )
        )
    stage_force = {"debian-rootfs": "debian", "python-app": "python", "node-app": "node", "go-app": "go"}
    dirs: dict[str, Path] = {}
    for stage in stages:
        t0 = time.monotonic()
        dirs[stage.name] = stage.ensure(cache, force(stage_force[stage.name]))
        timings[f"stage {stage.name}"] = time.monotonic() - t0

    uninstalled = sorted(
        p.relative_to(dirs["python-app"]).as_posix()
        for p in (dirs["python-app"] / "app/venv/lib/python3.11/site-packages").iterdir()
        if p.name == PYTHON_UNINSTALLED or p.name.startswith(f"{PYTHON_UNINSTALLED}-")
    )
    uninstalled += sorted(
        p.relative_to(dirs["python-app"]).as_posix()
        for p in (dirs["python-app"] / "app/venv/bin").iterdir()
        if p.name == PYTHON_UNINSTALLED
    )
    pins = " ".join(r for r in PYTHON_REQUIREMENTS[:4])
    specs = [
        LayerSpec(
            "debian",
            f"debootstrap --variant=minbase --include={','.join(DEBIAN_INCLUDE)} {DEBIAN_SUITE} / {DEBIAN_MIRROR}",
            [dirs["debian-rootfs"]],
        ),
        LayerSpec(
            "python",
            f"RUN python3 -m venv /app/venv && /app/venv/bin/pip install --no-deps -r /app/requirements.txt"
            f"  # {pins} ...",
            [dirs["python-app"]],
        ),
        LayerSpec(
            "node",
            "RUN cd /app/web && npm install --ignore-scripts  # "
            + " ".join(f"{k}@{v}" for k, v in NODE_PACKAGE_JSON["dependencies"].items()),
            [dirs["node-app"]],
        ),
    ]
    if "go-app" in dirs:
        specs.append(
            LayerSpec(
                "go",
                "COPY --from=build /out/bench-hello /usr/local/bin/bench-hello  # go build -trimpath",
                [dirs["go-app"]],
            )
        )
    specs.append(
        LayerSpec(
            "cleanup",
            f"RUN /app/venv/bin/pip uninstall -y {PYTHON_UNINSTALLED} && rm -rf /var/lib/apt/lists/*",
            [],
            whiteouts=uninstalled,
            opaque_dirs=["var/lib/apt/lists"],
        )
    )

    t0 = time.monotonic()
    layers: list[LayerTar] = []
    for index, spec in enumerate(specs, start=1):
        t1 = time.monotonic()
        layer = write_layer(layer_dir / f"{index}-{spec.name}.tar", spec.roots, spec.whiteouts, spec.opaque_dirs)
        log(f"layer {index} {spec.name}: {layer.entries} entries, {layer.size / 1e6:.1f} MB, {layer.diff_id[:19]}")
        timings[f"layer tar {spec.name}"] = time.monotonic() - t1
        layers.append(layer)
    timings["layer tars"] = time.monotonic() - t0

    config = _json_bytes(image_config(layers, specs))
    docker_archive = out_dir / f"{IMAGE_NAME}.docker.tar"
    oci_dir = out_dir / f"{IMAGE_NAME}.oci"
    t0 = time.monotonic()
    write_docker_archive(docker_archive, layers, config)
    timings["docker-archive"] = time.monotonic() - t0
    t0 = time.monotonic()
    write_oci_layout(oci_dir, layers, config, cache / "gz")
    timings["oci layout"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - started_all

    info = {
        "docker_archive": str(docker_archive),
        "oci_layout": str(oci_dir),
        "image_id": "sha256:" + hashlib.sha256(config).hexdigest(),
        "layers": [
            {
                "name": s.name,
                "created_by": s.created_by,
                "diff_id": lay.diff_id,
                "size": lay.size,
                "entries": lay.entries,
            }
            for s, lay in zip(specs, layers, strict=True)
        ],
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    (out_dir / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
    for key, value in timings.items():
        log(f"time {key}: {value:.1f}s")
    print(docker_archive)
    print(oci_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
