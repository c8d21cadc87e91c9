"""Sending what the outbox holds: rate-limited, retried with exponential backoff, crash-safe.

``Dispatcher.run_once()`` recovers rows a dead process left in ``sending``,
claims due alerts, sends each through its channel (``httpx`` for webhook,
Slack and Teams; ``smtplib`` for email) and records the outcome; see
``store.outbox`` for the exactly-once protocol.

Test hooks (environment variables, used to kill the process at the worst
moments): ``SHIELDWALL_TEST_CRASH_AFTER_CLAIM=1`` exits right after a row is
marked ``sending`` and before anything is sent; ``SHIELDWALL_TEST_CRASH_AFTER_SEND=1``
exits right after a successful send and before ``sent`` is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from shieldwall.alert.config import AlertSettings, ChannelConfig, ChannelType
from shieldwall.alert.messages import email_message, render_http
from shieldwall.egress import EgressDenied, EgressPolicy, guarded_transport
from shieldwall.store import audit, outbox
from shieldwall.store.core import Store, utcnow

log = logging.getLogger(__name__)

CRASH_AFTER_CLAIM = "SHIELDWALL_TEST_CRASH_AFTER_CLAIM"
CRASH_AFTER_SEND = "SHIELDWALL_TEST_CRASH_AFTER_SEND"
_CRASH_CODE = 86


class DeliveryError(Exception):
    """A channel refused or failed a delivery (retried with backoff)."""


def _crash_hook(name: str) -> None:
    if os.environ.get(name) == "1":
        logging.shutdown()
        os._exit(_CRASH_CODE)


def send_http(channel: ChannelConfig, payload: dict[str, object], key: str, client: httpx.Client) -> None:
    """POST the channel's JSON body with an ``Idempotency-Key`` header; any non-2xx is a failure."""
    headers = {"Idempotency-Key": key, "User-Agent": "shieldwall-alerts", **channel.headers}
    try:
        response = client.post(
            channel.url, json=render_http(channel, payload), headers=headers, timeout=channel.timeout
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{channel.name}: {type(exc).__name__}: {exc}") from exc
    except EgressDenied as exc:
        raise DeliveryError(f"{channel.name}: {exc}") from exc
    if response.status_code // 100 != 2:
        raise DeliveryError(f"{channel.name}: HTTP {response.status_code}")


def send_email(channel: ChannelConfig, payload: dict[str, object]) -> None:
    """Send the alert by SMTP (STARTTLS and login when configured)."""
    message = email_message(payload, channel)
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=channel.timeout) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username:
                smtp.login(channel.username, channel.password())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{channel.name}: {type(exc).__name__}: {exc}") from exc


@dataclass(slots=True)
class DispatchStats:
    """What one ``run_once`` did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    postponed: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    """Delivers outbox rows for the configured channels."""

    def __init__(
        self,
        store: Store,
        settings: AlertSettings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self._client = client or httpx.Client(trust_env=False, transport=guarded_transport(EgressPolicy.server()))
        self._own_client = client is None
        self._clock = clock
        self._recovered = False

    def close(self) -> None:
        """Release the HTTP client."""
        if self._own_client:
            self._client.close()

    def backoff(self, attempts: int) -> dt.timedelta | None:
        """Delay before the next attempt after ``attempts`` failures; None when the alert is dead."""
        if attempts >= self.settings.max_attempts:
            return None
        seconds = min(self.settings.backoff_max_seconds, self.settings.backoff_seconds * (2 ** (attempts - 1)))
        return dt.timedelta(seconds=seconds)

    def _allowance(self) -> dict[str, int]:
        since = self._clock() - dt.timedelta(minutes=1)
        limit = self.settings.rate_limit_per_minute
        return {c.name: max(0, limit - outbox.sent_since(self.store, c.name, since)) for c in self.settings.channels}

    def run_once(self, limit: int = 50) -> DispatchStats:
        """Recover stale rows (first call), then send what is due within each channel's rate limit."""
        stats = DispatchStats()
        if not self._recovered:
            stats.recovered = outbox.recover_stale(self.store)
            self._recovered = True
        names = [c.name for c in self.settings.channels]
        if not names:
            return stats
        allowance = self._allowance()
        for alert in outbox.claim(self.store, names, limit):
            _crash_hook(CRASH_AFTER_CLAIM)
            channel = self.settings.channel(alert.channel)
            if channel is None:  # pragma: no cover - filtered by claim
                continue
            if allowance.get(channel.name, 0) <= 0:
                outbox.postpone(self.store, alert.id, dt.timedelta(seconds=60), "rate limited")
                stats.postponed += 1
                continue
            try:
                payload = dict(alert.payload)
                if channel.type is ChannelType.EMAIL:
                    send_email(channel, payload)
                else:
                    send_http(channel, payload, alert.idempotency_key, self._client)
            except DeliveryError as exc:
                retry = self.backoff(alert.attempts)
                outbox.mark_failed(self.store, alert.id, str(exc), retry)
                stats.errors.append(str(exc))
                if retry is None:
                    stats.dead += 1
                    audit.record(
                        self.store,
                        audit.AuditAction.ALERT_FAILED,
                        f"alert:{alert.idempotency_key}",
                        {"channel": channel.name, "attempts": alert.attempts, "error": str(exc)[:500]},
                        actor="shieldwall-monitor",
                    )
                else:
                    stats.failed += 1
                log.warning("alert %s on %s failed: %s", alert.idempotency_key, channel.name, exc)
                continue
            _crash_hook(CRASH_AFTER_SEND)
            allowance[channel.name] = allowance.get(channel.name, 0) - 1
            with self.store.session() as session:
                outbox.mark_sent_in(session, alert.id)
                audit.append_event(
                    self.store,
                    session,
                    audit.AuditAction.ALERT_SENT,
                    f"alert:{alert.idempotency_key}",
                    {
                        "channel": channel.name,
                        "type": str(channel.type),
                        "event": alert.event,
                        "attempts": alert.attempts,
                        "finding": alert.payload.get("finding", {}).get("fingerprint", ""),
                        "asset": alert.payload.get("asset", {}).get("identifier", ""),
                    },
                    actor="shieldwall-monitor",
                )
            stats.sent += 1
        return stats
