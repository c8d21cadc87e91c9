"""CI templates in integrations/: they parse, name what CI needs, and their exact command works.

Each template's ``shieldwall scan`` line is taken from the file and run
against a copy of examples/sample-app (with the bundled sample advisories
instead of ``shieldwall db update``, which needs the network).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from helpers.schemas import validate_sarif

REPO = Path(__file__).resolve().parents[2]
INTEGRATIONS = REPO / "integrations"
EXAMPLE = REPO / "examples" / "sample-app"


def run_cli(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a template's command line with this interpreter's shieldwall (``env`` added to the environment)."""
    assert argv[0] == "shieldwall"
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *argv[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def check_cached_database(argv: list[str], data_dir: Path, tmp_path: Path, cache_restored: Path | None = None) -> None:
    """The template's database directory is what the next job finds: import it there once, then scan a fresh
    checkout with only that directory kept (restored from the CI cache). The scan line must not scan it."""
    first = tmp_path / "first-job"
    shutil.copytree(EXAMPLE, first, ignore=shutil.ignore_patterns("shieldwall-report"))
    env = {"SHIELDWALL_DATA_DIR": str(data_dir)}
    assert run_cli(["shieldwall", "db", "import-samples", "-q"], first, env).returncode == 0
    second = tmp_path / "second-job"
    shutil.copytree(EXAMPLE, second, ignore=shutil.ignore_patterns("shieldwall-report"))
    if cache_restored is not None:  # a cache inside the workspace comes back at the same place
        shutil.copytree(data_dir, second / cache_restored)
        env = {"SHIELDWALL_DATA_DIR": str(second / cache_restored)}
    proc = run_cli(argv, second, env)
    check_scan_outputs(argv, proc, second)
    report = next((second / spec.split("=", 1)[1] for spec in argv if spec.startswith("sarif=")), None)
    assert report is not None
    assert ".shieldwall/" not in report.read_text()  # the cached database is never scanned as source


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of the sample repository, as a CI job sees it, with the sample advisories imported."""
    root = tmp_path / "checkout"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("shieldwall-report"))
    (root / ".git").mkdir()
    assert run_cli(["shieldwall", "db", "import-samples", "-q"], root).returncode == 0
    return root


def scan_line(lines: list[str]) -> list[str]:
    (line,) = [line for line in lines if line.strip().startswith("shieldwall scan ")]
    return shlex.split(line)


def check_scan_outputs(argv: list[str], proc: subprocess.CompletedProcess[str], cwd: Path) -> None:
    # the sample app's werkzeug advisory is fixable and HIGH: --fail-on high fails the job (exit 1)
    assert proc.returncode == 1, proc.stderr
    assert "CVE-2024-34069" in proc.stderr
    outputs = dict(spec.split("=", 1) for flag, spec in itertools.pairwise(argv) if flag == "--output")
    for fmt, path in outputs.items():
        text = (cwd / path).read_text()
        if fmt == "sarif":
            validate_sarif(json.loads(text))
        elif fmt == "junit":
            root = ET.fromstring(text)
            assert int(root.get("failures", "0")) >= 1
        elif fmt == "html":
            assert "<svg" in text
        elif fmt == "markdown":
            assert "Gate failed" in text


def test_github_actions_workflow(workspace: Path, tmp_path: Path) -> None:
    workflow = yaml.safe_load((INTEGRATIONS / "github" / "shieldwall.yml").read_text())
    assert workflow["permissions"]["security-events"] == "write"
    assert set(workflow[True]) >= {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["scan"]
    steps = job["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()"
    runs = [s["run"] for s in steps if "run" in s]
    argv = scan_line(runs)
    assert upload["with"]["sarif_file"] in [spec.split("=", 1)[1] for spec in argv if spec.startswith("sarif=")]
    check_scan_outputs(argv, run_cli(argv, workspace), workspace)
    # the advisory database is cached between runs, restored before `db update`
    cache = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/cache@"))
    update = next(i for i, s in enumerate(steps) if s.get("run", "").startswith("shieldwall db update"))
    assert cache < update
    cached = steps[cache]["with"]["path"]
    data_dir = job["env"]["SHIELDWALL_DATA_DIR"]
    assert data_dir.startswith("${{ github.workspace }}/")
    relative = data_dir.removeprefix("${{ github.workspace }}/")
    assert relative.startswith(cached.rstrip("/") + "/")
    assert steps[cache]["with"]["restore-keys"] and steps[cache]["with"]["key"] != steps[cache]["with"]["restore-keys"]
    check_cached_database(argv, tmp_path / "cache" / relative, tmp_path, Path(relative))


def test_gitlab_ci_job(workspace: Path, tmp_path: Path) -> None:
    job = yaml.safe_load((INTEGRATIONS / "gitlab" / "shieldwall.gitlab-ci.yml").read_text())["shieldwall"]
    assert job["artifacts"]["when"] == "always"
    junit = job["artifacts"]["reports"]["junit"]
    argv = scan_line(job["script"])
    assert f"junit={junit}" in argv and any(a.startswith("sarif=") for a in argv)
    sarif = next(a.split("=", 1)[1] for a in argv if a.startswith("sarif="))
    assert sarif in job["artifacts"]["paths"]
    check_scan_outputs(argv, run_cli(argv, workspace), workspace)
    # the advisory database is in a cached path of the project directory
    data_dir = job["variables"]["SHIELDWALL_DATA_DIR"]
    assert data_dir.startswith("$CI_PROJECT_DIR/")
    relative = data_dir.removeprefix("$CI_PROJECT_DIR/")
    assert any(relative.startswith(path.rstrip("/") + "/") for path in job["cache"]["paths"])
    assert job["cache"]["when"] == "always"  # a failed gate still saves the updated database
    check_cached_database(argv, tmp_path / "cache" / relative, tmp_path, Path(relative))


def _jenkins_environment(text: str, home: Path, workspace: Path) -> dict[str, str]:
    env = {}
    for key, value in re.findall(r'^\s*"?([A-Z_+]+)"?\s*=\s*"([^"]+)"', text, re.MULTILINE):
        env[key] = value.replace("${env.HOME}", str(home)).replace("${WORKSPACE}", str(workspace))
    return env


def test_jenkinsfile_stage(workspace: Path, tmp_path: Path) -> None:
    text = (INTEGRATIONS / "jenkins" / "Jenkinsfile").read_text()
    assert "stage('Shieldwall')" in text and text.count("{") == text.count("}")
    shell = re.findall(r"sh '([^']+)'", text)
    argv = scan_line(shell)
    junit = re.search(r"junit testResults: '([^']+)'", text)
    assert junit is not None and f"junit={junit.group(1)}" in argv
    check_scan_outputs(argv, run_cli(argv, workspace), workspace)
    # a stock Debian agent: its Python is externally managed (PEP 668), so no `pip install --user`
    assert not any("--user" in line or "--break-system-packages" in line for line in shell)
    home = tmp_path / "agent-home"
    home.mkdir()
    env = _jenkins_environment(text, home, workspace)
    assert env["SHIELDWALL_DATA_DIR"].startswith(str(home))  # outside the workspace: kept between builds
    install = [line for line in shell if "pip install" in line]
    assert install and all("$SHIELDWALL_HOME/venv/bin/python" in line for line in install)
    venv_steps = [line for line in shell if "-m venv" in line]
    assert venv_steps
    debian_python = Path("/usr/bin/python3")
    if not (debian_python.parent.parent / "lib" / "python3.11" / "EXTERNALLY-MANAGED").exists():
        pytest.skip("no externally managed Debian python3 here")  # pragma: no cover
    # run the venv step as the agent would (Debian's python3 first on PATH), twice: the second build reuses it
    step_env = {**os.environ, **env, "HOME": str(home), "PATH": f"{debian_python.parent}:{os.environ['PATH']}"}
    for _ in range(2):
        proc = subprocess.run(["sh", "-c", venv_steps[0]], env=step_env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    pip = subprocess.run(
        [str(Path(env["SHIELDWALL_HOME"]) / "venv" / "bin" / "python"), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pip.returncode == 0 and str(home) in pip.stdout  # pip of the venv, not the system's
    check_cached_database(argv, Path(env["SHIELDWALL_DATA_DIR"]), tmp_path)


def test_pre_commit_hook(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "shieldwall-secrets" and hook["pass_filenames"] is True and hook["language"] == "python"
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["shieldwall", "scan-files"]
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "config").mkdir()
    shutil.copy(EXAMPLE / "config" / "settings.env", repo / "config" / "settings.env")
    (repo / "README.md").write_text("# nothing secret here\n")
    # pre-commit appends the staged file names to the entry
    clean = run_cli([*argv, "README.md"], repo)
    assert clean.returncode == 0, clean.stderr
    dirty = run_cli([*argv, "README.md", "config/settings.env"], repo)
    assert dirty.returncode == 1 and "github-pat" in dirty.stderr


def test_dockerfile_packages_shieldwall_as_non_root() -> None:
    parser = DockerfileParser(path=str(INTEGRATIONS / "docker" / "Dockerfile"))
    assert parser.parent_images and all(re.search(r"@sha256:[0-9a-f]{64}$", image) for image in parser.parent_images)
    instructions = parser.structure
    final = max(i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM")
    users = [ins["value"] for ins in instructions[final:] if ins["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert not any(ins["instruction"] == "ADD" for ins in instructions)
    entrypoint = next(ins["value"] for ins in instructions if ins["instruction"] == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["shieldwall"]
    for ins in instructions:
        if ins["instruction"] == "COPY" and "--from" not in ins["value"]:
            for source in ins["value"].split()[:-1]:
                assert (REPO / source).exists(), source


def test_dockerfile_passes_shieldwall_misconfig_checks(tmp_path: Path) -> None:
    shutil.copy(INTEGRATIONS / "docker" / "Dockerfile", tmp_path / "Dockerfile")
    proc = run_cli(["shieldwall", "scan", ".", "--scanners", "misconfig", "--fail-on", "low", "-q"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
