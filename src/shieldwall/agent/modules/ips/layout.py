"""Where the module keeps its files: everything lives inside the module's state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_SOCKET_PATH = 100
"""AF_UNIX paths are limited to 108 bytes; keep a margin."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one configuration tree (the live one or a staging one for ``-T``)."""

    base: Path

    @property
    def config(self) -> Path:
        """The generated ``suricata.yaml``."""
        return self.base / "suricata.yaml"

    @property
    def rule_dir(self) -> Path:
        """Generated rule files."""
        return self.base / "rules"

    @property
    def active_rules(self) -> Path:
        """Every policy-selected rule with its action already rewritten."""
        return self.rule_dir / "shieldwall-active.rules"

    @property
    def reputation_rules(self) -> Path:
        """Rules generated from domain/URL reputation lists."""
        return self.rule_dir / "shieldwall-reputation.rules"

    @property
    def classification(self) -> Path:
        """classification.config copied next to the rules."""
        return self.base / "classification.config"

    @property
    def reference(self) -> Path:
        """reference.config."""
        return self.base / "reference.config"

    @property
    def threshold(self) -> Path:
        """An empty threshold.config (Suricata warns when none is given)."""
        return self.base / "threshold.config"

    @property
    def log_dir(self) -> Path:
        """eve.json and suricata.log."""
        return self.base / "log"

    @property
    def eve(self) -> Path:
        """Suricata's event stream."""
        return self.log_dir / "eve.json"

    @property
    def run_dir(self) -> Path:
        """The pid file and the unix-command socket."""
        return self.base / "run"

    @property
    def socket(self) -> Path:
        """The unix-command socket (``reload-rules``)."""
        return self.run_dir / "suricata.sock"

    @property
    def pid_file(self) -> Path:
        """Suricata's pid file."""
        return self.run_dir / "suricata.pid"

    def make(self) -> None:
        """Create the directories (mode 0700)."""
        for d in (self.base, self.rule_dir, self.log_dir, self.run_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)


def live_layout(state_dir: Path) -> Layout:
    """The running configuration's tree."""
    return Layout(state_dir / "live")


def staging_layout(state_dir: Path) -> Layout:
    """A scratch tree where a new configuration is validated before it replaces the live one."""
    return Layout(state_dir / "staging")
