"""Built-in checks (being written)."""

from __future__ import annotations

from shieldwall.misconfig.check import Check

CHECKS: tuple[Check, ...] = ()
