"""``--timeout``: stop a scan that runs too long, so that nothing partial is ever reported.

The deadline is a real-time interval timer (``SIGALRM``) in the main thread.
When it fires, ``ScanTimeout`` is raised where the scan is; it derives from
``BaseException`` so that no ``except Exception`` inside the scan (an
analyzer's crash guard, for example) can turn it into a warning and go on.
The caller also checks ``Deadline.expired`` after the scan returns.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from shieldwall.errors import InputError

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)?")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}
MAX_SECONDS = 7 * 24 * 3600.0


class ScanTimeout(BaseException):  # deliberately not an Exception: no crash guard may swallow it
    """The scan ran past its ``--timeout``."""


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h30m``, ``5m0s`` (trivy's form) -> seconds; a bad value is an ``InputError``."""
    value = text.strip().lower()
    pos = 0
    total = 0.0
    while pos < len(value):
        match = _PART.match(value, pos)
        if match is None:
            raise InputError(f"--timeout {text!r}: expected a duration such as 90s, 5m or 1h30m")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not value or total <= 0 or total > MAX_SECONDS:
        raise InputError(f"--timeout {text!r}: give a duration above 0 and at most 7 days")
    return total


@dataclass
class Deadline:
    """Whether the timer fired (``expired``) and after how long (``seconds``)."""

    seconds: float
    expired: bool = False


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[Deadline]:
    """Raise ``ScanTimeout`` in the block once ``seconds`` have passed (no limit when ``None``)."""
    state = Deadline(seconds or 0.0)
    if not seconds:
        yield state
        return
    if threading.current_thread() is not threading.main_thread():
        raise InputError("--timeout needs the main thread")

    def fire(signum: int, frame: FrameType | None) -> None:
        state.expired = True
        raise ScanTimeout(f"the scan did not finish within {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
