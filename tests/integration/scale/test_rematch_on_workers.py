"""With a broker, the monitor's rematch after an advisory-database update runs on a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from helpers.scale_cluster import Cluster, wait_for
from helpers.store_data import CRITICAL_VECTOR, deb, image_result, osv, pypi
from shieldwall.service.monitor import Monitor
from shieldwall.service.monitor_config import parse_config
from shieldwall.store.queries import list_findings
from shieldwall.store.records import record_scan
from shieldwall.store.schema import TaskRun
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JINJA = osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))


def test_new_advisory_database_is_rematched_by_a_worker(cluster: Cluster, tmp_path: Path) -> None:
    db = tmp_path / "vulndb.sqlite"  # a path the worker can read (a shared volume in production)
    config = parse_config({"vulndb_path": str(db)}, "test")
    with cluster.store() as store:
        store.put_setting("monitor.config", config.model_dump(mode="json"))
        record_scan(store, image_result("aa", (pypi("Jinja2", "2.11.2"), deb("bash", "5.2")), tag="a"))
        record_scan(store, image_result("bb", (deb("bash", "5.2"),), tag="b"))
        with VulnDB.build(db) as writer:
            writer.replace_source(SourceInfo("t"), [JINJA])
        monitor = Monitor(store, config)
        monitor.check_vulndb()
        monitor.check_vulndb()  # the same build: not queued again
        cluster.start_worker("w1")

        def done() -> bool:
            with store.session() as session:
                return [r.status for r in session.scalars(select(TaskRun))] == ["succeeded"]

        wait_for(done, "the rematch task", detail=cluster.logs)
        with store.session() as session:
            run = session.scalars(select(TaskRun)).one()
        assert run.name == "rematch"
        assert '"new": 1' in run.result
        assert [f.rule_id for f in list_findings(store)] == ["CVE-2020-28493"]
