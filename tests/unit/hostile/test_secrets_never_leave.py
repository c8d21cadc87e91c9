"""Credentials in an image's ENV, labels and history, and in a Dockerfile, never leave whole.

Whatever ``--scanners`` says, every output format and the store carry only
masked values; with the secret scanner on, passwords named by their context
(``*_PASSWORD=``, ``curl -u``) and tokens in labels are findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.images import ImageSpec, build_docker_archive

PASSWORD = "Sup3rS3cret" + "Pw2024"
CURL_PASSWORD = "Hunter2" + "Curl99"
LABEL_TOKEN = "ghp_" + "Zx8Qm2Lp7Rt4Vn6Bc9Kd1Fs3Gh5Jw0Yu2Ea4"
NPM_TOKEN = "npm_" + "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz2Xc4Vb6N"
DOCKERFILE_TOKEN = "ghp_" + "Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"
SECRETS = (PASSWORD, CURL_PASSWORD, LABEL_TOKEN, NPM_TOKEN)


def _image(tmp_path: Path) -> Path:
    spec = ImageSpec(
        created_by=[f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c curl -u admin:{CURL_PASSWORD} https://repo.example/x"],
        env=("PATH=/usr/bin", f"DB_PASSWORD={PASSWORD}"),
        labels={"org.example.deploy-token": LABEL_TOKEN, "maintainer": "team@example.com"},
    )
    return build_docker_archive(tmp_path / "img.tar", [{"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"}], spec)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=180, env=os.environ
    )


@pytest.mark.parametrize("scanners", ["misconfig", "secret", "secret,misconfig,license"])
def test_image_config_credentials_are_masked_in_every_format(tmp_path: Path, scanners: str) -> None:
    image = _image(tmp_path)
    outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "sarif", "table", "markdown", "html", "junit")}
    args = [arg for fmt, path in outputs.items() for arg in ("-o", f"{fmt}={path}")]
    proc = run("scan", f"docker-archive:{image}", "--scanners", scanners, "-q", "--store", *args)
    assert proc.returncode in (0, 1), proc.stderr
    for fmt, path in outputs.items():
        text = path.read_text()
        for secret in SECRETS:
            assert secret not in text, f"{fmt} ({scanners}) carries a credential whole"
    assert "DB_PASSWORD=" in outputs["json"].read_text()  # the variable is still shown, its value masked
    data_dir = Path(os.environ["SHIELDWALL_DATA_DIR"])
    for db in data_dir.rglob("*.sqlite*"):
        blob = db.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in blob, f"{db.name} stores a credential whole"


def test_context_named_credentials_and_label_tokens_are_findings(tmp_path: Path) -> None:
    proc = run("scan", f"docker-archive:{_image(tmp_path)}", "--scanners", "secret", "-q", "--format", "json")
    doc = json.loads(proc.stdout)
    secrets = [f for f in doc["findings"] if f["kind"] == "secret"]
    paths = {f["location"]["path"] for f in secrets}
    assert "image-config:Labels" in paths
    messages = " ".join(f["message"] for f in secrets)
    assert "DB_PASSWORD" in messages and "-u" in messages
    assert any(f["rule_id"] == "image-config-credential" for f in secrets)
    for secret in SECRETS:
        assert secret not in proc.stdout


def test_a_dockerfile_token_is_masked_in_misconfig_evidence(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Dockerfile").write_text(
        f"FROM alpine:3.19\nENV GITHUB_TOKEN={DOCKERFILE_TOKEN}\nARG DB_PASSWORD={PASSWORD}\nUSER app\n"
    )
    proc = run("scan", f"dir:{tmp_path / 'src'}", "--scanners", "misconfig", "-q", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert any(f["kind"] == "misconfig" for f in doc["findings"])
    assert DOCKERFILE_TOKEN not in proc.stdout and PASSWORD not in proc.stdout
