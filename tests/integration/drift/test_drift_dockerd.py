"""Container drift against a real, private dockerd: load a built image, run it, change files, expect events."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.dockerd import PrivateDockerd, dockerd_binary, start_dockerd
from helpers.images import DIR, File, ImageSpec, build_docker_archive
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus
from shieldwall.agent.modules.drift import Module

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOOL_SOURCE = Path(__file__).resolve().parents[2] / "fixtures" / "drift" / "tool.c"
IMAGE = "shieldwall-drift-test:1"
DPKG_STATUS = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"


def _tool(tmp: Path) -> bytes:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is not installed (.ci/run installs gcc and libc6-dev)", pytrace=False)
    out = tmp / "tool"
    subprocess.run([gcc, "-static", "-O2", "-o", str(out), str(TOOL_SOURCE)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateDockerd, str]]:
    """A private daemon with the test image loaded and one container running it."""
    if dockerd_binary() is None:
        pytest.fail("dockerd is not installed (.ci/run installs docker.io)", pytrace=False)
    tmp = tmp_path_factory.mktemp("drift")
    layer = {
        "bin": DIR, "bin/tool": File(_tool(tmp), 0o755), "etc": DIR, "etc/app.conf": b"mode=safe\n",
        "tmp": DIR, "var": DIR, "var/log": DIR, "var/lib": DIR, "var/lib/dpkg": DIR, "var/lib/dpkg/info": DIR,
        "var/lib/dpkg/status": DPKG_STATUS, "usr": DIR, "usr/local": DIR, "usr/local/bin": DIR, "usr/lib": DIR,
        "opt": DIR, "opt/app": DIR, "home": DIR,
    }  # fmt: skip
    archive = build_docker_archive(tmp / "image.tar", [layer], ImageSpec(created_by=["ADD rootfs"], cmd=()), tag=IMAGE)
    daemon = start_dockerd()
    try:
        api = daemon.api()
        try:
            api.load(archive)
            container = api.run(IMAGE, ["/bin/tool", "sleep"], labels={"io.shieldwall.drift.readonly": "/opt/app"})
        finally:
            api.close()
        yield daemon, container
    finally:
        daemon.stop()


def _module(daemon: PrivateDockerd, tmp: Path, events: list[AgentEvent]) -> Module:
    module = Module()
    state = tmp / "state"
    state.mkdir(exist_ok=True)
    ctx = ModuleContext(root=tmp, state_dir=state, emit=events.append, log=logging.getLogger("test.drift"),
                        settings={"docker_socket": str(daemon.socket)})  # fmt: skip
    module.start(ctx)
    module.apply({"interval_seconds": 5}, policy_version=3)
    return module


def test_drift_in_a_running_container(dockerd: tuple[PrivateDockerd, str], tmp_path: Path) -> None:
    daemon, container = dockerd
    events: list[AgentEvent] = []
    module = _module(daemon, tmp_path, events)
    assert module.run_once() == 0  # a fresh container has not drifted
    assert module.state().status is ModuleStatus.RUNNING

    api = daemon.api()
    try:
        changes = [
            ["/bin/tool", "cp", "/bin/tool", "/usr/local/bin/dropped", "755"],
            ["/bin/tool", "write", "/usr/local/bin/run.sh", "755", "#!/bin/sh\necho pwned\n"],
            ["/bin/tool", "cp", "/bin/tool", "/usr/lib/libevil.so.1", "644"],
            ["/bin/tool", "write", "/etc/app.conf", "644", "mode=open\n"],
            ["/bin/tool", "write", "/var/lib/dpkg/info/netcat.list", "644", "/usr/bin/nc\n"],
            ["/bin/tool", "append", "/var/lib/dpkg/status", "Package: netcat\nStatus: install ok installed\n\n"],
            ["/bin/tool", "write", "/opt/app/settings.txt", "644", "debug=1\n"],
            ["/bin/tool", "write", "/tmp/scratch", "755", "#!/bin/sh\n"],
            ["/bin/tool", "write", "/var/log/app.log", "644", "started\n"],
            ["/bin/tool", "write", "/home/notes.txt", "644", "just data\n"],
        ]
        for command in changes:
            assert api.exec(container, command) == 0, command
        api.exec_detached(container, ["/usr/local/bin/dropped", "sleep"])  # the dropped tool runs
    finally:
        api.close()

    assert module.run_once() == len(events) > 0
    found = {(e.kind, e.attributes["path"]) for e in events}
    assert found == {
        ("drift.executable", "/usr/local/bin/dropped"),
        ("drift.executable", "/usr/local/bin/run.sh"),
        ("drift.library", "/usr/lib/libevil.so.1"),
        ("drift.config", "/etc/app.conf"),
        ("drift.package", "/var/lib/dpkg/info/netcat.list"),
        ("drift.package", "/var/lib/dpkg/status"),
        ("drift.readonly", "/opt/app/settings.txt"),
    }
    by_path = {e.attributes["path"]: e for e in events}
    assert by_path["/usr/local/bin/dropped"].attributes["elf"] is True
    assert by_path["/usr/local/bin/dropped"].attributes["change"] == "added"
    (running,) = by_path["/usr/local/bin/dropped"].attributes["running"]
    assert running["command"] == "/usr/local/bin/dropped sleep" and running["pid"] > 1
    assert "running" not in by_path["/usr/local/bin/run.sh"].attributes
    assert by_path["/usr/local/bin/run.sh"].attributes["detail"] == "script"
    assert by_path["/etc/app.conf"].attributes["change"] == "modified"
    assert by_path["/var/lib/dpkg/info/netcat.list"].attributes["package"] == "netcat"
    assert all(e.attributes["container_id"] == container and e.attributes["image"] == IMAGE for e in events)
    assert len({e.key for e in events}) == len(events)

    assert module.run_once() == 0  # the same drift is not emitted twice
    api = daemon.api()
    try:
        assert api.exec(container, ["/bin/tool", "write", "/etc/app.conf", "644", "mode=wide-open-again\n"]) == 0
    finally:
        api.close()
    assert module.run_once() == 1  # changed again: a new event
    assert events[-1].kind == "drift.config" and events[-1].attributes["size"] == len(b"mode=wide-open-again\n")

    restarted: list[AgentEvent] = []
    again = _module(daemon, tmp_path, restarted)  # same state directory: nothing is re-emitted after a restart
    assert again.run_once() == 0
    module.stop()


def test_missing_socket_is_degraded_not_an_error(tmp_path: Path) -> None:
    events: list[AgentEvent] = []
    module = Module()
    module.start(ModuleContext(root=tmp_path, state_dir=tmp_path, emit=events.append, log=logging.getLogger("t")))
    module.apply({}, policy_version=1)
    assert module.run_once() == 0
    state = module.state()
    assert state.status is ModuleStatus.DEGRADED and "no Docker socket" in state.detail


def _rules() -> str:
    return subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=False).stdout


def test_drift_carries_the_audited_writer(dockerd: tuple[PrivateDockerd, str], tmp_path: Path) -> None:
    """With a private auditd, a file written by ``docker exec`` carries the process that wrote it."""
    import os
    import re
    import tempfile

    from helpers.auditd import private_auditd

    if os.geteuid() != 0:
        pytest.skip("audit needs root")
    daemon, old = dockerd
    rules_before = _rules()
    audit_dir = Path(tempfile.mkdtemp(prefix="swdaudit_"))
    api = daemon.api()
    container = ""
    try:
        with private_auditd(audit_dir) as log:
            events: list[AgentEvent] = []
            module = Module()
            (tmp_path / "state").mkdir()
            settings = {"docker_socket": str(daemon.socket), "audit_log": str(log), "audit_wait": 3}
            module.start(ModuleContext(tmp_path, tmp_path / "state", events.append, logging.getLogger("t"), settings))
            try:
                assert module.apply({"interval_seconds": 5, "audit": True}, 1).status is ModuleStatus.RUNNING
                container = api.run(IMAGE, ["/bin/tool", "sleep"])
                # written before the module's rules exist: drift without a writer
                assert api.exec(old, ["/bin/tool", "write", "/usr/local/bin/early.sh", "755", "#!/bin/sh\n"]) == 0
                module.run_once()  # installs the rules; the older container's drift predates them
                assert module.state().status is ModuleStatus.RUNNING, module.state().detail
                early = [e for e in events if e.attributes["path"] == "/usr/local/bin/early.sh"]
                assert len(early) == 1 and all(e.attributes["container_id"] == old for e in events)
                assert all("writer" not in e.attributes for e in events)  # never guessed
                writers = module._writers
                assert writers is not None
                assert set(writers.watched) == {container, old}, (writers.watched, writers.errors)
                assert writers.key_of(container) in _rules() and writers.key_of(old) in _rules()
                events.clear()

                assert api.exec(container, ["/bin/tool", "cp", "/bin/tool", "/usr/local/bin/dropper", "755"]) == 0
                assert api.exec(container, ["/usr/local/bin/dropper", "write", "/etc/app.conf", "644", "x=1\n"]) == 0
                assert module.run_once() == 2
                by_path = {e.attributes["path"]: e for e in events}
                dropped = by_path["/usr/local/bin/dropper"].attributes["writer"]
                assert dropped["exe"] == "/bin/tool" and dropped["comm"] == "tool"
                assert dropped["cmdline"] == "/bin/tool cp /bin/tool /usr/local/bin/dropper 755"
                assert dropped["uid"] == 0 and dropped["pid"] > 1
                config = by_path["/etc/app.conf"].attributes["writer"]  # written by the dropped program
                assert config["exe"] == "/usr/local/bin/dropper" and config["comm"] == "dropper"
                assert config["pid"] != dropped["pid"]

                api.remove(container)
                module.run_once()  # the stopped container's rule is deleted
                assert writers.key_of(container) not in _rules() and writers.key_of(old) in _rules()
                container = ""
            finally:
                module.stop()
            assert _rules() == rules_before  # every rule of the module deleted on stop

            killed = Module()  # an agent killed before stop: its rules stay until the next start
            killed.start(ModuleContext(tmp_path, tmp_path / "state", events.append, logging.getLogger("t"), settings))
            killed.apply({"audit": True}, 2)
            killed.run_once()
            assert killed._writers is not None
            left = killed._writers.key_of(old)
            killed._writers = None
            assert left in _rules()
            restarted = Module()  # same state directory: the recorded key's rules are deleted
            restarted.start(
                ModuleContext(tmp_path, tmp_path / "state", events.append, logging.getLogger("t"), settings)
            )
            try:
                restarted.apply({"audit": True}, 3)
                assert left not in _rules()
            finally:
                restarted.stop()
            assert _rules() == rules_before
    finally:
        if container:
            api.remove(container)
        api.close()
        ours = re.compile(r"-k (sw-drift-\S+)")
        for key in set(ours.findall(_rules())) - set(ours.findall(rules_before)):
            subprocess.run(["auditctl", "-D", "-k", key], capture_output=True, check=False)
        shutil.rmtree(audit_dir)
    assert _rules() == rules_before
