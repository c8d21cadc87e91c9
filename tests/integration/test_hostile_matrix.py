"""The hostile-input contract as a matrix: every hostile kind x every target type where it applies, real CLI.

Each cell generates its input in a temp dir (small: hostile sizes are claimed by
headers, holes and compression), writes it as the target type (docker-archive
plain or gzip, OCI layout directory or tar, a private docker-registry,
a directory, an SBOM file), scans it with ``python -m shieldwall scan`` in a
subprocess whose address space is capped (``RLIMIT_AS``), and checks:

- the exit code: 2 with a one-line diagnosis naming the problem, or 0 with
  the documented visible warning and the rest of the scan done;
- bounded time: the subprocess timeout is only a hang detector, nothing asserts on speed;
- bounded memory: the address-space cap (a blow-up is a MemoryError, exit 3) and the child's peak RSS;
- nothing written outside Shieldwall's directories: a canary directory beside
  the target stays empty, and the scan's own temp dir is left empty;
- no planted secret appears whole in stdout, stderr, or the written JSON/SARIF/HTML reports.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import hostile_matrix as hm
from helpers.hostile_cases import IMAGE_KINDS, SBOM_KINDS
from helpers.registry_server import RunningRegistry, registry_binary, start_registry

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"
ADDRESS_SPACE = 3 * (1 << 29)  # 1.5 GiB
PEAK_RSS_KIB = 1024 * 1024  # 1 GiB: a full scan of these small inputs needs a few hundred MiB
HANG = 600  # seconds: a hang detector only

CELLS = sorted(
    [(kind, target) for kind, (_, targets, _) in IMAGE_KINDS.items() for target in targets]
    + [(kind, "sbom") for kind in SBOM_KINDS]
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    server = start_registry(tmp_path_factory.mktemp("hostile-registry"))
    try:
        yield server
    finally:
        server.stop()


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    peak_rss_kib: int
    reports: dict[str, str]


def _reap(child: subprocess.Popen[bytes], spec: str) -> tuple[int, int]:
    """Wait for the child with ``wait4`` (its own peak RSS, KiB); kill it as a hang after ``HANG`` seconds."""
    deadline = time.monotonic() + HANG
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode, usage.ru_maxrss
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise AssertionError(f"{spec}: no result after {HANG}s (a hang)")
        time.sleep(0.05)


def scan(spec: str, tmp: Path, fmt: str, *, cache: bool = False) -> Run:
    """``shieldwall scan`` in a capped subprocess, with JSON, SARIF and HTML reports written beside stdout."""
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    reports = {name: tmp / f"report.{name}" for name in ("json", "sarif", "html")}
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHIELDWALL_DATA_DIR": str(tmp / "data"),
        "SHIELDWALL_CACHE_DIR": str(tmp / "cache"),
        "SHIELDWALL_CONFIG_DIR": str(tmp / "config"),
        "TMPDIR": str(work),
    }
    args = [sys.executable, "-m", "shieldwall", "scan", spec, "--format", fmt, "-q", "--allow-incomplete-db"]
    args += [] if cache else ["--no-cache"]
    args += [arg for name, path in reports.items() for arg in ("-o", f"{name}={path}")]
    with (tmp / "stdout").open("w+b") as out, (tmp / "stderr").open("w+b") as err:
        child = subprocess.Popen(args, cwd=work, env=env, stdout=out, stderr=err, preexec_fn=_limit)
        code, peak = _reap(child, spec)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    texts = {name: path.read_text(errors="replace") for name, path in reports.items() if path.exists()}
    return Run(code, stdout, stderr, peak, texts)


def _write_image(image: hm.Hostile, target: str, tmp: Path, registry: Callable[[], RunningRegistry]) -> str:
    if target == "docker":
        return f"docker-archive:{hm.docker_archive(image, tmp / 'image.tar')}"
    if target == "docker-gz":
        return f"docker-archive:{hm.docker_archive(image, tmp / 'image.tar.gz', gz=True)}"
    if target == "docker-gz-reversed":
        return f"docker-archive:{hm.docker_archive(image, tmp / 'image.tar.gz', gz=True, reverse=True)}"
    if target == "oci-dir":
        layout = tmp / "layout"
        layout.mkdir()
        return f"oci:{hm.oci_layout(image, layout)}"
    if target == "oci-tar":
        return f"oci-archive:{hm.oci_layout(image, tmp / 'layout.tar', as_tar=True)}"
    if target == "registry":
        return "registry:" + hm.push(image, registry().host, f"hostile/{uuid.uuid4().hex[:10]}", "1")
    if target == "dir":
        assert image.tree is not None
        root = tmp / "root"
        root.mkdir()
        return f"dir:{hm.directory(image.tree, root)}"
    raise AssertionError(target)


@pytest.mark.parametrize(("kind", "target"), CELLS, ids=[f"{k}@{t}" for k, t in CELLS])
def test_hostile_cell(kind: str, target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    inputs = tmp_path / "in" / "deeper"
    inputs.mkdir(parents=True)
    if kind in SBOM_KINDS:
        name, build, expect = SBOM_KINDS[kind]
        path = inputs / name
        if kind == "sbom-oversize":
            with path.open("wb") as handle:
                handle.write(b'{"bomFormat":"CycloneDX","specVersion":"1.5","components":[')
                handle.truncate(hm.SBOM_OVERSIZE)
        else:
            path.write_bytes(build(tmp_path))
        spec = f"sbom:{path}"
    else:
        build_image, _, expect = IMAGE_KINDS[kind]
        image = build_image(tmp_path)
        spec = _write_image(image, target, inputs, lambda: request.getfixturevalue("registry"))
    run = scan(spec, tmp_path / "scan", expect.fmt)
    err = run.stderr.strip()
    assert "Traceback" not in err and "internal error" not in err, err[-3000:]
    assert run.code == expect.code, (run.code, err[-3000:])
    if expect.code == 2:
        assert err.startswith("error:") and len(err.splitlines()) == 1, err[-3000:]
        assert expect.text in err, err
    else:
        doc = json.loads(run.reports["json"])
        if expect.text:
            messages = [f"{w.get('path') or ''} {w['message']}" for w in doc["warnings"]]
            assert any(expect.text in m for m in messages), messages
        if expect.check is not None:
            expect.check(run.stdout)
    assert run.peak_rss_kib < PEAK_RSS_KIB, f"peak RSS {run.peak_rss_kib} KiB"
    assert list(canary.iterdir()) == [], "something was written outside Shieldwall's directories"
    assert list((tmp_path / "scan" / "work").iterdir()) == [], "the scan left files in its temp dir"
    outputs = [run.stdout, run.stderr, *run.reports.values()]
    for secret in (*hm.PLANTED, *hm.FLOOD[:2000], *hm.FLOOD[-2000:]):
        assert not any(secret in text for text in outputs), f"a planted secret left whole: {secret[:4]}..."
    for db in (tmp_path / "scan" / "data").rglob("*.sqlite*"):
        blob = db.read_bytes()
        assert not any(secret.encode() in blob for secret in hm.PLANTED), f"{db.name} stores a secret whole"


@pytest.mark.parametrize("target", ["docker", "oci-dir", "registry"])
def test_a_reused_diff_id_is_read_and_refused_even_with_a_warm_cache(
    target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A clean image fills the layer cache; a second image claims the clean layer's diff ID for other content."""
    clean_layer = hm.tar_bytes([(b"etc/hostname", b"clean\n")])
    clean = hm.Hostile([clean_layer])
    evil = hm.Hostile([hm.tar_bytes([(b"app/.env", f"aws_access_key_id={hm.FILE_KEY}\n".encode())])])
    evil.diff_ids = [hm.sha256(clean_layer)]
    registry = lambda: request.getfixturevalue("registry")  # noqa: E731
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = scan(_write_image(clean, target, tmp_path / "a", registry), tmp_path / "scan", "json", cache=True)
    assert first.code == 0, first.stderr
    second = scan(_write_image(evil, target, tmp_path / "b", registry), tmp_path / "scan", "json", cache=True)
    assert second.code == 2, (second.code, second.stderr)
    assert "diff" in second.stderr and len(second.stderr.strip().splitlines()) == 1, second.stderr
