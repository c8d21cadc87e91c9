"""Every registered check has a must-flag and a must-not-flag fixture, and both behave."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.misconfig import FIXTURES, findings_of
from shieldwall.misconfig.check import Check
from shieldwall.misconfig.registry import builtin_checks

CHECKS = builtin_checks()


def _one(directory: Path, kind: str) -> Path:
    found = sorted(directory.glob(f"{kind}.*"))
    assert len(found) == 1, f"{directory} needs exactly one {kind}.* fixture, found {len(found)}"
    return found[0]


def test_every_check_has_both_fixtures() -> None:
    missing = [
        c.id
        for c in CHECKS
        if not (FIXTURES / c.id).is_dir() or not list((FIXTURES / c.id).glob("bad.*"))
        or not list((FIXTURES / c.id).glob("good.*"))
    ]  # fmt: skip
    assert not missing, f"checks without bad/good fixtures: {missing}"


def test_no_fixture_without_a_check() -> None:
    ids = {c.id for c in CHECKS}
    orphans = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in ids)
    assert not orphans, f"fixture folders for unknown checks: {orphans}"


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_bad_fixture_is_flagged(check: Check) -> None:
    findings = findings_of(check, _one(FIXTURES / check.id, "bad"))
    assert findings, f"{check.id} did not flag its bad fixture"
    assert all(f.rule_id == check.id for f in findings)
    assert all(f.location is not None and f.location.line for f in findings if check.input != "image-config"
               and check.input != "file-mode")  # fmt: skip


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_good_fixture_is_not_flagged(check: Check) -> None:
    findings = findings_of(check, _one(FIXTURES / check.id, "good"))
    assert not findings, f"{check.id} flagged its good fixture: {[f.message for f in findings]}"
