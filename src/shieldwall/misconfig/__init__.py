"""The misconfiguration check engine: typed checks over parsed resources, custom checks, compliance.

See docs/notes/misconfig-engine.md for the design and for how to add checks
or input kinds.
"""

from shieldwall.misconfig.check import (
    Check,
    Hit,
    InputKind,
    ParsedFile,
    Resource,
    ResourceRef,
    Suppression,
    check,
)
from shieldwall.misconfig.engine import EngineOutput, run_checks
from shieldwall.misconfig.registry import CheckConfig, CheckSet, load_checks

__all__ = [
    "Check",
    "CheckConfig",
    "CheckSet",
    "EngineOutput",
    "Hit",
    "InputKind",
    "ParsedFile",
    "Resource",
    "ResourceRef",
    "Suppression",
    "check",
    "load_checks",
    "run_checks",
]
