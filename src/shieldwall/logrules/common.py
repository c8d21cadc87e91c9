"""The one result type every log rule engine returns to the agent module."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LogMatch:
    """A rule that matched a line: which engine, which rule, what was decoded, what correlated."""

    engine: str
    rule_id: str
    level: int
    description: str
    groups: tuple[str, ...] = ()
    decoder: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    correlated_lines: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()
