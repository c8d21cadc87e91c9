"""Agent events: the one typed value every module emits and the spool carries.

An event is small, self-describing and idempotent: ``key`` is unique per
logical occurrence (a module derives it from what happened, for example the
path, the old and new hashes and the observation time), so an upload that is
retried after a dropped connection is recorded once by the manager.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shieldwall.model.finding import Severity

MAX_ATTRIBUTES_BYTES = 64 * 1024
"""An event's attributes serialise to at most this many bytes (the manager refuses larger ones)."""


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """Something a module observed on the host.

    ``module`` is the emitting module's name, ``kind`` a dotted event type
    within it (``fim.modified``, ``inventory.port_opened``, ``logs.alert``,
    ``ips.drop``...), ``summary`` one human line, ``attributes`` the evidence
    (JSON-serialisable, old and new values, rule IDs...). Secrets must already
    be masked by the module before an event is built.
    """

    module: str
    kind: str
    severity: Severity
    summary: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    observed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    key: str = ""

    def with_key(self) -> AgentEvent:
        """This event with a deterministic idempotency key when none was given."""
        if self.key:
            return self
        return AgentEvent(
            module=self.module,
            kind=self.kind,
            severity=self.severity,
            summary=self.summary,
            attributes=self.attributes,
            observed_at=self.observed_at,
            key=event_key(self.module, self.kind, self.observed_at.isoformat(), self.attributes),
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent to the manager (the API's ``AgentEventIn``)."""
        event = self.with_key()
        return {
            "key": event.key,
            "module": event.module,
            "kind": event.kind,
            "severity": event.severity.value,
            "summary": event.summary,
            "attributes": dict(event.attributes),
            "observed_at": event.observed_at.astimezone(dt.UTC).isoformat(),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AgentEvent:
        """Rebuild an event from ``to_wire`` output (the spool stores that form)."""
        return cls(
            module=str(data["module"]),
            kind=str(data["kind"]),
            severity=Severity(str(data["severity"])),
            summary=str(data["summary"]),
            attributes=dict(data.get("attributes") or {}),
            observed_at=dt.datetime.fromisoformat(str(data["observed_at"])),
            key=str(data.get("key") or ""),
        )


def event_key(*parts: Any) -> str:
    """A stable 32-hex-digit key from JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
