"""``shieldwall monitor`` against a real registry: polling, push notifications, rematch and alerts, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from helpers.alert_receivers import WebhookReceiver
from helpers.images import ImageSpec, build_oci_layout
from helpers.registry_server import RunningRegistry
from helpers.store_data import CRITICAL_VECTOR, osv
from shieldwall.service.monitor import Monitor
from shieldwall.service.monitor_config import parse_config
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.queries import list_assets, list_findings, set_golden
from shieldwall.store.schema import Scan
from shieldwall.target.registry_push import push_oci_layout
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_registry_env")]

SRC = Path(__file__).resolve().parents[3] / "src"
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
JINJA_METADATA = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\nSummary: templates\n"
DEADLINE = 90.0


def _layout(tmp_path: Path, marker: str, spec: ImageSpec | None = None) -> Path:
    layers = [
        {"etc/os-release": OS_RELEASE},
        {
            "usr/lib/python3/dist-packages/Jinja2-2.11.2.dist-info/METADATA": JINJA_METADATA,
            "usr/lib/python3/dist-packages/Jinja2-2.11.2.dist-info/INSTALLER": b"pip\n",
            f"srv/{marker}.txt": marker.encode(),
        },
    ]
    spec = spec or ImageSpec(exposed_ports=("8080/tcp",), user="app")
    return build_oci_layout(tmp_path / f"layout-{marker}", layers=layers, spec=spec)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _scans(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Scan)) or 0)


class Running:
    """A monitor in a thread."""

    def __init__(self, store: Store, config: dict[str, object], **kwargs: object) -> None:
        self.monitor = Monitor(store, parse_config(config, "test"), **kwargs)  # type: ignore[arg-type]
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.monitor.run, args=(self.stop,), kwargs={"ready": self._ready})
        self.thread.start()
        assert self.ready.wait(30), "monitor did not start"

    def _ready(self, _monitor: Monitor) -> None:
        self.ready.set()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for item in started:
        item.close()


def test_new_tag_is_scanned_once_and_same_digest_under_another_tag_is_not(
    store: Store, registry: RunningRegistry, tmp_path: Path, running: list[Running]
) -> None:
    repo = f"poll-{store.dialect}/app"
    config = {
        "interval": "0.5s",
        "allow_incomplete_db": True,  # the test database covers only some ecosystems
        "registries": [{"name": "local", "url": registry.host, "repositories": [f"poll-{store.dialect}/*"]}],
        "vulndb_check_interval": "1h",
    }
    running.append(Running(store, config))
    layout = _layout(tmp_path, "one")
    digest = push_oci_layout(layout, f"{registry.host}/{repo}:1.0")
    _wait(lambda: any(a.identifier == digest for a in list_assets(store)), "the pushed image to be stored")
    asset = next(a for a in list_assets(store) if a.identifier == digest)
    assert asset.tags == (f"{registry.host}/{repo}:1.0",)
    assert asset.packages >= 1
    assert _scans(store) == 1
    push_oci_layout(layout, f"{registry.host}/{repo}:stable")
    _wait(
        lambda: len(next(a for a in list_assets(store) if a.identifier == digest).tags) == 2,
        "the second tag to be recorded",
    )
    # a few more polls: the digest is known under both tags, nothing is scanned again
    polls = running[0].monitor.stats.polls
    _wait(lambda: running[0].monitor.stats.polls >= polls + 2, "two more polls")
    assert _scans(store) == 1
    assert running[0].monitor.stats.scans == 1
    assert running[0].monitor.stats.tagged == 1
    # a new digest under an existing tag is scanned, and drift against the old image is recorded
    changed = ImageSpec(exposed_ports=("8080/tcp", "22/tcp"), user="root")
    digest2 = push_oci_layout(_layout(tmp_path, "two", changed), f"{registry.host}/{repo}:stable")
    _wait(lambda: any(a.identifier == digest2 for a in list_assets(store)), "the new digest to be stored")
    assert _scans(store) == 2
    drift = list_findings(store, kinds=["drift"], asset=digest2)
    assert {f.rule_id for f in drift} == {"drift/port-added", "drift/user-changed"}
    assert next(f for f in drift if f.rule_id == "drift/user-changed").severity == "HIGH"
    assert verify(store).ok


def _post(url: str, doc: object, token: str = "") -> httpx.Response:
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, content=json.dumps(doc), headers=headers, timeout=10)


def test_push_notifications_distribution_and_harbor(
    store: Store,
    registry: RunningRegistry,
    tmp_path: Path,
    running: list[Running],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("T_HOOK_TOKEN", "hook-s3cret")
    prefix = f"hook-{store.dialect}"
    config = {
        "interval": "1h",
        "allow_incomplete_db": True,  # the test database covers only some ecosystems
        "registries": [{"name": "local", "url": registry.host, "repositories": [f"{prefix}/*"]}],
        "vulndb_check_interval": "1h",
        "webhook": {"listen": "127.0.0.1:0", "token_env": "T_HOOK_TOKEN"},
    }
    run = Running(store, config)
    running.append(run)
    assert run.monitor.webhook is not None
    base = f"http://{run.monitor.webhook.address}"
    assert _post(f"{base}/notifications", {"events": []}).status_code == 401
    assert _post(f"{base}/notifications", {"nope": 1}, "hook-s3cret").status_code == 400
    digest_a = push_oci_layout(_layout(tmp_path, "a"), f"{registry.host}/{prefix}/a:1.0")
    envelope = {
        "events": [
            {
                "id": "e1",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + "0" * 64,
                    "repository": f"{prefix}/a",
                },
                "request": {"host": registry.host},
            },
            {
                "id": "e2",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest_a,
                    "repository": f"{prefix}/a",
                    "tag": "1.0",
                    "url": f"http://{registry.host}/v2/{prefix}/a/manifests/{digest_a}",
                },
                "request": {"host": registry.host, "method": "PUT"},
            },
        ]
    }
    response = _post(f"{base}/notifications", envelope, "hook-s3cret")
    assert response.status_code == 202 and response.json()["accepted"] == 1
    _wait(lambda: any(a.identifier == digest_a for a in list_assets(store)), "the notified image to be stored")
    digest_b = push_oci_layout(_layout(tmp_path, "b"), f"{registry.host}/{prefix}/b:2.0")
    harbor = {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1700000000,
        "operator": "admin",
        "event_data": {
            "resources": [{"digest": digest_b, "tag": "2.0", "resource_url": f"harbor.internal/{prefix}/b:2.0"}],
            "repository": {"name": "b", "namespace": prefix, "repo_full_name": f"{prefix}/b", "repo_type": "private"},
        },
    }
    response = httpx.post(f"{base}/notifications/local?token=hook-s3cret", json=harbor, timeout=10)
    assert response.status_code == 202
    _wait(lambda: any(a.identifier == digest_b for a in list_assets(store)), "the Harbor-notified image")
    assert _scans(store) == 2
    health = httpx.get(f"{base}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["scans"] == 2


def test_new_advisory_raises_one_alert_for_a_golden_image_without_pulling(
    store: Store, registry: RunningRegistry, tmp_path: Path, running: list[Running]
) -> None:
    receiver = WebhookReceiver()
    try:
        prefix = f"golden-{store.dialect}"
        db_path = tmp_path / "vulndb.sqlite"
        config = {
            "interval": "0.5s",
            "allow_incomplete_db": True,  # the test database covers only some ecosystems
            "registries": [{"name": "local", "url": registry.host, "repositories": [f"{prefix}/*"]}],
            "vulndb_check_interval": "0.3s",
            "vulndb_path": str(db_path),
            "alert_dispatch_interval": "0.3s",
            "alerts": {"channels": [{"name": "hook", "type": "webhook", "url": receiver.url + "/hook"}]},
        }
        run = Running(store, config)
        running.append(run)
        digest = push_oci_layout(_layout(tmp_path, "g"), f"{registry.host}/{prefix}/base:golden")
        _wait(lambda: any(a.identifier == digest for a in list_assets(store)), "the golden image to be stored")
        set_golden(store, digest, True)
        assert list_findings(store, kinds=["vulnerability"]) == []
        scans = _scans(store)
        advisory = osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))
        with VulnDB.build(db_path) as writer:
            writer.replace_source(SourceInfo("test-feed"), [advisory])
        _wait(lambda: len(receiver.raw) >= 1, "the alert")
        rematches = run.monitor.stats.rematches
        _wait(lambda: run.monitor.stats.polls >= 3, "a few polls")
        assert len(receiver.raw) == 1
        alert = receiver.raw[0].body
        assert alert["finding"]["rule_id"] == "CVE-2020-28493"
        assert alert["asset"]["golden"] is True
        assert _scans(store) == scans  # rematched from the stored inventory: no new pull, no new scan
        assert run.monitor.stats.rematches == rematches == 1
        [finding] = list_findings(store, kinds=["vulnerability"])
        assert finding.status == "open" and finding.package == "Jinja2"
        assert verify(store).ok
    finally:
        receiver.stop()


def test_monitor_process_logs_json_and_stops_cleanly_on_sigterm(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "interval": "0.5s",
                "allow_incomplete_db": True,  # the test database covers only some ecosystems
                "registries": [{"url": registry.host, "repositories": ["sigterm/*"]}],
                "vulndb_check_interval": "1h",
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "SHIELDWALL_DATA_DIR": str(tmp_path / "data")}
    env.pop("SHIELDWALL_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shieldwall", "monitor", "--config", str(config), "--log-format", "json"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    lines: list[dict[str, object]] = []
    try:
        for line in process.stderr:
            lines.append(json.loads(line))
            if lines[-1].get("event") == "started":
                break
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    rest = [json.loads(line) for line in process.stderr.read().splitlines() if line.strip()]
    assert code == 0
    assert lines[-1]["message"] == "monitor started"
    stopped = [entry for entry in rest if entry.get("event") == "stopped"]
    assert stopped and stopped[0]["level"] == "info" and "polls" in stopped[0]
    # the configuration was kept in the store: a second run without --config would use it
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'shieldwall.db'}", audit_key_path=tmp_path / "k.pem")
    try:
        assert store.get_setting("monitor.config")["registries"][0]["url"] == registry.host
    finally:
        store.close()
