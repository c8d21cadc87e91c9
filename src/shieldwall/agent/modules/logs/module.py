"""The ``logs`` agent module: follow log sources, evaluate rule sets, emit alerts, respond."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.logs.docker import DockerLogs
from shieldwall.agent.modules.logs.follower import FileFollower, PositionStore
from shieldwall.agent.modules.logs.journal import JournalFollower
from shieldwall.agent.modules.logs.masking import LineMasker
from shieldwall.agent.modules.logs.policy import (
    DockerSource,
    FileSource,
    JournalSource,
    LogsPolicy,
    parse_policy,
)
from shieldwall.agent.modules.logs.response import decide
from shieldwall.agent.modules.logs.severity import level_severity
from shieldwall.logrules.common import LogMatch
from shieldwall.logrules.fail2ban import Fail2banRules, FilterError, load_filter
from shieldwall.logrules.sigma import SigmaRules, load_sigma
from shieldwall.logrules.wazuh.adapter import WazuhRules
from shieldwall.logrules.wazuh.engine import load_ruleset
from shieldwall.logrules.yamlrules import YamlRules, builtin_pack, load_yaml_rules
from shieldwall.model.finding import Severity

MAX_FIELD_CHARS = 512


class RuleEngine(Protocol):
    """Anything that turns a line into matches."""

    name: str

    def process(self, line: str, location: str, now: float) -> list[LogMatch]:
        """Matches for ``line``."""


@dataclass(slots=True)
class _Running:
    policy: LogsPolicy
    version: int
    engines: list[RuleEngine]
    files: list[tuple[FileSource, FileFollower]]
    journal: JournalFollower | None
    docker: DockerLogs | None = None
    problems: list[str] = field(default_factory=list)


def _resolve(root: Path, path: str) -> Path:
    """``path`` inside the inspected root (``/var/log/x`` -> ``root/var/log/x``)."""
    return root / path.lstrip("/")


class Module:
    """Log inspection on the agent."""

    name = "logs"
    version = "1.0.0"

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._run: _Running | None = None
        self._store: PositionStore | None = None
        self._masker: LineMasker | None = None
        self._counters: dict[str, int] = {"lines": 0, "alerts": 0, "responses": 0, "refused_responses": 0}
        self._error = ""
        self._last_engine_error = ""

    def start(self, ctx: ModuleContext) -> None:
        """Open the position store and the secret masker."""
        self._ctx = ctx
        self._store = PositionStore(ctx.state_dir / "positions.json")
        self._masker = LineMasker()

    def _build(self, section: Mapping[str, Any], version: int) -> _Running:
        assert self._ctx is not None and self._store is not None
        policy = parse_policy(section)
        engines: list[RuleEngine] = []
        problems: list[str] = []
        for ruleset in policy.wazuh_rulesets:
            directory = Path(ruleset)
            if not directory.is_dir():
                raise PolicyError(f"logs policy: Wazuh ruleset {ruleset} is not a directory")
            engine = load_ruleset(directory)
            if engine.report.rules == 0:
                raise PolicyError(f"logs policy: no rules loaded from {ruleset}: {engine.report.errors[:3]}")
            problems += [f"{ruleset}: {e}" for e in engine.report.errors[:20]]
            engines.append(WazuhRules(engine))
        yaml_rules = list(builtin_pack()) if policy.builtin_rules else []
        for path in policy.yaml_rules:
            try:
                yaml_rules += load_yaml_rules(Path(path))
            except (OSError, ValueError) as exc:
                raise PolicyError(f"logs policy: {path}: {exc}") from exc
        if yaml_rules:
            engines.append(YamlRules(yaml_rules))
        if policy.sigma_rules:
            load, _stats = load_sigma([Path(p) for p in policy.sigma_rules])
            if not load.rules:
                raise PolicyError(f"logs policy: no Sigma rule loaded from {policy.sigma_rules}")
            problems += [f"sigma {Path(k).name}: {v}" for k, v in list(load.skipped.items())[:20]]
            engines.append(SigmaRules(load.rules))
        for ref in policy.fail2ban_filters:
            try:
                flt = load_filter(Path(ref.path), ref.options)
            except (FilterError, OSError) as exc:
                raise PolicyError(f"logs policy: fail2ban filter {ref.path}: {exc}") from exc
            engines.append(Fail2banRules([flt], ref.level))
        if not engines:
            raise PolicyError("logs policy: no rule set enabled")
        files = [
            (src, FileFollower(_resolve(self._ctx.root, src.path), self._store, start_at_end=src.start_at == "end"))
            for src in policy.sources
            if isinstance(src, FileSource)
        ]
        journal = None
        docker = None
        for src in policy.sources:
            if isinstance(src, JournalSource):
                binary = str(self._ctx.settings.get("journalctl", "journalctl"))
                journal = JournalFollower(self._ctx.state_dir, src.units, binary)
            elif isinstance(src, DockerSource):
                docker = DockerLogs(str(_resolve(self._ctx.root, src.socket)), self._ctx.state_dir)
        return _Running(policy, version, engines, files, journal, docker, problems)

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Switch to ``section`` atomically (everything is built before the old one stops)."""
        if section is None:
            self._stop_sources()
            self._run = None
            return self.state()
        new = self._build(section, policy_version)
        if new.journal is not None and not new.journal.start():
            new.problems.append(f"journal source unavailable: {new.journal.error}")
            new.journal = None
        if new.docker is not None and not new.docker.available():
            new.problems.append(f"docker source unavailable: {new.docker.error}")
            new.docker = None
        self._stop_sources()
        self._run = new
        return self.state()

    def tick(self, now: float) -> None:
        """Read new lines from every source and evaluate them."""
        run = self._run
        if run is None or self._ctx is None:
            return
        budget = run.policy.max_lines_per_tick
        try:
            for src, follower in run.files:
                location = src.location or src.path
                for line, ident in follower.poll_identified(budget):
                    self._evaluate(run, line, location, now, ident)
            if run.journal is not None:
                for line, cursor in run.journal.poll_identified(budget):
                    self._evaluate(run, line, "journald", now, cursor)
                if run.journal.error:
                    run.problems.append(f"journal: {run.journal.error}")
                    run.journal.stop()
                    run.journal = None
            if run.docker is not None:
                for location, line, ident in run.docker.poll(budget):
                    self._evaluate(run, line, location, now, ident)
            if self._store is not None:
                self._store.save()
            self._error = ""
        except OSError as exc:
            self._error = f"tick failed: {exc}"
            self._ctx.log.warning("logs tick failed: %s", exc)

    def _evaluate(self, run: _Running, line: str, location: str, now: float, ident: str = "") -> None:
        """Run every engine; ``ident`` names the line stably (file offset) so re-reads keep their event keys."""
        self._counters["lines"] += 1
        for engine in run.engines:
            try:
                matches = engine.process(line, location, now)
            except Exception as exc:  # one engine failing on one line is counted, not fatal
                self._counters["engine_errors"] = self._counters.get("engine_errors", 0) + 1
                self._last_engine_error = f"{engine.name}: {type(exc).__name__}: {exc}"[:300]
                continue
            for match in matches:
                if match.level < run.policy.min_level:
                    continue
                self._alert(run, match, line, location, now, ident)

    def _alert(self, run: _Running, match: LogMatch, line: str, location: str, now: float, ident: str) -> None:
        assert self._ctx is not None and self._masker is not None
        masked = self._masker.mask(line)
        fields = {k: self._masker.mask(v)[:MAX_FIELD_CHARS] for k, v in list(match.fields.items())[:64]}
        attrs: dict[str, Any] = {
            "engine": match.engine,
            "rule_id": match.rule_id,
            "level": match.level,
            "description": match.description,
            "groups": list(match.groups),
            "decoder": match.decoder,
            "fields": fields,
            "line": masked,
            "location": location,
            "mitre": list(match.mitre),
        }
        if match.correlated_lines:
            attrs["correlation"] = [self._masker.mask(x)[:1024] for x in match.correlated_lines[-20:]]
        self._ctx.emit(
            AgentEvent(
                module=self.name,
                kind="logs.alert",
                severity=level_severity(match.level),
                summary=f"{match.description} ({match.engine} rule {match.rule_id}, level {match.level})"[:300],
                attributes=attrs,
                key=event_key(self.name, "logs.alert", match.engine, match.rule_id, location, masked, ident or now),
            )
        )
        self._counters["alerts"] += 1
        hook = self._ctx.settings.get("active_response")
        decision = decide(run.policy.active_response, match, hook if callable(hook) else None)
        if decision is None:
            return
        self._counters["responses" if decision.taken else "refused_responses"] += 1
        self._ctx.emit(
            AgentEvent(
                module=self.name,
                kind="logs.active_response",
                severity=Severity.HIGH if decision.taken else Severity.LOW,
                summary=(
                    f"blocked {decision.address} for {run.policy.active_response.ttl_seconds}s"
                    if decision.taken
                    else f"did not block {decision.address or 'unknown address'}: {decision.reason}"
                )[:300],
                attributes={
                    "action": decision.action,
                    "address": decision.address,
                    "taken": decision.taken,
                    "reason": decision.reason,
                    "ttl_seconds": run.policy.active_response.ttl_seconds,
                    "rule_id": match.rule_id,
                    "engine": match.engine,
                },
                key=event_key(self.name, "logs.active_response", match.rule_id, decision.address, masked, ident or now),
            )
        )

    def state(self) -> ModuleState:
        """Status, counters and any degradation reason."""
        run = self._run
        if run is None:
            return ModuleState(ModuleStatus.DISABLED, counters=dict(self._counters))
        counters = dict(self._counters)
        for _src, follower in run.files:
            counters["rotations"] = counters.get("rotations", 0) + follower.stats.rotations
            counters["truncations"] = counters.get("truncations", 0) + follower.stats.truncations
            counters["long_lines"] = counters.get("long_lines", 0) + follower.stats.long_lines
        if self._error:
            return ModuleState(ModuleStatus.ERROR, run.version, self._error, counters)
        problems = run.problems + ([f"last engine error: {self._last_engine_error}"] if self._last_engine_error else [])
        if problems:
            return ModuleState(ModuleStatus.DEGRADED, run.version, "; ".join(problems[:5])[:1000], counters)
        return ModuleState(ModuleStatus.RUNNING, run.version, "", counters)

    def _stop_sources(self) -> None:
        run = self._run
        if run is None:
            return
        for _src, follower in run.files:
            follower.close()
        if run.journal is not None:
            run.journal.stop()
        if self._store is not None:
            self._store.save()

    def stop(self) -> None:
        """Close files, stop journalctl, save positions."""
        self._stop_sources()
        self._run = None
