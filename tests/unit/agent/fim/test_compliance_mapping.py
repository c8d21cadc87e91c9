"""Every FIM event kind maps to PCI DSS 11.5.2, NIST 800-53 SI-7 or CM-3, and the CIS Linux benchmark."""

from __future__ import annotations

from shieldwall.agent.modules.fim.compliance import controls_for, event_controls
from shieldwall.agent.modules.fim.events import KINDS
from shieldwall.agent.modules.fim.system import SYSTEM_KINDS
from shieldwall.misconfig.compliance import Status, evaluate, load_framework
from shieldwall.misconfig.registry import CheckConfig, load_checks
from shieldwall.model import ScanResult


def test_every_fim_kind_has_its_controls() -> None:
    for kind in KINDS:
        refs = set(controls_for(kind))
        assert {"pci-dss-4.0:11.5.2", "nist-800-53:SI-7", "cis-debian-linux:6.1.2"} <= refs, kind
    for kind in SYSTEM_KINDS:
        assert {"pci-dss-4.0:11.5.2", "nist-800-53:CM-3"} <= set(controls_for(kind)), kind
    assert controls_for("fim.nonsense") == ()


def test_listed_event_kinds_exist() -> None:
    known = set(KINDS) | set(SYSTEM_KINDS)
    for kind in event_controls():
        assert kind in known or kind.startswith("inventory."), kind  # inventory.* belong to the inventory module


def test_event_controls_are_not_applicable_to_a_scan() -> None:
    from helpers.sample_result import sample_result

    result: ScanResult = sample_result()
    report = evaluate(
        load_framework("nist-800-53"), result, load_checks(CheckConfig(include_plugins=False)), set(), {"misconfig"}
    )
    by_id = {r.control.id: r for r in report.results}
    for control in ("SI-7", "SI-7(1)", "CM-3"):
        assert by_id[control].status is Status.NOT_APPLICABLE and "agent events" in by_id[control].reason
