"""The misconfig analyzers as the layer runner sees them, and the post-scanner over a merged result."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.misconfig import FIXTURES
from shieldwall.analyze.base import AnalysisInput, AnalyzerError, FileInfo
from shieldwall.analyze.misconfig import MisconfigAnalyzer, SetuidAnalyzer
from shieldwall.analyze.registry import scanner_of
from shieldwall.misconfig.postscan import MisconfigPostScanner
from shieldwall.misconfig.registry import CheckConfig, load_checks
from shieldwall.model import ImageConfig, ScanResult, Target, TargetKind, TargetRef

CONFIG = CheckConfig(include_plugins=False)


def _input(path: str, content: bytes, mode: int = 0o644) -> AnalysisInput:
    return AnalysisInput(path, FileInfo(path, len(content), mode), lambda: content)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/app/Dockerfile", True),
        ("/app/deploy/web.yaml", True),
        ("/app/deploy/web.json", True),
        ("/app/docker-compose.yml", True),
        ("/app/main.py", False),
        ("/app/README.md", False),
    ],
)
def test_required_is_a_name_test(path: str, wanted: bool) -> None:
    assert MisconfigAnalyzer(CONFIG).required(path, FileInfo(path, 100)) is wanted


def test_oversized_yaml_is_not_read() -> None:
    assert not MisconfigAnalyzer(CONFIG).required("/a.yaml", FileInfo("/a.yaml", 64 * 1024 * 1024))


def test_analyze_dockerfile_kubernetes_and_compose() -> None:
    analyzer = MisconfigAnalyzer(CONFIG)
    assert scanner_of(analyzer) == "misconfig"
    for check_id, name in (
        ("SW-DF-010", "/Dockerfile"),
        ("SW-K8S-001", "/k8s/app.yaml"),
        ("SW-DC-005", "/compose.yaml"),
    ):
        bad = next((FIXTURES / check_id).glob("bad.*")).read_bytes()
        result = analyzer.analyze(_input(name, bad))
        assert check_id in {f.rule_id for f in result.findings}
        assert all(f.location is not None and f.location.path == name for f in result.findings)


def test_plain_yaml_is_skipped_and_broken_yaml_is_an_error() -> None:
    analyzer = MisconfigAnalyzer(CONFIG)
    assert analyzer.analyze(_input("/values.yaml", b"replicas: 3\n")).empty
    with pytest.raises(AnalyzerError):
        analyzer.analyze(_input("/broken.yaml", b"apiVersion: v1\nkind: Pod\nspec: [\n"))


def test_setuid_analyzer_needs_only_the_mode() -> None:
    analyzer = SetuidAnalyzer(CONFIG)
    assert analyzer.required("/usr/bin/passwd", FileInfo("/usr/bin/passwd", 10, 0o4755))
    assert not analyzer.required("/usr/bin/ls", FileInfo("/usr/bin/ls", 10, 0o755))

    def explode() -> bytes:
        raise AssertionError("content must not be read")

    info = FileInfo("/usr/bin/passwd", 10, 0o4755)
    result = analyzer.analyze(AnalysisInput("/usr/bin/passwd", info, explode))
    assert [f.rule_id for f in result.findings] == ["SW-FS-001"]


def _result(kind: TargetKind, value: str, image: ImageConfig | None = None) -> ScanResult:
    return ScanResult(target=Target(TargetRef(kind, value), value), image=image)


def test_post_scanner_checks_the_image_config() -> None:
    scanner = MisconfigPostScanner(load_checks(CONFIG))
    image = ImageConfig(user="", env=("PATH=/bin", "DB_PASSWORD=hunter2-prod"), exposed_ports=("22/tcp",))
    output = scanner.run(_result(TargetKind.DOCKER_ARCHIVE, "app.tar", image))
    found = {f.rule_id: f for f in output.findings}
    assert {"SW-IMG-001", "SW-IMG-003", "SW-IMG-004", "SW-IMG-005"} <= set(found)
    location = found["SW-IMG-004"].location
    assert location is not None and location.path == "image-config:Env"


def test_post_scanner_cross_checks_manifests_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "web.yaml").write_bytes((FIXTURES / "SW-K8S-200" / "bad.yaml").read_bytes())
    scanner = MisconfigPostScanner(load_checks(CONFIG))
    first = scanner.run(_result(TargetKind.DIRECTORY, str(tmp_path)))
    assert "SW-K8S-200" in {f.rule_id for f in first.findings}
    (tmp_path / "policies.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: shop}\n"
        "spec: {podSelector: {}}\n"
    )
    second = scanner.run(_result(TargetKind.DIRECTORY, str(tmp_path)))
    assert "SW-K8S-200" not in {f.rule_id for f in second.findings}
