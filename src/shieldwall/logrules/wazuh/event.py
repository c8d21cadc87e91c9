"""The decoded event that rules are evaluated against."""

from __future__ import annotations

from dataclasses import dataclass, field

USER_FIELDS = ("user", "dstuser", "srcuser")


@dataclass(slots=True)
class Event:
    """One log line after pre-decoding and decoding."""

    full_log: str
    log: str
    location: str = ""
    timestamp: str = ""
    hostname: str = ""
    program_name: str = ""
    decoder: str = ""
    decoder_parent: str = ""
    category: str = "syslog"
    fields: dict[str, str] = field(default_factory=dict)
    fts: tuple[str, ...] = ()
    time: float = 0.0
    matched_level: int = 0

    def get(self, name: str) -> str | None:
        """A decoded field, or a header field by its Wazuh name."""
        if name in self.fields:
            return self.fields[name]
        if name == "hostname":
            return self.hostname or None
        if name == "program_name":
            return self.program_name or None
        if name == "location":
            return self.location or None
        if name in ("srcuser", "dstuser", "user"):
            for alias in USER_FIELDS:
                if alias in self.fields:
                    return self.fields[alias]
        return None
