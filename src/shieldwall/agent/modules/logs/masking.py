"""Mask secrets in log lines with the secret engine before they leave the host."""

from __future__ import annotations

from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import redact
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules


class LineMasker:
    """Replaces every secret the built-in rules confirm with its redacted form."""

    def __init__(self) -> None:
        self.engine = SecretEngine(builtin_rules(), builtin_allowlist())

    def mask(self, text: str) -> str:
        """``text`` with secrets redacted (byte offsets of the UTF-8 form)."""
        data = text.encode("utf-8", "replace")
        matches = self.engine.scan(data, binary=False)
        if not matches:
            return text
        out = bytearray()
        last = 0
        for m in sorted(matches, key=lambda m: m.start):
            if m.start < last:
                continue
            out += data[last : m.start] + redact(m.secret).encode()
            last = m.end
        out += data[last:]
        return out.decode("utf-8", "replace")
