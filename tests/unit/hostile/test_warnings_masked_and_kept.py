"""Warnings pass the secret scrub like the rest of a result, and the store keeps them for the API and report.

A parser's error can quote the line it stopped on; such a message must never
carry a credential whole. A warning kept only as a count hides what was
skipped: the scan row keeps the first warnings, the API's scan document and
the stored asset report show them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from helpers.sample_result import sample_result
from shieldwall.analyze.secret.masking import scrub_secrets
from shieldwall.api.queries import scan_detail
from shieldwall.api.stored_result import stored_result
from shieldwall.model import ScanWarning
from shieldwall.store import Store
from shieldwall.store.records import STORED_WARNINGS, record_scan

TOKEN = "ghp_" + "Ww1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"


def test_a_warning_quoting_a_credential_is_masked() -> None:
    quoted = ScanWarning("yaml", f"/app/x.yaml: cannot parse line 3: 'token: {TOKEN}'", "/app/x.yaml")
    result = dataclasses.replace(sample_result(), warnings=(quoted,))
    scrubbed = scrub_secrets(result, [TOKEN], None)
    (warning,) = scrubbed.warnings
    assert TOKEN not in warning.message and "cannot parse line 3" in warning.message


def test_the_store_keeps_warnings_for_the_api_and_the_report(tmp_path: Path) -> None:
    many = tuple(ScanWarning("lang", f"/app/{i}.json: nested too deeply", f"/app/{i}.json") for i in range(150))
    result = dataclasses.replace(sample_result(), warnings=many)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.key")
    try:
        recorded = record_scan(store, result)
        view, _ = scan_detail(store, recorded.scan_id)
        assert view.warning_count == 150
        assert len(view.warnings) == STORED_WARNINGS
        first = {"source": "lang", "message": "/app/0.json: nested too deeply", "path": "/app/0.json"}
        assert view.warnings[0] == first
        report = stored_result(store, recorded.asset_id)
        assert [w.path for w in report.warnings[:2]] == ["/app/0.json", "/app/1.json"]
    finally:
        store.close()
