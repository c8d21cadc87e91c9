"""The Wazuh engine behind the common ``LogMatch`` interface."""

from __future__ import annotations

from shieldwall.logrules.common import LogMatch
from shieldwall.logrules.wazuh.engine import WazuhEngine


class WazuhRules:
    """Evaluates lines with one loaded Wazuh ruleset."""

    name = "wazuh"

    def __init__(self, engine: WazuhEngine) -> None:
        self.engine = engine

    def process(self, line: str, location: str, now: float) -> list[LogMatch]:
        """The alert for ``line`` (empty when no rule or a no-alert rule matched)."""
        alert = self.engine.process(line, location=location, now=now)
        if alert is None or alert.noalert:
            return []
        corr = alert.correlation.lines if alert.correlation is not None else []
        return [
            LogMatch(
                engine="wazuh",
                rule_id=str(alert.rule_id),
                level=alert.level,
                description=alert.description,
                groups=alert.groups,
                decoder=alert.decoder,
                fields=alert.fields,
                correlated_lines=tuple(corr),
                mitre=alert.mitre,
            )
        ]
