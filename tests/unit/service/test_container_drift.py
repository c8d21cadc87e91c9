"""Drift events become findings on container assets: one per path and kind, audited, exceptions honoured."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from shieldwall.agent.events import AgentEvent
from shieldwall.model import Severity
from shieldwall.service.container_drift import CONTAINER_ASSET_KIND, record_drift_events
from shieldwall.store import Store, audit
from shieldwall.store.schema import Asset, ExceptionRule, StoredFinding


def event(path: str, kind: str = "drift.executable", size: int = 10, container: str = "c1" * 32,
          writer: dict[str, object] | None = None) -> AgentEvent:  # fmt: skip
    return AgentEvent(
        "drift", kind, Severity.HIGH, f"{kind} {path}",
        {"host": "node-1", "container_id": container, "container_name": "web", "image": "nginx:1.25",
         "path": path, "change": "added", "size": size, **({"writer": writer} if writer else {})},
        dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
    ).with_key()  # fmt: skip


def test_drift_events_become_findings_on_the_container_asset(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}", audit_key_path=tmp_path / "k.pem")
    try:
        other = AgentEvent("fim", "fim.modified", Severity.LOW, "x", {"path": "/etc/x"})
        writer = {"exe": "/usr/bin/curl", "comm": "curl", "pid": 4242, "uid": 0, "cmdline": "curl -o /etc/app.conf x"}
        configured = event("/etc/app.conf", "drift.config", writer=writer)
        first = record_drift_events(store, [event("/usr/local/bin/nc"), configured, other])
        assert (first.containers, first.new, first.seen_again, first.ignored) == (1, 2, 0, 1)
        again = record_drift_events(store, [event("/usr/local/bin/nc", size=99)])
        assert (again.new, again.seen_again) == (0, 1)
        with store.session() as session:
            session.add(ExceptionRule(rule_id="SW-DRIFT-PACKAGE", reason="apt in the debug image", author="ops",
                                      created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        record_drift_events(store, [event("/var/lib/dpkg/status", "drift.package")])
        with store.session() as session:
            (asset,) = session.query(Asset).all()
            rows = {r.path: r for r in session.query(StoredFinding).all()}
        assert asset.kind == CONTAINER_ASSET_KIND and asset.identifier == f"container:node-1/{'c1' * 32}"
        assert asset.name == "web" and asset.repository == "docker.io/library/nginx"
        assert set(rows) == {"/usr/local/bin/nc", "/etc/app.conf", "/var/lib/dpkg/status"}
        assert rows["/usr/local/bin/nc"].kind == "drift" and rows["/usr/local/bin/nc"].rule_id == "SW-DRIFT-EXECUTABLE"
        assert '"99"' in rows["/usr/local/bin/nc"].data  # the evidence follows the latest observation
        assert rows["/var/lib/dpkg/status"].status == "suppressed"
        assert rows["/etc/app.conf"].status == "open"
        assert '"writer_exe", "/usr/bin/curl"' in rows["/etc/app.conf"].data.replace("[", "").replace("]", "")
        assert '"writer_pid", "4242"' in rows["/etc/app.conf"].data.replace("[", "").replace("]", "")
        assert "writer_" not in rows["/usr/local/bin/nc"].data  # no audited writer: none stored
        assert audit.verify(store).ok
    finally:
        store.close()
