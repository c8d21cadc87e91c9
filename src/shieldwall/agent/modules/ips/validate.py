"""``suricata -T``: a configuration and its rules are checked by Suricata before they are used."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.layout import Layout

VALIDATE_TIMEOUT = 300.0
MAX_ERROR_LINES = 20


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of ``suricata -T``: ok, and the error lines Suricata printed when not."""

    ok: bool
    errors: tuple[str, ...]
    loaded: str = ""
    """Suricata's "N rules successfully loaded, M rules failed" line."""

    def message(self) -> str:
        """A one-paragraph diagnosis."""
        if self.ok:
            return "configuration valid"
        return "suricata -T refused the configuration: " + " | ".join(self.errors or ("no error text",))


def _clean(line: str) -> str:
    # "[123 - Suricata-Main] 2026-01-01 00:00:00 Error: detect-parse: ..." -> "Error: detect-parse: ..."
    _, sep, rest = line.partition("] ")
    if sep:
        parts = rest.split(" ", 2)
        if len(parts) == 3:
            return parts[2].strip()
    return line.strip()


def validate(tools: Tools, layout: Layout, timeout: float = VALIDATE_TIMEOUT) -> Validation:
    """Run ``suricata -T`` on ``layout``'s configuration (its log goes to the layout's log dir)."""
    log = layout.log_dir / "suricata.log"
    if log.exists():
        log.unlink()
    argv = [tools.suricata, "-T", "-c", str(layout.config), "-l", str(layout.log_dir)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Validation(ok=False, errors=(f"suricata -T did not finish within {timeout:.0f} s",))
    except OSError as exc:
        return Validation(ok=False, errors=(f"cannot run {tools.suricata}: {exc}",))
    lines: list[str] = []
    if log.exists():
        with log.open(encoding="utf-8", errors="replace") as fh:
            lines = [ln.rstrip("\n") for ln in fh][-2000:]
    lines += (proc.stderr or "").splitlines()[-200:]
    errors = [_clean(ln) for ln in lines if " Error: " in ln or ln.startswith("Error")]
    loaded = next((_clean(ln) for ln in lines if "rules successfully loaded" in ln), "")
    ok = proc.returncode == 0
    if not ok and not errors:
        errors = [f"exit status {proc.returncode}"] + [_clean(ln) for ln in lines[-3:]]
    return Validation(ok=ok, errors=tuple(dict.fromkeys(errors))[:MAX_ERROR_LINES], loaded=loaded)
