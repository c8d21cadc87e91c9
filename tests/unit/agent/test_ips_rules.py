"""Rule parsing, CVE extraction, action rewrite and policy-driven assembly."""

from __future__ import annotations

import pytest

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.ips.policy import IpsPolicy, Mode, RuleMode, parse_policy
from shieldwall.agent.modules.ips.rules import parse_rule, rule_cves, with_action
from shieldwall.agent.modules.ips.ruleset import RulesetError, assemble, effective_action
from shieldwall.agent.modules.ips.sources import build_index, pack_index

ET_LINE = (
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"ET EXPLOIT Apache HTTP Server 2.4.49 Path Traversal"; '
    'flow:established,to_server; http.uri.raw; content:"/.%2e/"; reference:cve,2021-41773; '
    "classtype:attempted-admin; sid:2034124; rev:2; metadata:affected_product Apache_HTTP_server, "
    "cve CVE_2021_41773, cve CVE_2021_42013, deployment Perimeter;)"
)


def test_parse_rule_reads_sid_msg_and_cves() -> None:
    rule = parse_rule(ET_LINE, "emerging-exploit.rules")
    assert rule is not None
    assert rule.sid == 2034124 and rule.action == "alert" and rule.enabled
    assert rule.msg.startswith("ET EXPLOIT Apache")
    assert rule.cves == ("CVE-2021-41773", "CVE-2021-42013")
    assert rule.category == "exploit"


def test_commented_rule_is_disabled_and_non_rules_are_none() -> None:
    rule = parse_rule("# " + ET_LINE)
    assert rule is not None and not rule.enabled and rule.text.startswith("alert ")
    assert parse_rule("# just a comment (sid:1;)") is None
    assert parse_rule('alert tcp any any -> any any (msg:"no sid";)') is None
    assert parse_rule("alert " + "x" * 70_000) is None


def test_reference_only_cve() -> None:
    assert rule_cves("reference:cve,2014-6271; sid:1;") == ("CVE-2014-6271",)


def test_with_action_rewrites_only_the_action() -> None:
    assert with_action(ET_LINE, "drop").startswith("drop http $EXTERNAL_NET")
    assert with_action(ET_LINE, "drop").endswith(ET_LINE.split(" ", 1)[1])
    with pytest.raises(ValueError):
        with_action("nonsense", "drop")
    with pytest.raises(ValueError):
        with_action(ET_LINE, "explode")


@pytest.mark.parametrize(
    ("action", "mode", "override", "want"),
    [
        ("alert", Mode.DETECT, None, "alert"),
        ("alert", Mode.PREVENT, None, "drop"),
        ("drop", Mode.DETECT, None, "alert"),
        ("alert", Mode.DETECT, RuleMode.PREVENT, "drop"),
        ("alert", Mode.PREVENT, RuleMode.DETECT, "alert"),
        ("alert", Mode.PREVENT, RuleMode.DISABLED, None),
        ("pass", Mode.PREVENT, None, "pass"),
        ("reject", Mode.PREVENT, None, "reject"),
    ],
)
def test_effective_action(action: str, mode: Mode, override: RuleMode | None, want: str | None) -> None:
    rule = parse_rule(ET_LINE.replace("alert ", action + " ", 1))
    assert rule is not None
    assert effective_action(rule, mode, override) == want


def _et() -> object:
    lines = [ET_LINE, "# " + ET_LINE.replace("2034124", "2034125"), ET_LINE.replace("2034124", "2034124")]
    rules = [r for r in (parse_rule(x, "emerging-exploit.rules") for x in lines) if r]
    return build_index("et", rules)


def test_assemble_selects_and_reports() -> None:
    et = _et()
    assert et.duplicates == (2034124,)  # type: ignore[attr-defined]
    policy = IpsPolicy(mode=Mode.PREVENT, et_open={"sids": (2034124, 2034125)}, shieldwall_pack=False)  # type: ignore[arg-type]
    result = assemble(policy, et, pack_index())  # type: ignore[arg-type]
    assert result.sids() == {2034124: "drop"}
    assert any("2034125" in w for w in result.warnings)
    # a virtual patch enables a rule ET ships commented out
    patched = assemble(IpsPolicy(virtual_patches=(2034125,), shieldwall_pack=False), et, pack_index())  # type: ignore[arg-type]
    assert patched.sids() == {2034125: "alert"}
    with pytest.raises(RulesetError):
        assemble(IpsPolicy(et_open={"sids": (1,)}), et, pack_index())  # type: ignore[arg-type]
    with pytest.raises(RulesetError):
        assemble(IpsPolicy(et_open={"categories": ("exploit",)}), None, pack_index())  # type: ignore[arg-type]
    with pytest.raises(RulesetError, match="already used"):
        assemble(IpsPolicy(custom_rules=(pack_index().by_sid[1995001].text,)), None, pack_index())


@pytest.mark.parametrize(
    "section",
    [
        {"mode": "block"},
        {"failure": "sometimes"},
        {"rule_modes": {"abc": "detect"}},
        {"home_net": ["not-a-cidr"]},
        {"custom_rules": ["alert tcp any any -> any any (sid:1;)\nalert"]},
        {"inline": {"chains": ["PREROUTING"]}},
        {"unknown_key": 1},
    ],
)
def test_bad_policy_is_refused(section: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(section)


def test_policy_defaults() -> None:
    policy = parse_policy({})
    assert policy.mode == Mode.DETECT and policy.shieldwall_pack
