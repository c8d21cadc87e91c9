"""A background thread in the manager that raises the silent-agent alerts even when no agent calls in."""

from __future__ import annotations

import logging
import os
import threading

from shieldwall.service.fleet.status import StatusThresholds, monitor_alert_settings, sweep_silent
from shieldwall.store import Store

log = logging.getLogger(__name__)
DEFAULT_SWEEP_SECONDS = 10.0


class FleetSweeper:
    """Every ``interval`` seconds: mark silent agents and queue their alerts (``status.sweep_silent``)."""

    def __init__(self, store: Store, thresholds: StatusThresholds, interval: float = DEFAULT_SWEEP_SECONDS) -> None:
        self.store = store
        self.thresholds = thresholds
        self.interval = max(0.1, interval)
        self.sweeps = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-sweeper", daemon=True)

    @classmethod
    def from_environ(cls, store: Store) -> FleetSweeper:
        """Thresholds from ``SHIELDWALL_AGENT_*``; the interval from ``SHIELDWALL_AGENT_SWEEP_SECONDS``."""
        from shieldwall.service.fleet.settings import FleetSettings

        text = os.environ.get("SHIELDWALL_AGENT_SWEEP_SECONDS", "").strip()
        try:
            interval = float(text) if text else DEFAULT_SWEEP_SECONDS
        except ValueError:
            interval = DEFAULT_SWEEP_SECONDS
        return cls(store, FleetSettings.from_environ().thresholds, interval)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sweep_silent(self.store, monitor_alert_settings(self.store), thresholds=self.thresholds)
                self.sweeps += 1
            except Exception:  # a failed sweep is logged and counted; the next one tries again
                self.errors += 1
                log.exception("silent-agent sweep failed")
