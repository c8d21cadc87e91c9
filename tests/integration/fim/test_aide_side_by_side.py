"""Debian's AIDE and the FIM module on the same tree and the same changes find the same changed paths."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.aide import aide_for
from helpers.fim import started, write

pytestmark = pytest.mark.integration


@pytest.fixture
def plain_tmp() -> Iterator[Path]:
    """A temporary directory with a plain name (AIDE's selection lines are regular expressions)."""
    path = Path(tempfile.mkdtemp(prefix="swfim_", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _build(root: Path) -> None:
    write(root, "/etc/hosts", "127.0.0.1 localhost\n")
    write(root, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
    write(root, "/etc/ssh/sshd_config", "PermitRootLogin no\n", 0o600)
    write(root, "/etc/app/a.conf", "a=1\n")
    write(root, "/etc/app/b.conf", "b=1\n")
    write(root, "/etc/app/deep/c.conf", "c=1\n")
    write(root, "/usr/bin/tool", "#!/bin/sh\necho 1\n", 0o755)
    (root / "etc/alternatives").mkdir()
    (root / "etc/alternatives/editor").symlink_to("/usr/bin/vi")


def _change(root: Path) -> None:
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n10.1.1.1 evil\n")  # content
    os.chmod(root / "usr/bin/tool", 0o4755)  # mode (setuid)
    os.chown(root / "etc/app/a.conf", 1234, 1234)  # owner and group
    write(root, "/etc/app/new.conf", "new\n")  # new file
    (root / "etc/app/b.conf").unlink()  # deleted file
    (root / "etc/alternatives/editor").unlink()
    (root / "etc/alternatives/editor").symlink_to("/tmp/evil")  # symlink retarget
    shutil.rmtree(root / "etc/app/deep")  # a deleted directory with its file
    os.replace(root / "etc/passwd", root / "etc/passwd.bak")  # rename: one removed, one added


def test_same_changed_paths_as_aide(plain_tmp: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing file owners needs root")
    with started(plain_tmp) as harness:
        root = harness.root
        _build(root)
        aide = aide_for(plain_tmp, [root / "etc", root / "usr/bin"])
        aide.init()
        state = harness.apply(
            {
                "realtime": False,
                "system": False,
                "audit": False,
                "rules": [{"path": "/etc", "attributes": "normal"}, {"path": "/usr/bin", "attributes": "normal"}],
            }
        )
        assert harness.events == [] and state.counters["baseline_paths"] > 0
        _change(root)
        report = aide.check()
        harness.module.check_now()

        ours: dict[str, set[str]] = {"added": set(), "removed": set(), "changed": set()}
        for event in harness.events:
            group = {"fim.added": "added", "fim.deleted": "removed"}.get(event.kind, "changed")
            ours[group].add(str(root) + str(event.attributes["path"]))
        assert report == ours
        assert len(report["changed"]) >= 4 and len(report["added"]) >= 2 and len(report["removed"]) >= 3
