"""The inventory module on a small root: packages via the catalogers, host sections, differential events."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from helpers.agent_fleet import DEBIAN_STATUS, build_root
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules.inventory import InventoryPolicy, Module, collect
from shieldwall.agent.modules.inventory.packages import inside


def _root(tmp_path: Path) -> Path:
    root = build_root(tmp_path / "root")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nwww:x:33:33:www:/var/www:/usr/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nsudo:x:27:alice,bob\n")
    (root / "etc" / "sudoers").write_text("# comment\nroot ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\n")
    (root / "proc").mkdir()
    (root / "proc" / "modules").write_text("nf_tables 307200 0 - Live 0x0\next4 1003520 1 - Live 0x0\n")
    (root / "usr" / "bin").mkdir(parents=True)
    passwd = root / "usr" / "bin" / "passwd"
    passwd.write_bytes(b"\x7fELF")
    passwd.chmod(0o4755)
    app = root / "srv" / "app" / "venv" / "lib" / "python3.11" / "site-packages" / "requests-2.25.0.dist-info"
    app.mkdir(parents=True)
    (app / "METADATA").write_text("Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n")
    return root


def _module(root: Path, state: Path, **settings: Any) -> tuple[Module, list[AgentEvent], list[dict[str, Any]]]:
    events: list[AgentEvent] = []
    published: list[dict[str, Any]] = []
    state.mkdir(parents=True, exist_ok=True)
    ctx = ModuleContext(
        root=root,
        state_dir=state,
        emit=events.append,
        log=logging.getLogger("test"),
        settings={"publish_snapshot": lambda name, doc: published.append(dict(doc)), "live_host": False, **settings},
    )
    module = Module()
    module.start(ctx)
    return module, events, published


def test_collect_reads_packages_and_host_sections(tmp_path: Path) -> None:
    root = _root(tmp_path)
    doc = collect(root, InventoryPolicy({"app_paths": ["/srv/app"]}), live=False, docker_socket=tmp_path / "none")
    names = {(p["type"], p["name"], p["version"]) for p in doc["packages"]}
    assert ("deb", "openssl", "3.0.11-1~deb12u2") in names
    assert ("pypi", "requests", "2.25.0") in names
    libssl = next(p for p in doc["packages"] if p["name"] == "libssl3")
    assert libssl["source_name"] == "openssl"
    assert doc["os"]["family"] == "debian" and doc["os"]["version"] == "12"
    assert [u["name"] for u in doc["users"]] == ["root", "www"]
    assert next(g for g in doc["groups"] if g["name"] == "sudo")["members"] == ["alice", "bob"]
    assert [s["line"] for s in doc["sudoers"]] == ["root ALL=(ALL:ALL) ALL", "#includedir /etc/sudoers.d"]
    assert [(f["path"], f["mode"], f["setuid"]) for f in doc["suid"]] == [("/usr/bin/passwd", "4755", True)]
    assert [m["name"] for m in doc["kernel_modules"]] == ["nf_tables", "ext4"]
    assert doc["processes"] == [] and doc["listening"] == [], "not a live root"
    assert len(doc["hash"]) == 64


def test_links_leaving_the_root_are_refused(tmp_path: Path) -> None:
    root = _root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    (root / "etc" / "passwd").unlink()
    (root / "etc" / "passwd").symlink_to(outside / "passwd")
    assert inside(root, "etc/passwd") is None
    doc = collect(root, InventoryPolicy({}), live=False, docker_socket=tmp_path / "none")
    assert doc["users"] == []


def test_policy_validation_is_atomic(tmp_path: Path) -> None:
    module, _, _ = _module(_root(tmp_path), tmp_path / "state")
    assert module.apply({"interval_seconds": 60}, 1).status is ModuleStatus.RUNNING
    for bad in (
        {"interval_seconds": 1},
        {"app_paths": ["relative"]},
        {"app_paths": ["/a/../b"]},
        {"nope": 1},
        {"processes": "yes"},
    ):
        with pytest.raises(PolicyError):
            module.apply(bad, 2)
    assert module.policy is not None and module.policy.interval == 60 and module.revision == 1
    assert module.apply(None, 3).status is ModuleStatus.DISABLED


def test_differences_are_events_and_unchanged_inventories_are_not_republished(tmp_path: Path) -> None:
    root = _root(tmp_path)
    module, events, published = _module(root, tmp_path / "state")
    policy = InventoryPolicy({"app_paths": ["/srv/app"]})
    first = module.run_once(policy)
    assert events == [] and len(published) == 1 and published[0]["hash"] == first["hash"]
    module.run_once(policy)
    assert events == [] and len(published) == 1, "same hash: nothing new to send"

    status = root / "var" / "lib" / "dpkg" / "status"
    status.write_text(DEBIAN_STATUS.replace("3.0.11-1~deb12u2", "3.0.15-1~deb12u1"))
    dropper = root / "tmp" / "x"
    dropper.parent.mkdir()
    dropper.write_bytes(b"#!")
    dropper.chmod(0o4755)
    with open(root / "etc" / "passwd", "a") as handle:
        handle.write("backdoor:x:0:0::/:/bin/sh\n")
    with open(root / "etc" / "sudoers", "a") as handle:
        handle.write("backdoor ALL=(ALL) NOPASSWD: ALL\n")
    second = module.run_once(policy)
    kinds = {(e.kind, e.severity.value) for e in events}
    assert ("inventory.package_changed", "LOW") in kinds
    assert ("inventory.setid_added", "HIGH") in kinds
    assert ("inventory.user_added", "MEDIUM") in kinds
    assert ("inventory.sudoers_added", "HIGH") in kinds
    upgraded = [e for e in events if e.kind == "inventory.package_changed"]
    assert {e.attributes["name"] for e in upgraded} == {"openssl", "libssl3"}
    assert all(e.attributes["new_version"] == "3.0.15-1~deb12u1" for e in upgraded)
    assert any("/tmp/x" in e.summary for e in events if e.kind == "inventory.setid_added")
    assert len(published) == 2 and published[1]["hash"] == second["hash"]
    assert len({e.key for e in events}) == len(events)
    assert module.scans == 3


def test_new_listening_port_with_its_process(tmp_path: Path) -> None:
    """A real socket opened by this process shows up as port_opened with our executable."""
    root = _root(tmp_path)
    module, events, _ = _module(root, tmp_path / "state", live_host=True)
    policy = InventoryPolicy({"processes": True, "containers": False})
    module.run_once(policy)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        module.run_once(policy)
    finally:
        listener.close()
    opened = [e for e in events if e.kind == "inventory.port_opened" and e.attributes["port"] == port]
    assert len(opened) == 1
    assert opened[0].attributes["pid"] == os.getpid()
    assert f"new listening port {port}/tcp by " in opened[0].summary


def test_tick_runs_in_the_background(tmp_path: Path) -> None:
    module, _, published = _module(_root(tmp_path), tmp_path / "state")
    module.apply({"interval_seconds": 3600}, 5)
    module.tick(1000.0)
    assert module.worker is not None
    module.worker.join(60)
    assert len(published) == 1
    module.tick(1001.0)
    assert module.worker is not None and not module.worker.is_alive(), "not due again before the interval"
    module.stop()


def test_the_agent_uses_exactly_the_registry_package_analyzers() -> None:
    from shieldwall.agent.modules.inventory.packages import package_analyzers
    from shieldwall.analyze.registry import load_analyzers

    registry = {a.name for a in load_analyzers(include_plugins=False, scanners=[])}
    assert {a.name for a in package_analyzers()} == registry


def test_the_real_debian_12_status_of_this_machine(tmp_path: Path, shared_data: Path) -> None:
    """A richer root: the real dpkg status in ../shared/data (skipped when absent)."""
    status = shared_data / "pkgdb" / "debian12-dpkg" / "status"
    if not status.is_file():
        pytest.skip("../shared/data/pkgdb/debian12-dpkg/status not present")
    root = build_root(tmp_path / "root", status=status.read_text())
    doc = collect(root, InventoryPolicy({}), live=False, docker_socket=tmp_path / "none")
    names = {p["name"] for p in doc["packages"]}
    assert len(doc["packages"]) >= 700 and {"libc6", "openssl", "dpkg"} <= names
    libssl = [p for p in doc["packages"] if p["name"].startswith("libssl")]
    assert libssl and all(p["source_name"] == "openssl" for p in libssl)
    assert doc["os"]["version_codename"] == "bookworm"


def test_containers_from_the_engine_api_over_a_unix_socket(tmp_path: Path) -> None:
    """The Docker Engine API's two calls, answered by a small HTTP server on a unix socket (no dockerd here)."""
    import json
    import socketserver
    import threading
    from http.server import BaseHTTPRequestHandler

    from shieldwall.agent.modules.inventory.host import containers

    digest = "sha256:" + "ab" * 32
    answers = {
        "/containers/json": [{"Id": "c" * 64, "Names": ["/web"], "Image": "nginx:1.25", "ImageID": digest,
                              "State": "running"}],
        f"/images/{digest}/json": {"RepoDigests": ["nginx@sha256:" + "cd" * 32]},
    }  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answers.get(self.path.split("?")[0], {"message": "no"})).encode()
            self.send_response(200 if self.path.split("?")[0] in answers else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:
            return "unix"

        def log_message(self, *args: object) -> None:
            return None

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    path = tmp_path / "docker.sock"
    server = Server(str(path), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rows = containers(path)
    finally:
        server.shutdown()
        server.server_close()
    assert rows == [
        {
            "id": "c" * 64,
            "name": "web",
            "image": "nginx:1.25",
            "image_id": digest,
            "repo_digests": ["nginx@sha256:" + "cd" * 32],
            "state": "running",
        }
    ]
    assert containers(tmp_path / "absent.sock") == []


OWNED_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "os" / "dpkg-info"


def _owned_root(root: Path, *, listed: bool) -> Path:
    import shutil

    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    shutil.copy(OWNED_FIXTURES / "status", root / "var/lib/dpkg/status")
    if listed:
        shutil.copy(OWNED_FIXTURES / "python3-setuptools.list", info / "python3-setuptools.list")
    egg = root / "usr/lib/python3/dist-packages/setuptools-66.1.1.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: setuptools\nVersion: 66.1.1\n")
    return root


@pytest.mark.parametrize("listed", [True, False])
def test_host_dist_packages_owned_by_dpkg_are_marked_on_the_wire(tmp_path: Path, listed: bool) -> None:
    """A host's python3-setuptools egg-info travels as owned by the Debian package (matched through it)."""
    from shieldwall.agent.modules.inventory.packages import catalogue, package_wire
    from shieldwall.service.fleet.hosts import packages_from_wire

    found = catalogue(_owned_root(tmp_path / "root", listed=listed), ["/usr/lib/python3/dist-packages"])
    wire = [package_wire(p) for p in found.packages]
    pypi = next(item for item in wire if item["type"] == "pypi")
    expected = "deb:python3-setuptools@66.1.1-1+deb12u1" if listed else ""
    assert pypi["os_owner"] == expected
    manager = next(p for p in packages_from_wire(wire) if str(p.type) == "pypi")
    assert (("os-owner", expected) in manager.metadata) is listed


def test_the_manager_ignores_an_owner_the_inventory_does_not_have() -> None:
    """An agent cannot switch off a package's own ranges by naming an OS package it does not report."""
    from shieldwall.service.fleet.hosts import packages_from_wire

    wire = [{"type": "pypi", "name": "setuptools", "version": "66.1.1", "os_owner": "deb:python3-setuptools@1"}]
    (package,) = packages_from_wire(wire)
    assert package.metadata == ()
