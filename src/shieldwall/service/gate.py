"""Apply judgement to a scan result, then gate it: exceptions, VEX, baseline, policies.

The CLI (and later the API) call ``gate_options`` once per run and
``apply_gate`` per result; the whole flow is testable without a terminal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from shieldwall.config.load import Settings, find_exceptions_file
from shieldwall.model import ScanResult, ScanWarning
from shieldwall.policy.baseline import Baseline, load_baseline
from shieldwall.policy.exceptions import ExceptionRule, apply_exceptions, load_exceptions
from shieldwall.policy.gate import evaluate_gate
from shieldwall.policy.model import GateVerdict, Policy, fail_on_policy
from shieldwall.policy.schema import compile_policy, load_policy_file
from shieldwall.policy.vex import VexStatement, apply_vex, load_vex


@dataclass(frozen=True, slots=True)
class GateOptions:
    """Everything the gate needs, loaded and validated up front (bad input fails before the scan)."""

    policies: tuple[Policy, ...] = ()
    exceptions: tuple[ExceptionRule, ...] = ()
    vex: tuple[VexStatement, ...] = ()
    baseline: Baseline | None = None
    today: dt.date | None = None

    def license_patterns(self) -> tuple[str, ...]:
        """Licence globs the policies name (the licence scanner must report them)."""
        return tuple(dict.fromkeys(p for policy in self.policies for p in policy.license_patterns()))


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """The result with suppressions applied, the verdict, and what the gate warned about."""

    result: ScanResult
    verdict: GateVerdict
    warnings: tuple[ScanWarning, ...] = ()


def gate_options(settings: Settings, *, cwd: Path | None = None, today: dt.date | None = None) -> GateOptions:
    """Load the policy, exceptions, VEX documents and baseline that ``settings`` name."""
    config = settings.config
    policies: list[Policy] = []
    if isinstance(config.policy, str):
        policies.append(load_policy_file(Path(config.policy)))
    elif isinstance(config.policy, dict):
        policies.append(compile_policy(config.policy, settings.document, ("policy",)))
    if config.fail_on is not None:
        policies.append(fail_on_policy(config.fail_on))
    exceptions_path = find_exceptions_file(settings, cwd)
    exceptions = load_exceptions(exceptions_path) if exceptions_path else ()
    vex = tuple(s for path in config.vex for s in load_vex(Path(path)))
    baseline = load_baseline(Path(config.baseline)) if config.baseline else None
    return GateOptions(tuple(policies), exceptions, vex, baseline, today)


def apply_gate(result: ScanResult, options: GateOptions) -> GateOutcome:
    """Suppress what exceptions and VEX cover (keeping every finding), then evaluate the policies."""
    result, exception_warnings = apply_exceptions(result, options.exceptions, options.today)
    result, vex_warnings = apply_vex(result, options.vex)
    verdict = evaluate_gate(result, options.policies, options.baseline)
    return GateOutcome(result, verdict, exception_warnings + vex_warnings)
