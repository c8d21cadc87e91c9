"""The NFQUEUE inline path: iptables-legacy rules that hand packets to Suricata.

Shieldwall owns one chain (``SHIELDWALL-IPS``) per table and one jump to it in
each configured built-in chain; nothing else is touched. Fail-open versus
fail-closed when Suricata is down is the NFQUEUE target's ``--queue-bypass``:

* fail-open (``--queue-bypass``): with no program bound to the queue, the
  kernel accepts the packets, uninspected; traffic keeps flowing.
* fail-closed (no bypass): with no program bound, the kernel drops the
  packets; nothing passes uninspected until Suricata is back.

(Suricata's own ``nfq.fail-open`` covers the other case, a full queue while it
runs, and is set to match.) nftables' ``queue`` expression is not available on
every kernel, hence iptables-legacy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from shieldwall.agent.modules.ips.commands import Tools

CHAIN = "SHIELDWALL-IPS"
TIMEOUT = 30.0


class InlineError(RuntimeError):
    """An iptables command failed."""


def _run(tools: Tools, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = tools.wrap([tools.iptables, "-w", "5", *args])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if check and proc.returncode != 0:
        raise InlineError(f"{' '.join(argv)}: {proc.stderr.strip()[:500]}")
    return proc


def rules(queue: int, fail_open: bool) -> list[str]:
    """The NFQUEUE target's arguments."""
    target = ["-j", "NFQUEUE", "--queue-num", str(int(queue))]
    if fail_open:
        target.append("--queue-bypass")
    return target


def install(tools: Tools, chains: Sequence[str], queue: int, fail_open: bool) -> None:
    """Create or refresh Shieldwall's chain and the jumps to it (idempotent)."""
    if _run(tools, ["-n", "-L", CHAIN], check=False).returncode != 0:
        _run(tools, ["-N", CHAIN])
    _run(tools, ["-F", CHAIN])
    _run(tools, ["-A", CHAIN, *rules(queue, fail_open)])
    for chain in chains:
        if _run(tools, ["-C", chain, "-j", CHAIN], check=False).returncode != 0:
            _run(tools, ["-I", chain, "1", "-j", CHAIN])


def remove_jumps(tools: Tools, chains: Sequence[str]) -> None:
    """Remove the jumps to Shieldwall's chain from ``chains`` (the chain itself stays)."""
    for chain in chains:
        while _run(tools, ["-C", chain, "-j", CHAIN], check=False).returncode == 0:
            _run(tools, ["-D", chain, "-j", CHAIN])


def remove(tools: Tools, chains: Sequence[str] = ("FORWARD", "INPUT", "OUTPUT")) -> None:
    """Remove the jumps and the chain (what ``install`` created, nothing else)."""
    remove_jumps(tools, chains)
    if _run(tools, ["-n", "-L", CHAIN], check=False).returncode == 0:
        _run(tools, ["-F", CHAIN])
        _run(tools, ["-X", CHAIN])
