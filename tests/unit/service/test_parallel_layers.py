"""``--parallel``: layers analysed in worker processes give the serial scan's result, finding by finding.

The images are built here from committed content (the bundled demo image,
``helpers.images``); the benchmark image is compared too when
``benchmarks/work`` holds it (``benchmarks/build_image.py``).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.analyzers import CrashingAnalyzer, MarkerAnalyzer, PkgListAnalyzer
from helpers.images import Hardlink, build_docker_archive, build_oci_layout, image_config, layer_tar
from shieldwall.analyze.base import AnalysisInput, AnalysisResult, Analyzer, FileInfo
from shieldwall.analyze.parallel import LayerWorkerError
from shieldwall.analyze.runner import LayerResult
from shieldwall.demo import build_demo_image
from shieldwall.errors import CorruptInputError, ShieldwallError
from shieldwall.model import LayerRef, ScanResult
from shieldwall.service.layers import analyze_layers
from shieldwall.service.progress import NullProgress
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.target.entries import Entry, EntryKind

BENCH_IMAGE = Path(__file__).resolve().parents[3] / "benchmarks" / "work" / "image" / "shieldwall-bench.docker.tar"


def _assert_same(serial: ScanResult, parallel: ScanResult) -> None:
    """Equal package by package and finding by finding (the timestamps aside), in the same order."""
    assert serial.layers == parallel.layers and serial.os == parallel.os
    assert len(serial.packages) == len(parallel.packages)
    for mine, theirs in zip(serial.packages, parallel.packages, strict=True):
        assert mine == theirs
    assert len(serial.findings) == len(parallel.findings)
    for mine_f, theirs_f in zip(serial.findings, parallel.findings, strict=True):
        assert mine_f == theirs_f
    assert serial.warnings == parallel.warnings


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_image(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shieldwall.vulndb.samples import import_bundled_samples

    data = tmp_path_factory.mktemp("data")
    import_bundled_samples(data / "vulndb" / "vulndb.sqlite")
    return data


def test_demo_image_parallel_equals_serial(demo_archive: Path, sample_db: Path) -> None:
    options = ScanOptions(use_cache=False, data_dir=sample_db)
    serial = scan_target(f"docker-archive:{demo_archive}", options)
    parallel = scan_target(f"docker-archive:{demo_archive}", replace(options, parallel=2))
    assert serial.packages and serial.findings, "the comparison needs something to compare"
    assert {f.kind.value for f in serial.findings} >= {"vulnerability", "secret", "malware"}
    _assert_same(serial, parallel)


def test_demo_image_as_oci_layout_parallel_equals_serial(tmp_path: Path, demo_archive: Path, sample_db: Path) -> None:
    """gzip layers in an OCI directory: each worker decompresses and verifies its own blob."""
    import tarfile

    from helpers.images import ImageSpec

    layers: list[dict[str, object]] = []
    with tarfile.open(demo_archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for name in manifest[0]["Layers"]:
            layer: dict[str, object] = {}
            with tarfile.open(fileobj=outer.extractfile(name)) as inner:
                for member in inner:
                    if member.isreg():
                        layer["/" + member.name] = inner.extractfile(member).read()  # type: ignore[union-attr]
            layers.append(layer)
    spec = ImageSpec(created_by=[f"layer {i}" for i in range(len(layers))])
    layout = build_oci_layout(tmp_path / "layout", layers=layers, spec=spec, compression="gzip")
    options = ScanOptions(use_cache=False, data_dir=sample_db)
    serial = scan_target(f"oci:{layout}", options)
    parallel = scan_target(f"oci:{layout}", replace(options, parallel=3))
    assert serial.packages and serial.findings
    _assert_same(serial, parallel)


class PidAnalyzer:
    """Reports the process that analysed each ``*.pkglist`` file (to prove workers ran)."""

    name = "test-pid"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path.endswith(".pkglist")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        return AnalysisResult(warnings=(f"pid {os.getpid()}",))


def test_layers_really_go_to_worker_processes(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/a.pkglist": b"a 1\n"}, {"/b.pkglist": b"b 2\n"}] * 2)
    result = scan_target(
        str(archive), ScanOptions(use_cache=False, analyzers=(), extra_analyzers=(PidAnalyzer(),), parallel=2)
    )
    pids = {w.message for w in result.warnings if w.message.startswith("pid ")}
    assert len(pids) >= 1 and f"pid {os.getpid()}" not in pids


def test_hardlinks_and_replaced_files_merge_as_serially(tmp_path: Path) -> None:
    layers = [
        {"/etc/app.pkglist": b"base 1\n", "/opt/secret.txt": b"x\nMARKER\n"},
        {"/opt/link.txt": Hardlink("/opt/secret.txt"), "/etc/app.pkglist": b"base 2\n"},
        {"/var/other.pkglist": b"other 3\n", "/bad.crash": b"boom"},
    ]
    archive = build_docker_archive(tmp_path / "i.tar", layers)

    def run(parallel: int) -> ScanResult:
        extra: tuple[Analyzer, ...] = (PkgListAnalyzer(), MarkerAnalyzer(), CrashingAnalyzer())
        return scan_target(
            str(archive), ScanOptions(use_cache=False, analyzers=(), extra_analyzers=extra, parallel=parallel)
        )

    serial, parallel = run(1), run(2)
    _assert_same(serial, parallel)
    assert [p.version for p in serial.packages if p.name == "base"] == ["2"]
    assert any("analyzer crashed" in w.message for w in parallel.warnings)


def test_a_layer_whose_content_does_not_match_its_diff_id_fails_in_a_worker_too(tmp_path: Path) -> None:
    """The worker verifies the digest exactly as the serial walk does."""
    from helpers.images import ImageSpec, sha256

    tars = [layer_tar({"/a.pkglist": b"a 1\n"}), layer_tar({"/b.pkglist": b"b 2\n"})]
    diff_ids = [sha256(tars[0]), sha256(layer_tar({"/b.pkglist": b"b 3\n"}))]  # the second is a lie
    config = json.dumps(image_config(diff_ids, ImageSpec(created_by=["a", "b"]))).encode()
    import hashlib
    import io
    import tarfile

    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["x:1"], "Layers": ["0/layer.tar", "1/layer.tar"]}]
    archive = tmp_path / "lie.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), (config_name, config)] + [
            (f"{i}/layer.tar", t) for i, t in enumerate(tars)
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    errors = []
    for parallel in (1, 2):
        options = ScanOptions(use_cache=False, analyzers=(), extra_analyzers=(PkgListAnalyzer(),), parallel=parallel)
        with pytest.raises(CorruptInputError, match="diff ID mismatch") as caught:
            scan_target(str(archive), options)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


@pytest.mark.slow
def test_benchmark_image_parallel_equals_serial(tmp_path: Path) -> None:
    if not BENCH_IMAGE.is_file():
        pytest.skip("benchmarks/work has no benchmark image (run benchmarks/build_image.py as root)")
    options = ScanOptions(use_cache=False, data_dir=tmp_path / "no-db")
    serial = scan_target(f"docker-archive:{BENCH_IMAGE}", options)
    parallel = scan_target(f"docker-archive:{BENCH_IMAGE}", replace(options, parallel=2))
    assert len(serial.packages) > 200
    _assert_same(serial, parallel)


# --- the layer loop itself, with layers made in this module --------------------------------------


class FakeLayer:
    """A detachable layer of ``*.pkglist`` files; ``fail`` makes its walk raise or kill the worker."""

    cache_key = ""
    blob_key = ""

    def __init__(self, index: int, files: dict[str, bytes], read_order: int, fail: str = "") -> None:
        self.ref = LayerRef(index, f"sha256:{index:064x}", f"layer {index}", 10)
        self.files = files
        self.read_order = read_order
        self.fail = fail
        self.read_blob_digest = ""
        self.walks = 0

    def cache_identity(self) -> str:
        return f"sha256:{self.ref.index:064x}"

    def detached(self) -> FakeLayer:
        return self

    def walk(self) -> Iterator[Entry]:
        self.walks += 1
        if self.fail == "refuse-walk":
            raise AssertionError("walked a layer the cache holds")
        for path, data in self.files.items():
            yield Entry(path, EntryKind.FILE, len(data), 0o644, read=lambda data=data: data)
        if self.fail == "corrupt":
            raise CorruptInputError(f"layer {self.ref.index}: truncated")
        if self.fail == "exit":
            os._exit(7)
        if self.fail == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fail == "unpicklable":
            raise _Unpicklable(lambda: None)
        self.read_blob_digest = self.cache_identity()


class _Unpicklable(Exception):
    def __init__(self, thing: object) -> None:
        super().__init__("an error that carries a lambda")
        self.thing = thing


def _layers(fail: dict[int, str] | None = None) -> list[FakeLayer]:
    fail = fail or {}
    # read order is the reverse of layer order, as in an archive written back to front
    return [
        FakeLayer(i, {f"/l{i}/{j}.pkglist": f"p{i}-{j} {j}\n".encode() for j in range(3)}, 10 - i, fail.get(i, ""))
        for i in range(4)
    ]


def _run(layers: list[FakeLayer], parallel: int, cache: object | None = None) -> list[LayerResult]:
    analyzers: list[Analyzer] = [PkgListAnalyzer()]
    return analyze_layers(layers, analyzers, (("test-pkglist", 1),), cache, NullProgress(), parallel)  # type: ignore[arg-type]


def test_results_come_back_in_layer_order_whatever_the_read_order() -> None:
    serial = _run(_layers(), 1)
    parallel = _run(_layers(), 3)
    assert serial == parallel
    assert [r.files[0].path for r in parallel] == [f"/l{i}/0.pkglist" for i in range(4)]


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_corrupt_layer_fails_the_scan_with_its_own_error(parallel: int) -> None:
    with pytest.raises(CorruptInputError, match="layer 2: truncated"):
        _run(_layers({2: "corrupt"}), parallel)


def test_the_first_failing_layer_in_read_order_is_reported_as_serially() -> None:
    messages = []
    for parallel in (1, 2):
        with pytest.raises(CorruptInputError) as caught:
            _run(_layers({0: "corrupt", 2: "corrupt"}), parallel)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] == "layer 2: truncated"  # layer 2 is read before layer 0


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_a_worker_that_dies_is_an_error_never_a_skipped_layer(how: str) -> None:
    with pytest.raises(LayerWorkerError, match="died"):
        _run(_layers({1: how}), 2)


def test_an_error_that_cannot_cross_processes_is_still_an_error() -> None:
    with pytest.raises(ShieldwallError, match="_Unpicklable: an error that carries a lambda"):
        _run(_layers({3: "unpicklable"}), 2)


class DictCache:
    """An in-memory ``LayerResultCache`` (the on-disk one is tested in tests/unit/cache)."""

    def __init__(self) -> None:
        self.entries: dict[str, LayerResult] = {}
        self.verified: set[tuple[str, str]] = set()

    def get(self, key: str) -> LayerResult | None:
        return self.entries.get(key)

    def put(self, key: str, result: LayerResult) -> None:
        self.entries[key] = result

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        return nullcontext()

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        return (blob_digest, diff_id) in self.verified

    def record_verified(self, blob_digest: str, diff_id: str) -> None:
        self.verified.add((blob_digest, diff_id))


def test_cached_layers_are_not_analysed_again_and_workers_fill_the_cache() -> None:
    cache = DictCache()
    layers = _layers()
    for layer in layers:
        layer.cache_key = layer.ref.digest
    first = _run(layers, 2, cache)
    assert len(cache.entries) == 4 and len(cache.verified) == 4  # the workers' verified digests came back
    again = _layers({i: "refuse-walk" for i in range(4)})
    for layer in again:
        layer.cache_key = layer.ref.digest
    assert _run(again, 2, cache) == first


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_hard_link_in_the_same_layer_is_analysed_with_its_target_bytes(tmp_path: Path, compression: str) -> None:
    """Uncompressed layers read the target again (nothing kept in memory); compressed ones keep its bytes."""
    layers = [{"/opt/real.pkglist": b"real 1\n", "/opt/alias.pkglist": Hardlink("/opt/real.pkglist")}]
    layout = build_oci_layout(tmp_path / "layout", layers=layers, compression=compression)  # type: ignore[arg-type]
    results = []
    for parallel in (1, 2):
        options = ScanOptions(use_cache=False, analyzers=(), extra_analyzers=(PkgListAnalyzer(),), parallel=parallel)
        results.append(scan_target(f"oci:{layout}", options))
    (package,) = results[0].packages
    assert sorted(loc.path for loc in package.locations) == ["/opt/alias.pkglist", "/opt/real.pkglist"]
    _assert_same(results[0], results[1])


def test_a_gzipped_docker_archive_is_scanned_serially_with_the_same_result(tmp_path: Path) -> None:
    """``docker save | gzip``: a layer cannot be reopened from the middle, so no worker gets one."""
    import gzip
    import shutil

    layers = [
        {"/a.pkglist": b"a 1\n", "/b.pkglist": Hardlink("/a.pkglist")},
        {"/c.pkglist": b"c 2\n"},
    ]
    plain = build_docker_archive(tmp_path / "i.tar", layers)
    packed = tmp_path / "i.tar.gz"
    with plain.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    extra: tuple[Analyzer, ...] = (PkgListAnalyzer(), PidAnalyzer())
    result = scan_target(
        f"docker-archive:{packed}", ScanOptions(use_cache=False, analyzers=(), extra_analyzers=extra, parallel=2)
    )
    assert {w.message for w in result.warnings if w.message.startswith("pid ")} == {f"pid {os.getpid()}"}
    reference = scan_target(
        f"docker-archive:{plain}",
        ScanOptions(use_cache=False, analyzers=(), extra_analyzers=(PkgListAnalyzer(),), parallel=2),
    )
    assert result.packages == reference.packages
    assert {loc.path for p in result.packages for loc in p.locations} == {"/a.pkglist", "/b.pkglist", "/c.pkglist"}


def test_setup_warnings_are_reported_once_with_the_scan_serial_or_parallel(tmp_path: Path) -> None:
    """A missing rule directory and hash list: one warning each, not one per worker or per cached layer."""
    from shieldwall.analyze.malware import MalwareAnalyzer
    from shieldwall.analyze.malware.config import MalwareConfig

    archive = build_docker_archive(tmp_path / "i.tar", [{"/a.txt": b"a\n"}, {"/b.txt": b"b\n"}, {"/c.txt": b"c\n"}])
    config = MalwareConfig(
        rule_dirs=(tmp_path / "no-rules",), hash_lists=(tmp_path / "no-list.txt",), cache_dir=tmp_path / "yara"
    )
    results = []
    for parallel in (1, 2):
        options = ScanOptions(
            use_cache=False, analyzers=(), extra_analyzers=(MalwareAnalyzer(config),), parallel=parallel
        )
        results.append(scan_target(str(archive), options))
    setup = [w for w in results[0].warnings if w.source == "malware"]
    assert len(setup) == 2 and all(not w.path for w in setup)
    assert results[0].warnings == results[1].warnings
