"""The active rule set: policy selection plus the per-policy and per-rule action rewrite.

Detect mode turns every selected rule into ``alert``; Prevent mode turns
``alert`` rules into ``drop``. A per-rule override (``rule_modes``) wins over
the policy mode, and ``disabled`` removes the rule. ``pass`` rules are left
alone in both modes (they express an exception, not a detection).
"""

from __future__ import annotations

from dataclasses import dataclass

from shieldwall.agent.modules.ips.policy import IpsPolicy, Mode, RuleMode
from shieldwall.agent.modules.ips.rules import Rule, parse_rule, with_action
from shieldwall.agent.modules.ips.sources import RuleIndex


class RulesetError(ValueError):
    """The policy asks for rules that cannot be assembled (unknown SID or category, a bad custom rule)."""


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """A selected rule with the action it will run with."""

    rule: Rule
    action: str
    origin: str

    @property
    def text(self) -> str:
        """The rule line as written to the active rule file."""
        return with_action(self.rule.text, self.action)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """What is written to ``shieldwall-active.rules``."""

    rules: tuple[ActiveRule, ...]
    warnings: tuple[str, ...]

    def text(self) -> str:
        """The rule file's content."""
        return "".join(r.text + "\n" for r in self.rules)

    def sids(self) -> dict[int, str]:
        """SID -> action."""
        return {r.rule.sid: r.action for r in self.rules}


def effective_action(rule: Rule, policy_mode: Mode, override: RuleMode | None) -> str | None:
    """The action ``rule`` runs with, or None when disabled."""
    mode: Mode | RuleMode = override if override is not None else policy_mode
    if mode == RuleMode.DISABLED:
        return None
    if rule.action == "pass":
        return "pass"
    if mode in (Mode.PREVENT, RuleMode.PREVENT):
        return "drop" if rule.action == "alert" else rule.action
    return "alert"


def assemble(policy: IpsPolicy, et_open: RuleIndex | None, pack: RuleIndex) -> Ruleset:
    """The active rule set for ``policy`` from the available sources."""
    chosen: dict[int, tuple[Rule, str]] = {}
    warnings: list[str] = []

    def take(rule: Rule, origin: str) -> None:
        if rule.sid not in chosen:
            chosen[rule.sid] = (rule, origin)

    if policy.shieldwall_pack:
        for rule in pack.by_sid.values():
            if rule.enabled:
                take(rule, "shieldwall")
    wants_et = bool(policy.et_open.categories or policy.et_open.sids)
    if wants_et and et_open is None:
        raise RulesetError("the policy selects ET Open rules but the agent has no ET Open copy (et_open_dir)")
    if et_open is not None:
        for category in policy.et_open.categories:
            sids = et_open.by_category.get(category)
            if sids is None:
                raise RulesetError(f"unknown ET Open category {category!r}")
            for sid in sids:
                cat_rule = et_open.by_sid[sid]
                if cat_rule.enabled:
                    take(cat_rule, f"et_open:{category}")
        for sid in policy.et_open.sids:
            sid_rule = et_open.by_sid.get(sid)
            if sid_rule is None:
                raise RulesetError(f"ET Open has no rule with sid {sid}")
            if not sid_rule.enabled and not policy.et_open.include_disabled:
                warnings.append(f"sid {sid} is commented out in ET Open and was not enabled")
                continue
            take(sid_rule, "et_open:sid")
    for sid in policy.virtual_patches:
        patch = pack.by_sid.get(sid) or (et_open.by_sid.get(sid) if et_open is not None else None)
        if patch is None:
            warnings.append(f"virtual patch sid {sid} is in no rule source on this agent")
            continue
        take(patch, "virtual_patch")
    for i, line in enumerate(policy.custom_rules):
        custom = parse_rule(line, source="custom")
        if custom is None or not custom.enabled:
            raise RulesetError(f"custom rule {i + 1} is not a rule line with a sid")
        if custom.sid in chosen:
            raise RulesetError(f"custom rule {i + 1}: sid {custom.sid} is already used by {chosen[custom.sid][1]}")
        take(custom, "custom")
    active: list[ActiveRule] = []
    for sid in sorted(chosen):
        rule, origin = chosen[sid]
        action = effective_action(rule, policy.mode, policy.rule_mode(sid))
        if action is None:
            continue
        active.append(ActiveRule(rule=rule, action=action, origin=origin))
    return Ruleset(rules=tuple(active), warnings=tuple(warnings))
