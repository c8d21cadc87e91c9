"""The bundled templates on small host trees: the docker socket's mode, a new static pod, sshd and cron."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from helpers.fim import started, write


def test_docker_socket_mode_and_daemon_json(tmp_path: Path) -> None:
    with started(tmp_path) as harness:
        root = harness.root
        write(root, "/etc/docker/daemon.json", '{"icc": false}\n')
        (root / "var/run").mkdir(parents=True)
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(root / "var/run/docker.sock"))
            os.chmod(root / "var/run/docker.sock", 0o660)
            harness.apply({"templates": ["docker-host"], "realtime": False, "audit": False, "system": False})
            os.chmod(root / "var/run/docker.sock", 0o666)  # everyone may now talk to the daemon
            (root / "etc/docker/daemon.json").write_text('{"icc": true}\n')
            events = {str(e.attributes["path"]): e for e in harness.module.check_now()}
        finally:
            sock.close()
        socket_event = events["/var/run/docker.sock"]
        assert socket_event.kind == "fim.attributes_changed" and socket_event.severity.value == "CRITICAL"
        assert (socket_event.attributes["old"]["mode"], socket_event.attributes["new"]["mode"]) == (0o660, 0o666)
        assert socket_event.attributes["new"]["type"] == "s"
        daemon = events["/etc/docker/daemon.json"]
        assert daemon.kind == "fim.modified" and '+{"icc": true}' in daemon.attributes["diff"]


def test_a_new_static_pod_and_pki_without_diffs(tmp_path: Path) -> None:
    with started(tmp_path) as harness:
        root = harness.root
        write(root, "/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n")
        write(root, "/etc/kubernetes/pki/ca.key", "-----BEGIN PRIVATE KEY-----\nold\n")
        harness.apply({"templates": ["kubernetes-node"], "realtime": False, "audit": False, "system": False})
        write(root, "/etc/kubernetes/manifests/miner.yaml", "kind: Pod\nspec: {hostPID: true}\n")
        (root / "etc/kubernetes/pki/ca.key").write_text("-----BEGIN PRIVATE KEY-----\nnew\n")
        events = {str(e.attributes["path"]): e for e in harness.module.check_now()}
        pod = events["/etc/kubernetes/manifests/miner.yaml"]
        assert pod.kind == "fim.added" and pod.severity.value == "CRITICAL" and "hostPID" in pod.attributes["diff"]
        key = events["/etc/kubernetes/pki/ca.key"]
        assert key.kind == "fim.modified" and "diff" not in key.attributes


def test_linux_server_sshd_and_authorized_keys(tmp_path: Path) -> None:
    with started(tmp_path) as harness:
        root = harness.root
        write(root, "/etc/ssh/sshd_config", "PermitRootLogin no\n")
        (root / "root/.ssh").mkdir(parents=True)
        harness.apply({"templates": ["linux-server"], "realtime": False, "audit": False, "system": False})
        (root / "etc/ssh/sshd_config").write_text("PermitRootLogin yes\n")
        write(root, "/root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample attacker\n", 0o600)
        events = {str(e.attributes["path"]): e for e in harness.module.check_now()}
        assert events["/etc/ssh/sshd_config"].severity.value == "HIGH"
        assert "+PermitRootLogin yes" in events["/etc/ssh/sshd_config"].attributes["diff"]
        assert events["/root/.ssh/authorized_keys"].kind == "fim.added"
        assert events["/root/.ssh/authorized_keys"].severity.value == "CRITICAL"
