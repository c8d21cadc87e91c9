"""Wazuh rule levels (0-15) mapped to Shieldwall severities.

| level | Wazuh's meaning                                   | severity |
|-------|---------------------------------------------------|----------|
| 0-1   | ignored / no alert                                | (none)   |
| 2-4   | system notices, low-relevance errors              | LOW      |
| 5-7   | user errors, bad words, low-importance attacks    | MEDIUM   |
| 8-11  | first-time events, integrity, high-importance     | HIGH     |
| 12-15 | high-importance events, attack successes          | CRITICAL |
"""

from __future__ import annotations

from shieldwall.model.finding import Severity


def level_severity(level: int) -> Severity:
    """The severity of a Wazuh-style level (levels below 2 are UNKNOWN: callers do not alert)."""
    if level >= 12:
        return Severity.CRITICAL
    if level >= 8:
        return Severity.HIGH
    if level >= 5:
        return Severity.MEDIUM
    if level >= 2:
        return Severity.LOW
    return Severity.UNKNOWN
