"""Schemathesis against the Harbor adapter specification (v1.2), on a real ``shieldwall harbor serve``.

Checks: no server error, documented content types, every body valid against
its schema. Status-code conformance is left out on purpose: like the reference
adapter, this one answers 415 for an ``Accept`` it cannot produce and 413 for
an oversized body, which the specification does not list. Scans are only
allowed on an unreachable registry (127.0.0.1:9), so generated scan requests
never leave the machine. The run is bounded (fixed seed, a few examples).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import harbor_spec
from helpers.admission_server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.mark.skipif(not harbor_spec.available(), reason="../shared/data/harbor is not present")
def test_adapter_conforms_to_the_specification(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "shieldwall", "harbor", "serve", "--port", str(port), "--no-record",
               "--allowed-registry", "127.0.0.1:9", "--log-level", "warning"]  # fmt: skip
    with (tmp_path / "adapter.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/probe/healthy", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the adapter did not start"
            time.sleep(0.1)
        binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        run = subprocess.run(
            [binary, "run", str(harbor_spec.SPEC_FILES["1.2"]), "--url", f"http://127.0.0.1:{port}/api/v1",
             "--checks", "not_a_server_error,content_type_conformance,response_schema_conformance",
             "--max-examples", "10", "--seed", "20261207", "--phases", "examples,coverage,fuzzing"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache directory goes there
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert " passed" in run.stdout and "failed" not in run.stdout.split("SUMMARY")[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
