"""The rollback backstop: a detached process that restores the previous ruleset after a delay.

``python -m shieldwall.firewall.watchdog DELAY -- ARGV...`` sleeps ``DELAY``
seconds and then runs ``ARGV`` (``[ip netns exec NS] nft -j -f saved.json``).
The guard starts it in its own session before applying a new policy and
kills it once the policy is confirmed, so even an agent that dies during
the confirmation window cannot leave an unconfirmed policy in place.
"""

from __future__ import annotations

import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """Sleep, then run the restore command; exit with its status."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: watchdog DELAY -- COMMAND...", file=sys.stderr)
        return 2
    time.sleep(max(0.0, float(argv[0])))
    return subprocess.run(argv[2:], check=False, timeout=300).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
