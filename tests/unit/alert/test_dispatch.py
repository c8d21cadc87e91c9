"""Alert delivery: message formats, SMTP, and exactly-once semantics across a crash between write and send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.alert_receivers import SmtpReceiver, WebhookReceiver
from helpers.store_data import CRITICAL_VECTOR, image_result, osv, pypi
from shieldwall.alert.config import AlertSettings, ChannelConfig
from shieldwall.alert.dispatch import CRASH_AFTER_CLAIM, CRASH_AFTER_SEND, Dispatcher
from shieldwall.match.matcher import InMemoryAdvisories
from shieldwall.service.rematch import rematch
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.outbox import status_counts
from shieldwall.store.records import record_scan

JINJA = osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))
SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


def _one_alert(store: Store, settings: AlertSettings) -> None:
    record_scan(store, image_result("aa", (pypi("Jinja2", "2.11.2"),), tag="golden"))
    report = rematch(store, InMemoryAdvisories([JINJA]), {("PyPI", "jinja2")}, alerts=settings)
    assert report.alerts_queued == len(settings.channels)


def test_slack_teams_and_webhook_formats(store: Store, receiver: WebhookReceiver) -> None:
    settings = AlertSettings(
        channels=(
            ChannelConfig(name="json", type="webhook", url=receiver.url + "/json", headers={"X-Token": "t"}),
            ChannelConfig(name="slack", type="slack", url=receiver.url + "/slack"),
            ChannelConfig(name="teams", type="teams", url=receiver.url + "/teams"),
        )
    )
    _one_alert(store, settings)
    assert Dispatcher(store, settings).run_once().sent == 3
    by_path = {r.path: r for r in receiver.raw}
    generic = by_path["/json"]
    assert generic.headers["x-token"] == "t"
    assert generic.body["type"] == "shieldwall.alert"
    assert generic.body["asset"]["tags"] == ["registry.test/app:golden"]
    assert generic.body["finding"]["severity"] == "CRITICAL"
    assert generic.body["finding"]["fixed_version"] == "2.11.3"
    slack = by_path["/slack"].body
    assert "CVE-2020-28493" in slack["text"]
    assert slack["blocks"][0]["type"] == "header"
    teams = by_path["/teams"].body
    assert teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    keys = {r.headers["idempotency-key"] for r in receiver.raw}
    assert len(keys) == 3  # one key per channel
    assert verify(store).ok


def test_email_alert(store: Store) -> None:
    smtp = SmtpReceiver()
    try:
        channel = ChannelConfig(
            name="mail",
            type="email",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            sender="shieldwall@example.test",
            to=("sec@example.test",),
        )
        settings = AlertSettings(channels=(channel,))
        _one_alert(store, settings)
        assert Dispatcher(store, settings).run_once().sent == 1
        assert len(smtp.messages) == 1
        message = smtp.messages[0]
        assert "CVE-2020-28493" in str(message["Subject"])
        assert message["To"] == "sec@example.test"
        key = str(message["X-Shieldwall-Idempotency-Key"])
        assert str(message["Message-ID"]) == f"<{key}@example.test>"
        assert "upgrade to 2.11.3" in message.get_payload()
    finally:
        smtp.stop()


def test_channel_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="needs an http"):
        ChannelConfig(name="x", type="slack")
    with pytest.raises(ValueError, match="smtp_host"):
        ChannelConfig(name="x", type="email")
    with pytest.raises(ValueError, match="unique"):
        AlertSettings(
            channels=(
                ChannelConfig(name="x", type="webhook", url="http://a"),
                ChannelConfig(name="x", type="webhook", url="http://b"),
            )
        )


_SENDER = """
import json, os, sys
from shieldwall.alert.config import AlertSettings
from shieldwall.alert.dispatch import Dispatcher
from shieldwall.store import Store
store = Store.open(os.environ["T_URL"], audit_key_path=__import__("pathlib").Path(os.environ["T_KEY"]))
stats = Dispatcher(store, AlertSettings.model_validate_json(os.environ["T_SETTINGS"])).run_once()
print(json.dumps({"sent": stats.sent, "recovered": stats.recovered}))
"""


def _run_sender(store: Store, settings: AlertSettings, crash: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "T_URL": store.engine.url.render_as_string(hide_password=False),
        "T_KEY": str(store.audit_key_path),
        "T_SETTINGS": settings.model_dump_json(),
    }
    env.pop(CRASH_AFTER_CLAIM, None)
    env.pop(CRASH_AFTER_SEND, None)
    if crash:
        env[crash] = "1"
    return subprocess.run([sys.executable, "-c", _SENDER], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("crash", [CRASH_AFTER_CLAIM, CRASH_AFTER_SEND])
def test_exactly_once_across_a_crash(store: Store, receiver: WebhookReceiver, crash: str) -> None:
    settings = AlertSettings(channels=(ChannelConfig(name="hook", type="webhook", url=receiver.url),))
    _one_alert(store, settings)
    died = _run_sender(store, settings, crash)
    assert died.returncode == 86, died.stderr
    assert status_counts(store) == {"sending": 1}
    delivered_before_restart = len(receiver.raw)
    assert delivered_before_restart == (1 if crash == CRASH_AFTER_SEND else 0)
    restarted = _run_sender(store, settings)
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout) == {"sent": 1, "recovered": 1}
    assert status_counts(store) == {"sent": 1}
    # a redelivery carries the same idempotency key: the receiver acts on exactly one alert
    assert len(receiver.unique) == 1
    assert {r.headers["idempotency-key"] for r in receiver.raw} == {receiver.unique[0].headers["idempotency-key"]}
    # and a third run sends nothing more
    assert json.loads(_run_sender(store, settings).stdout)["sent"] == 0
    assert len(receiver.raw) == delivered_before_restart + 1
    assert verify(store).ok
