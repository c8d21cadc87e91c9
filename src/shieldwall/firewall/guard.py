"""Apply a ruleset with an automatic rollback unless it is confirmed in time.

The sequence, like a router's "commit confirmed":

1. ``nft -c`` validates the new batch; a refusal leaves everything as it was
   (``NftError`` with nft's message);
2. our current table is saved (``nft -j list table``) and turned into a
   restore batch, itself validated, written to the state directory;
3. a watchdog process (own session) is started that will apply the restore
   batch after ``deadline + grace`` seconds, even if the agent dies;
4. the new batch is applied in one transaction;
5. ``confirm()`` (the agent can still reach its manager) is called until it
   returns True or the deadline passes. Confirmed: the watchdog is killed.
   Not confirmed: the watchdog is killed, the restore batch is applied now and
   ``RolledBack`` is raised.

Without a ``confirm`` callable the batch is applied unguarded (step 5 is
skipped) and the outcome says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shieldwall.firewall.compile import Json
from shieldwall.firewall.nft import Nft, NftError, restore_batch, write_private

WATCHDOG_GRACE_SECONDS = 10.0
CONFIRM_RETRY_SECONDS = 0.5


class RolledBack(NftError):
    """The new ruleset was not confirmed in time; the previous one was restored."""


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What an apply did: whether it was guarded and how long confirmation took."""

    guarded: bool
    confirmed: bool
    seconds_to_confirm: float
    previous: Json | None


def _confirm_once(confirm: Callable[[], bool], timeout: float) -> bool:
    """One confirmation attempt bounded in time; an exception counts as "not confirmed"."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            result.append(bool(confirm()))
        except Exception:  # any failure to reach the manager means "not confirmed"
            result.append(False)

    worker = threading.Thread(target=attempt, name="firewall-confirm", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout))
    return bool(result and result[0])


def start_watchdog(nft: Nft, restore_path: Path, delay: float) -> subprocess.Popen[bytes]:
    """Start the detached backstop that restores ``restore_path`` after ``delay`` seconds."""
    argv = [sys.executable, "-m", "shieldwall.firewall.watchdog", f"{delay:.3f}", "--"]
    argv += nft.argv("-j", "-f", str(restore_path))
    return subprocess.Popen(  # the child outlives us on purpose (own session); stopped in cancel_watchdog
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def cancel_watchdog(proc: subprocess.Popen[bytes]) -> bool:
    """Stop the watchdog; True when it had not fired yet."""
    if proc.poll() is not None:
        return False
    proc.kill()
    proc.wait(timeout=10)
    return True


def guarded_apply(
    nft: Nft,
    batch: Json,
    *,
    state_dir: Path,
    confirm: Callable[[], bool] | None,
    deadline_seconds: float,
) -> ApplyOutcome:
    """Apply ``batch`` per the module docstring; ``NftError``/``RolledBack`` leave the previous table."""
    nft.run_batch(batch, check=True)
    previous = nft.list_table()
    restore = restore_batch(previous)
    try:
        nft.run_batch(restore, check=True)
    except NftError as exc:
        raise NftError(f"the running table cannot be saved for a rollback, nothing applied: {exc}") from None
    if confirm is None:
        nft.run_batch(batch)
        return ApplyOutcome(guarded=False, confirmed=False, seconds_to_confirm=0.0, previous=previous)

    restore_path = state_dir / "rollback.json"
    write_private(restore_path, json.dumps(restore))
    watchdog = start_watchdog(nft, restore_path, deadline_seconds + WATCHDOG_GRACE_SECONDS)
    try:
        nft.run_batch(batch)
    except NftError:
        cancel_watchdog(watchdog)
        raise
    started = time.monotonic()
    deadline = started + deadline_seconds
    confirmed = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if _confirm_once(confirm, remaining):
            confirmed = True
            break
        time.sleep(min(CONFIRM_RETRY_SECONDS, max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - started
    fired_already = not cancel_watchdog(watchdog)
    if confirmed and not fired_already:
        return ApplyOutcome(guarded=True, confirmed=True, seconds_to_confirm=elapsed, previous=previous)
    nft.run_batch(restore)
    raise RolledBack(
        f"the new firewall policy was not confirmed within {deadline_seconds:g}s; the previous ruleset was restored"
    )
