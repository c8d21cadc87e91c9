"""Two network namespaces joined by a veth pair, with echo servers and clients, removed on teardown.

``host`` (10.231.X.1, fd31:231:X::1) is the machine whose firewall is under
test; ``peer`` (10.231.X.2 and fd31:231:X::2, plus extra addresses 3-9 of
both families on the same link) plays the clients,
attackers and the manager. Every command is an argument list run through
``ip netns exec``; every process started here is killed and every namespace
deleted in ``close`` even when a test failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PROBE = str(Path(__file__).with_name("netprobe.py"))


def available() -> str | None:
    """Why namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=check)


@dataclass
class NetPair:
    """The two namespaces, their addresses and the processes started in them."""

    octet: int
    host: str
    peer: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def host_dev(self) -> str:
        """The host end of the veth pair."""
        return f"swh{self.host.split('-')[1]}"

    @property
    def host_ip(self) -> str:
        """The protected host's address."""
        return f"10.231.{self.octet}.1"

    @property
    def host_ip6(self) -> str:
        """The protected host's IPv6 address (unique local, inside the namespaces only)."""
        return f"fd31:231:{self.octet}::1"

    def peer_ip6(self, n: int = 2) -> str:
        """One of the peer's IPv6 addresses (2..9)."""
        return f"fd31:231:{self.octet}::{n}"

    def peer_ip(self, n: int = 2) -> str:
        """One of the peer's addresses (2..9)."""
        return f"10.231.{self.octet}.{n}"

    @classmethod
    def create(cls) -> NetPair:
        """Create both namespaces, the veth pair and the addresses."""
        tag = uuid.uuid4().hex[:6]
        octet = int(tag[:2], 16) % 200 + 20
        pair = cls(octet, f"swfw-{tag}-h", f"swfw-{tag}-p")
        try:
            _run("ip", "netns", "add", pair.host)
            _run("ip", "netns", "add", pair.peer)
            _run(
                "ip",
                "link",
                "add",
                f"swh{tag}",
                "netns",
                pair.host,
                "type",
                "veth",
                "peer",
                "name",
                f"swp{tag}",
                "netns",
                pair.peer,
            )
            _run("ip", "-n", pair.host, "addr", "add", f"{pair.host_ip}/24", "dev", f"swh{tag}")
            _run("ip", "-n", pair.host, "addr", "add", f"{pair.host_ip6}/64", "dev", f"swh{tag}", "nodad")
            for n in range(2, 10):
                _run("ip", "-n", pair.peer, "addr", "add", f"{pair.peer_ip(n)}/24", "dev", f"swp{tag}")
                _run("ip", "-n", pair.peer, "addr", "add", f"{pair.peer_ip6(n)}/64", "dev", f"swp{tag}", "nodad")
            for ns, dev in ((pair.host, f"swh{tag}"), (pair.peer, f"swp{tag}")):
                _run("ip", "-n", ns, "link", "set", dev, "up")
                _run("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            pair.close()
            raise
        return pair

    def exec_argv(self, ns: str, *argv: str) -> list[str]:
        """``ip netns exec NS argv...``."""
        return ["ip", "netns", "exec", ns, *argv]

    def serve(self, ns: str, proto: str, *ports: int) -> None:
        """Start echo servers in ``ns`` and wait until they listen."""
        proc = subprocess.Popen(
            self.exec_argv(ns, sys.executable, PROBE, "serve", proto, *map(str, ports)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"echo server in {ns} did not start")

    def connect(
        self, ns: str, proto: str, host: str, port: int, *, source: str | None = None, timeout: float = 1.0
    ) -> str:
        """One echo round trip from ``ns``: ``ok``, ``timeout``, ``refused``..."""
        argv = [sys.executable, PROBE, "connect", proto, host, str(port), "--timeout", str(timeout)]
        if source:
            argv += ["--source", source]
        proc = subprocess.run(
            self.exec_argv(ns, *argv), capture_output=True, text=True, timeout=timeout + 30, check=False
        )
        return proc.stdout.strip() or f"error:{proc.stderr.strip()[-200:]}"

    def nft(self, ns: str, *args: str, check: bool = True) -> str:
        """Run nft by hand in ``ns`` (to simulate an administrator's manual change)."""
        return _run(*self.exec_argv(ns, "nft", *args), check=check).stdout

    def close(self) -> None:
        """Kill every process started here and delete both namespaces."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()
        for ns in (self.host, self.peer):
            _run("ip", "netns", "delete", ns, check=False)
