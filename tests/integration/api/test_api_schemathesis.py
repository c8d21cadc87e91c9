"""Schemathesis against the committed OpenAPI document, on the real server over SQLite and PostgreSQL.

Checks: no server error, every status code and content type documented,
every JSON body valid against its schema. The run is bounded (a few examples
per operation, fixed seed) so it takes well under a minute per backend.
The server only accepts scans of images on an unreachable registry and
updates from an unreachable feed, so generated requests never leave 127.0.0.1.

To reproduce by hand: start ``shieldwall serve`` with ``SHIELDWALL_API_RATE_PER_MINUTE=0``,
create an admin token, then run the command in ``schemathesis_command``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.api_server import ApiServer, Seeded, api_settings
from shieldwall.api.tokens import Role

pytestmark = pytest.mark.integration

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 5
UNREACHABLE = "127.0.0.1:9"


def schemathesis_command(url: str, token: str) -> list[str]:
    """The schemathesis command line used by the test."""
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    return [
        binary,
        "run",
        str(OPENAPI),
        "--url",
        url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261127",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--workers",
        "2",
        "--request-timeout",
        "60",
    ]


@pytest.fixture
def fuzz_target(seeded: Seeded, tmp_path: Path) -> Iterator[ApiServer]:
    """A server over the seeded store that cannot reach anything outside 127.0.0.1."""
    settings = api_settings(
        seeded.data_dir,
        seeded.cache_dir,
        upload_dir=tmp_path / "uploads",
        allowed_registries=(UNREACHABLE,),
        osv_base_url=f"http://{UNREACHABLE}",
        webhook_attempts=1,
        webhook_timeout=1.0,
    )
    server = ApiServer.start(seeded.store, settings)
    server.tokens = seeded.api.tokens
    try:
        yield server
    finally:
        server.stop()


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    fuzz_target: ApiServer, tmp_path: Path
) -> None:
    command = schemathesis_command(fuzz_target.url, fuzz_target.tokens[Role.ADMIN])
    env = {**os.environ, "NO_COLOR": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    operations = sum(len(ops) for ops in json.loads(OPENAPI.read_text())["paths"].values())
    tested = re.search(r"Tested:\s*(\d+)", output)
    assert tested is not None and int(tested.group(1)) == operations, output[-3000:]
