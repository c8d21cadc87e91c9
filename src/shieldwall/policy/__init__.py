"""The gate: policies over active findings, exceptions with expiry, VEX input and baselines."""

from shieldwall.policy.baseline import Baseline, load_baseline
from shieldwall.policy.exceptions import ExceptionRule, apply_exceptions, load_exceptions
from shieldwall.policy.gate import evaluate_gate
from shieldwall.policy.model import GateFailure, GateVerdict, Policy, fail_on_policy, suppressions_of
from shieldwall.policy.schema import compile_policy, load_policy_file
from shieldwall.policy.vex import VexStatement, apply_vex, load_vex

__all__ = [
    "Baseline",
    "ExceptionRule",
    "GateFailure",
    "GateVerdict",
    "Policy",
    "VexStatement",
    "apply_exceptions",
    "apply_vex",
    "compile_policy",
    "evaluate_gate",
    "fail_on_policy",
    "load_baseline",
    "load_exceptions",
    "load_policy_file",
    "load_vex",
    "suppressions_of",
]
