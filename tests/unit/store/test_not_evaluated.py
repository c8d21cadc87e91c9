"""An opted-out database gap is kept with the scan: the store and the API say how many packages were not evaluated."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from shieldwall.api.queries import scan_view
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.store.schema import Scan


def test_not_evaluated_packages_are_stored_and_shown(store: Store, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.7.1\nrequests==2.25.1\n")
    result = scan_target(f"dir:{app}", ScanOptions(data_dir=tmp_path / "no-database", use_cache=False))
    record = record_scan(store, result)
    with store.session() as session:
        row = session.scalars(select(Scan).where(Scan.id == record.scan_id)).one()
        summary = json.loads(row.summary)
        view = scan_view(row)
    assert summary["not_evaluated"]["packages"] == 2
    assert summary["not_evaluated"]["reasons"][0].startswith("not evaluated: 2 package(s): no vulnerability database")
    assert view.not_evaluated == 2
