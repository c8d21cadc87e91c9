"""A private ``auditd`` for tests: its own configuration and log in a temp dir, the kernel state restored."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_CONF = """local_events = yes
write_logs = yes
log_file = {log}
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 1
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
plugin_dir = {plugins}
"""


def _status() -> dict[str, str]:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, timeout=10, check=False)
    if out.returncode != 0:
        pytest.skip(f"kernel audit not available: {out.stderr.strip()}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)


@contextmanager
def private_auditd(workdir: Path) -> Iterator[Path]:
    """Run ``auditd -n -c workdir`` writing ``workdir/audit.log``; stop it and restore ``enabled`` on exit."""
    if shutil.which("auditd") is None or shutil.which("auditctl") is None:
        pytest.skip("auditd is not installed (Debian package auditd)")
    before = _status()
    if before.get("pid", "0").strip() != "0":
        pytest.skip("another audit daemon is registered with the kernel; not taking it over")
    log = workdir / "audit.log"
    (workdir / "plugins").mkdir()
    conf = workdir / "auditd.conf"
    conf.write_text(_CONF.format(log=log, plugins=workdir / "plugins"))
    conf.chmod(0o600)
    proc = subprocess.Popen(
        ["auditd", "-n", "-c", str(workdir)], stdout=subprocess.DEVNULL, stderr=(workdir / "auditd.err").open("w")
    )
    try:
        deadline = time.monotonic() + 20
        while _status().get("pid", "0").strip() == "0" or not log.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"private auditd did not start: {(workdir / 'auditd.err').read_text()[-300:]}")
            time.sleep(0.1)
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if _status().get("pid", "0").strip() == "0":  # nobody else's daemon started meanwhile: restore the switch
            subprocess.run(["auditctl", "-e", before.get("enabled", "0").strip()], capture_output=True, check=False)
