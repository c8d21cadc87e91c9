"""The ``ips`` agent module: Suricata managed by policy, its alerts and drops as agent events.

Settings (local, not policy): ``suricata``, ``iptables``, ``netns``,
``capture`` (``nfqueue`` — inline through iptables NFQUEUE, the default;
``af-packet`` — Suricata bridges ``af_packet_interfaces`` (two: inline copy
mode; one: passive Detect); ``none`` — configuration, validation and eve
reading only, for a Suricata run elsewhere),
``et_open_dir``, ``reputation_dir``, ``classification_file``,
``reference_file``, ``eve_batch`` (eve lines read per tick).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.ips import control, inline
from shieldwall.agent.modules.ips.alerts import to_event
from shieldwall.agent.modules.ips.build import Built, build, live_config_text, write
from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.eve import EveReader, at_end
from shieldwall.agent.modules.ips.eve import rotate as eve_rotate
from shieldwall.agent.modules.ips.layout import Layout, live_layout, staging_layout
from shieldwall.agent.modules.ips.policy import Failure, IpsPolicy, parse_policy
from shieldwall.agent.modules.ips.supervisor import Supervisor
from shieldwall.model.finding import Severity

VERSION = "1.0.0"
CAPTURES = ("nfqueue", "af-packet", "none")
EVE_MAX_BYTES = 128 * 1024 * 1024
"""eve.json is rotated (renamed, reopened by Suricata, drained, deleted) above this size."""
_LOG = logging.getLogger(__name__)


class Module:
    """Intrusion detection and prevention with Suricata."""

    name = "ips"
    version = VERSION

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._tools = Tools()
        self._live: Layout | None = None
        self._staging: Layout | None = None
        self._built: Built | None = None
        self._policy_version: int | None = None
        self._supervisor: Supervisor | None = None
        self._eve: EveReader | None = None
        self._inline_chains: tuple[str, ...] = ()
        self._status = ModuleStatus.DISABLED
        self._detail = ""
        self._counters: dict[str, int] = {}
        self._list_stamp: tuple[tuple[str, int, int], ...] = ()
        self._rebuild: Future[Built] | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- contract -----------------------------------------------------------------

    def start(self, ctx: ModuleContext) -> None:
        """Check prerequisites and open the eve position; no policy yet."""
        self._ctx = ctx
        try:
            self._tools = Tools.from_settings(ctx.settings)
        except ValueError as exc:
            self._status, self._detail = ModuleStatus.UNAVAILABLE, str(exc)
            return
        self._live = live_layout(ctx.state_dir)
        self._staging = staging_layout(ctx.state_dir)
        self._live.make()
        self._eve = EveReader(
            self._live.eve, ctx.state_dir / "eve.position", max_lines=int(ctx.settings.get("eve_batch", 1000))
        )
        if shutil.which(self._tools.suricata) is None:
            self._status, self._detail = ModuleStatus.UNAVAILABLE, f"{self._tools.suricata} not found"

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate, build and ``suricata -T`` the new configuration, then switch to it (or raise)."""
        ctx, live, staging = self._require()
        self._settle_rebuild()
        if section is None:
            self._shutdown()
            self._built, self._policy_version = None, policy_version
            self._status, self._detail = ModuleStatus.DISABLED, ""
            return self.state()
        if self._status == ModuleStatus.UNAVAILABLE:
            raise PolicyError(f"ips unavailable: {self._detail}")
        policy = parse_policy(section)
        self._check_capture(policy)
        built = build(policy, ctx.settings, self._tools, staging, live)
        self._switch(built)
        self._policy_version = policy_version
        self._list_stamp = self._lists_stamp(policy)
        return self.state()

    def tick(self, now: float) -> None:
        """Supervise Suricata, follow list files, and turn new eve records into events."""
        if self._supervisor is not None:
            what = self._supervisor.poll()
            if what == "died":
                self._count("engine_deaths")
                self._engine_event(down=True)
                self._status = ModuleStatus.DEGRADED
                self._detail = self._down_detail()
            elif what == "restarted":
                self._count("engine_restarts")
                self._engine_event(down=False)
                self._status, self._detail = ModuleStatus.RUNNING, ""
        self._follow_lists()
        self.drain()

    def state(self) -> ModuleState:
        """Status, the policy version running and counters."""
        counters = dict(self._counters)
        if self._built is not None:
            counters["rules_active"] = len(self._built.ruleset.rules)
            counters["reputation_rules"] = len(self._built.reputation_rules)
            counters.update(self._built.reputation_stats)
        if self._eve is not None:
            counters["eve_bad_lines"] = self._eve.bad_json
            counters["eve_long_lines"] = self._eve.skipped_long
        return ModuleState(
            status=self._status, policy_version=self._policy_version, detail=self._detail, counters=counters
        )

    def stop(self) -> None:
        """Stop Suricata, remove the inline rules, read the last eve records."""
        self._settle_rebuild()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._shutdown()
        if self._eve is not None:
            self.drain()

    # -- work ---------------------------------------------------------------------

    def drain(self) -> int:
        """Read one batch of eve records and emit the alert/drop events; returns how many were emitted."""
        if self._eve is None or self._ctx is None:
            return 0
        known = self._built.cves_by_sid() if self._built is not None else {}
        emitted = 0
        records = self._eve.read()
        if not records and self._eve_too_big():
            try:
                records = eve_rotate(self._eve, self._reopen_logs)
                self._count("eve_rotations")
            except (control.ControlError, OSError) as exc:
                _LOG.warning("ips: eve.json rotation failed: %s", exc)
                self._count("eve_rotation_failures")
        for record in records:
            if record.get("event_type") == "drop":
                self._count("packets_dropped")
                continue
            event = to_event(record, known)
            if event is None:
                continue
            self._ctx.emit(event)
            self._count(event.kind.replace(".", "_"))
            emitted += 1
        return emitted

    def _eve_too_big(self) -> bool:
        ctx, live, _ = self._require()
        limit = int(ctx.settings.get("eve_max_bytes", EVE_MAX_BYTES))
        try:
            size = live.eve.stat().st_size
        except FileNotFoundError:
            return False
        running = self._supervisor is not None and self._supervisor.running()
        return running and size > limit and self._eve is not None and at_end(self._eve)

    def _reopen_logs(self) -> None:
        _, live, _ = self._require()
        control.command(live.socket, "reopen-log-files", timeout=30)

    def supervisor(self) -> Supervisor | None:
        """The running Suricata's supervisor (tests and status pages read it)."""
        return self._supervisor

    def reload(self) -> None:
        """Ask Suricata to reload its rules; restart it when the socket does not answer."""
        _, live, _ = self._require()
        if self._supervisor is None or not self._supervisor.running():
            return
        try:
            control.reload_rules(live.socket)
            self._count("reloads")
        except control.ControlError as exc:
            _LOG.warning("ips: reload-rules failed (%s); restarting Suricata", exc)
            self._supervisor.stop()
            self._supervisor.start()
            self._count("reload_restarts")

    # -- internals ----------------------------------------------------------------

    def _require(self) -> tuple[ModuleContext, Layout, Layout]:
        if self._ctx is None or self._live is None or self._staging is None:
            raise PolicyError("ips module not started")
        return self._ctx, self._live, self._staging

    def _capture(self) -> str:
        ctx, _, _ = self._require()
        return str(ctx.settings.get("capture", "nfqueue"))

    def _check_capture(self, policy: IpsPolicy) -> None:
        """Refuse an unknown capture before anything is built or written."""
        capture = self._capture()
        if capture not in CAPTURES:
            raise PolicyError(f"ips: unsupported capture {capture!r} (one of {', '.join(CAPTURES)})")

    def _switch(self, built: Built) -> None:
        """Switch to ``built`` completely or raise ``PolicyError`` with the previous configuration running.

        On NFQUEUE the iptables rules are installed first: when that fails, the
        previous rules are put back and the live tree and the running engine
        were never touched. Only then is the live tree written and Suricata
        reloaded or restarted (a Suricata that cannot be started rolls back
        the live tree, the engine and the iptables rules as well).
        """
        _, live, _ = self._require()
        previous = self._built
        capture = self._capture()
        policy = built.policy
        if capture == "nfqueue":
            self._install_inline(policy, previous)
        before = live_config_text(live)
        text = write(built, live)
        self._built = built
        if capture == "none":
            self._status, self._detail = ModuleStatus.RUNNING, f"configuration only (capture: none); {built.loaded}"
            return
        source = ["--af-packet"] if capture == "af-packet" else ["-q", str(policy.inline.queue)]
        argv = self._tools.wrap([self._tools.suricata, "-c", str(live.config), "-l", str(live.log_dir), *source])
        needs_restart = (
            self._supervisor is None or list(self._supervisor.argv) != argv or text != before or previous is None
        )
        if needs_restart:
            old = self._supervisor
            if old is not None:
                old.stop()
            self._supervisor = Supervisor(argv=argv, stderr_path=live.log_dir / "suricata.stderr")
            try:
                self._supervisor.start()
            except OSError as exc:
                self._supervisor = old
                self._rollback_engine(previous, policy)
                raise PolicyError(f"ips: cannot start Suricata: {exc}; previous configuration restored") from exc
        else:
            self.reload()
        self._status, self._detail = ModuleStatus.RUNNING, built.loaded

    def _install_inline(self, policy: IpsPolicy, previous: Built | None) -> None:
        """Install the NFQUEUE rules of ``policy``; on failure put the previous ones back and raise."""
        try:
            if self._inline_chains and set(self._inline_chains) != set(policy.inline.chains):
                inline.remove(self._tools, self._inline_chains)
            inline.install(self._tools, policy.inline.chains, policy.inline.queue, policy.failure == Failure.OPEN)
        except (inline.InlineError, OSError) as exc:
            failed = self._restore_inline(policy, previous)
            if failed:
                self._status = ModuleStatus.ERROR
                self._detail = f"ips inline path: {exc}; restoring the previous inline rules failed too: {failed}"
                raise PolicyError(self._detail) from exc
            self._detail = f"policy refused (inline path: {exc}); previous configuration kept"
            raise PolicyError(f"ips inline path: {exc}; previous configuration kept") from exc
        self._inline_chains = policy.inline.chains

    def _restore_inline(self, refused: IpsPolicy, previous: Built | None) -> str:
        """Put back the inline rules of ``previous`` (none when there was none); '' or the error."""
        try:
            if previous is None or not self._inline_chains:
                inline.remove(self._tools, tuple(dict.fromkeys(refused.inline.chains + self._inline_chains)))
                self._inline_chains = ()
                return ""
            prev = previous.policy
            inline.install(self._tools, self._inline_chains, prev.inline.queue, prev.failure == Failure.OPEN)
            extra = tuple(c for c in refused.inline.chains if c not in self._inline_chains)
            inline.remove_jumps(self._tools, extra)
        except (inline.InlineError, OSError) as exc:
            return str(exc)
        return ""

    def _rollback_engine(self, previous: Built | None, refused: IpsPolicy) -> None:
        """After a failed engine start: the previous live tree, engine and inline rules (best effort)."""
        _, live, _ = self._require()
        self._built = previous
        problems: list[str] = []
        if previous is not None:
            write(previous, live)
            if self._supervisor is not None:
                try:
                    self._supervisor.start()
                except OSError as exc:
                    problems.append(f"previous Suricata: {exc}")
        if self._capture() == "nfqueue":
            failed = self._restore_inline(refused, previous)
            if failed:
                problems.append(f"previous inline rules: {failed}")
        if problems:
            self._status, self._detail = ModuleStatus.ERROR, "rollback incomplete: " + "; ".join(problems)

    def _shutdown(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor = None
        if self._inline_chains:
            try:
                inline.remove(self._tools, self._inline_chains)
            except (inline.InlineError, OSError) as exc:
                _LOG.warning("ips: could not remove the inline rules: %s", exc)
            self._inline_chains = ()

    def _down_detail(self) -> str:
        policy = self._built.policy if self._built is not None else None
        if policy is not None and policy.failure == Failure.CLOSED:
            return "Suricata is down: fail-closed, queued traffic is dropped until it restarts"
        return "Suricata is down: fail-open, traffic passes uninspected until it restarts"

    def _engine_event(self, down: bool) -> None:
        if self._ctx is None or self._supervisor is None:
            return
        policy: IpsPolicy | None = self._built.policy if self._built is not None else None
        failure = policy.failure.value if policy is not None else "open"
        attributes = {
            "failure": failure,
            "exit_codes": list(self._supervisor.deaths[-5:]),
            "restarts": self._supervisor.restarts,
            "backoff_seconds": self._supervisor.backoff,
        }
        self._ctx.emit(
            AgentEvent(
                module=self.name,
                kind="ips.engine_down" if down else "ips.engine_restarted",
                severity=Severity.HIGH if down else Severity.LOW,
                summary=self._down_detail() if down else "Suricata restarted",
                attributes=attributes,
            ).with_key()
        )

    def _lists_stamp(self, policy: IpsPolicy) -> tuple[tuple[str, int, int], ...]:
        ctx, _, _ = self._require()
        base = ctx.settings.get("reputation_dir")
        if policy.reputation is None or not base:
            return ()
        out = []
        for spec in policy.reputation.lists:
            name = spec.name
            try:
                st = (Path(str(base)) / name).stat()
            except OSError:
                continue
            out.append((name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _follow_lists(self) -> None:
        """A changed reputation list is rebuilt and ``suricata -T``-checked in a worker thread, then reloaded.

        ``tick`` only starts the rebuild and, on a later tick, switches to its
        result (live files + ``reload-rules``, no restart); a refused update
        keeps the running rules and says so in the state's detail.
        """
        if self._rebuild is not None:
            if not self._rebuild.done():
                return
            future, self._rebuild = self._rebuild, None
            try:
                built = future.result()
            except PolicyError as exc:
                self._count("list_reload_refused")
                self._detail = f"reputation list update refused, previous rules kept: {exc}"
                return
            _, live, _ = self._require()
            write(built, live)
            self._built = built
            self.reload()
            self._count("list_reloads")
            return
        if self._built is None or self._built.policy.reputation is None:
            return
        stamp = self._lists_stamp(self._built.policy)
        if stamp == self._list_stamp:
            return
        self._list_stamp = stamp
        ctx, live, staging = self._require()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ips-rebuild")
        self._rebuild = self._executor.submit(build, self._built.policy, ctx.settings, self._tools, staging, live)

    def _settle_rebuild(self) -> None:
        """Wait for a list rebuild in flight and drop its result (a new apply supersedes it)."""
        if self._rebuild is not None:
            try:
                self._rebuild.result(timeout=600)
            except PolicyError:
                self._count("list_reload_superseded")
            self._rebuild = None

    def _count(self, name: str, n: int = 1) -> None:
        self._counters[name] = self._counters.get(name, 0) + n
