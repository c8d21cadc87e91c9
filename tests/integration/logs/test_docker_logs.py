"""The logs module reading container logs from a private dockerd through its API socket."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus
from shieldwall.agent.modules.logs import Module

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = """package main

import (
\t"fmt"
\t"time"
)

func main() {
\tfor i := 0; i < 5; i++ {
\t\tfmt.Printf("Dec 10 01:02:0%d web sshd[7]: Failed password for root from 198.51.100.4 port 22 ssh2\\n", i)
\t}
\ttime.Sleep(600 * time.Second)
}
"""


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a private dockerd")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")


@pytest.fixture
def dockerd(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _need("dockerd", "containerd", "docker", "go")
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"swd{os.getpid()}"
    base.mkdir()
    sock = base / "d.sock"
    log = (tmp_path / "dockerd.log").open("w")
    proc = subprocess.Popen(
        [
            "dockerd",
            f"--host=unix://{sock}",
            f"--data-root={base / 'data'}",
            f"--exec-root={base / 'exec'}",
            f"--pidfile={base / 'd.pid'}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--storage-driver=vfs",
            "--userland-proxy=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(120):
            if (
                sock.exists()
                and subprocess.run(["docker", "-H", f"unix://{sock}", "version"], capture_output=True).returncode == 0
            ):
                break
            if proc.poll() is not None:
                pytest.skip(f"dockerd did not start: {(tmp_path / 'dockerd.log').read_text()[-500:]}")
            time.sleep(0.5)
        else:
            pytest.skip("dockerd did not answer")
        yield str(sock), tmp_path
    finally:
        subprocess.run(["docker", "-H", f"unix://{sock}", "rm", "-f", "swlogs"], capture_output=True)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def test_container_lines_become_alerts(dockerd: tuple[str, Path]) -> None:
    sock, tmp = dockerd
    src = tmp / "app"
    src.mkdir()
    (src / "main.go").write_text(APP)
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOCACHE": str(tmp / "gocache"),
        "GOPATH": str(tmp / "gopath"),
        "GO111MODULE": "off",
    }
    subprocess.run(["go", "build", "-o", str(tmp / "rootfs" / "app"), "main.go"], cwd=src, env=env, check=True)
    with tarfile.open(tmp / "rootfs.tar", "w") as tar:
        tar.add(tmp / "rootfs" / "app", arcname="app")
    docker = ["docker", "-H", f"unix://{sock}"]
    subprocess.run([*docker, "import", str(tmp / "rootfs.tar"), "swlogs:test"], check=True, capture_output=True)
    subprocess.run(
        [*docker, "run", "-d", "--name", "swlogs", "--network", "none", "swlogs:test", "/app"],
        check=True,
        capture_output=True,
    )
    events: list[AgentEvent] = []
    state = tmp / "state"
    state.mkdir()
    ctx = ModuleContext(Path("/"), state, events.append, logging.getLogger("t"), {})
    module = Module()
    module.start(ctx)
    try:
        st = module.apply({"sources": [{"type": "docker", "socket": sock}], "min_level": 3}, 1)
        assert st.status is ModuleStatus.RUNNING, st.detail
        for _ in range(40):
            module.tick(time.time())
            if any(e.attributes.get("rule_id") == "sw-sshd-bruteforce" for e in events):
                break
            time.sleep(0.5)
        brute = [e for e in events if e.attributes.get("rule_id") == "sw-sshd-bruteforce"]
        assert len(brute) == 1
        assert brute[0].attributes["location"] == "docker:swlogs"
        before = len(events)
        module.tick(time.time())  # nothing new: nothing repeated
        assert len(events) == before
    finally:
        module.stop()
