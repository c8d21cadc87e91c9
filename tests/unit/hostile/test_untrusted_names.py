"""Names that are not UTF-8, Rich markup and terminal escapes in a target never crash or reach a terminal raw.

Each case builds a real image (docker-archive) or directory whose file names
carry undecodable bytes, ``[/]`` and ``[link=...]`` markup and ANSI escape
sequences, plants a credential in that file, and scans it through the CLI in
every output format in a subprocess (so the real stdout encoding applies).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path

import pytest

from helpers.images import ImageSpec, build_docker_archive
from shieldwall.model.text import escape_undecodable, printable

SECRET_ID = "AKIA" + "QYLPMN5HHHFPZAM2"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ3vK8pLm2Tn"
CONTENT = f"aws_access_key_id = {SECRET_ID}\naws_secret_access_key = {SECRET_KEY}\n".encode()
HOSTILE = "app/secr\udcffet[/]\x1b[31m[link=http://evil.example]x[/link]\u202e.env"
SRC = Path(__file__).resolve().parents[3] / "src"
FORMATS = ["table", "json", "sarif", "cyclonedx", "spdx", "junit", "markdown", "html"]


def test_escape_undecodable_turns_surrogates_into_byte_escapes() -> None:
    assert escape_undecodable("a\udcffb") == "a\\xffb"
    assert escape_undecodable("plain") == "plain"
    escape_undecodable("x\udc80").encode("utf-8")  # encodes now


def test_printable_escapes_controls_bidi_and_keeps_text() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("a\u202eb") == "a\\u202eb"
    assert printable("é 中 [/]") == "é 中 [/]"
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", keep_newlines=True) == "a\nb"
    assert printable("\x9b2J") == "\\x9b2J"


def _scan(target: str, fmt: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache"),
        "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
        "SHIELDWALL_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", "scan", target, "--scanners", "secret", "--format", fmt, "-q"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def _check_output(proc: subprocess.CompletedProcess[bytes], fmt: str) -> None:
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout
    text = out.decode("utf-8")  # valid UTF-8 in every format
    assert "\x1b" not in text, f"{fmt}: raw escape sequence reached the output"
    assert "\u202e" not in text, f"{fmt}: raw bidi override reached the output"
    assert SECRET_KEY not in text and SECRET_ID not in text, f"{fmt}: the secret is printed whole"
    if fmt not in ("cyclonedx", "spdx"):  # SBOMs carry packages, not secret findings
        assert "secr" in text, f"{fmt}: the finding's path is missing"
    if fmt == "junit":
        xml.dom.minidom.parseString(out)
    if fmt in ("json", "sarif", "cyclonedx", "spdx"):
        json.loads(text)
    if fmt == "table":
        assert "\\xff" in text and "[link=" in text  # shown literally, not interpreted


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_member_names_in_an_image(fmt: str, tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "img.tar", [{HOSTILE: CONTENT}], ImageSpec(created_by=["ADD x"]))
    _check_output(_scan(f"docker-archive:{archive}", fmt, tmp_path), fmt)


@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_hostile_file_names_in_a_directory(fmt: str, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "app").mkdir(parents=True)
    name = os.fsencode("secr\udcffet[link=https:evil.example]\x1b[31m\u202e.env")  # no "/" in one name
    with open(os.path.join(os.fsencode(root / "app"), name), "wb") as handle:
        handle.write(CONTENT)
    _check_output(_scan(f"dir:{root}", fmt, tmp_path), fmt)


def test_markup_in_an_error_message_is_printed_as_text(tmp_path: Path) -> None:
    missing = tmp_path / "[/]nothing[link=http://evil.example]x"
    proc = _scan(str(missing), "table", tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.decode()
    assert "[/]nothing" in err and "Traceback" not in err
