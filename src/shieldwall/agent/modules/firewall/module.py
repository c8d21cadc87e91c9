"""The firewall module: applies its policy section to ``inet shieldwall``, watches drift, enforces reputation.

Settings it reads (agent-local, not policy): ``netns`` (run every nft command
as ``ip netns exec NAME nft ...``), ``nft_binary``, ``ip_binary``,
``firewall_confirm`` (a callable returning True when the agent can still reach
its manager: the apply-with-rollback confirmation), ``drift_monitor``
(default true: keep ``nft -j monitor ruleset`` running so drift is found
within a tick without listing the table), ``reputation_dir``
(relative list paths are resolved against it; default: the module's state
directory) and ``protected_addresses`` (addresses ``block_address`` always
refuses, such as the manager's).

``stop`` leaves the applied table in place: a host's firewall must not drop
when its agent restarts. ``apply(None)`` (the policy disables the module)
removes the table.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.firewall.section import FirewallSection
from shieldwall.errors import ShieldwallError
from shieldwall.firewall.compile import (
    FAMILY,
    TABLE,
    BlockEntry,
    CompileError,
    Json,
    block_add_batch,
    compile_ruleset,
    reputation_reload_batch,
)
from shieldwall.firewall.drift import compare, rule_counters, set_elements, timed_elements
from shieldwall.firewall.guard import RolledBack, guarded_apply
from shieldwall.firewall.model import Network, ResolvedPolicy
from shieldwall.firewall.monitor import RulesetMonitor
from shieldwall.firewall.nft import Nft, NftError
from shieldwall.firewall.reputation import ReputationList, ReputationListError, collapse, load_list
from shieldwall.firewall.schema import FirewallSchemaError, parse_network, resolve
from shieldwall.model.finding import Severity

MAX_HIT_EVENTS_PER_TICK = 100
MONITOR_CHECK_MIN_SECONDS = 1.0
MONITOR_RESTART_SECONDS = 60.0


class BlockRefused(ShieldwallError, ValueError):
    """``block_address`` refused an address (invalid, loopback, allow-listed) or a ttl out of bounds."""


@dataclass(frozen=True, slots=True)
class _ListFile:
    spec_name: str
    path: Path
    category: str
    severity: Severity
    action: str


@dataclass(slots=True)
class _Active:
    """Everything derived from the applied section."""

    section: FirewallSection
    policy: ResolvedPolicy
    version: int
    files: tuple[_ListFile, ...]
    lists: dict[str, ReputationList]
    stamps: dict[str, tuple[int, int, int]]
    rep_allow: tuple[Network, ...]
    block_allow: tuple[Network, ...]
    guarded: bool
    baseline: Json | None = None


class FirewallModule:
    """The ``firewall`` agent module (see the module docstring)."""

    name = "firewall"
    version = "1.0.0"

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._nft = Nft()
        self._lock = threading.RLock()
        self._active: _Active | None = None
        self._status = ModuleStatus.DISABLED
        self._detail = ""
        self._blocks: dict[Network, float] = {}
        self._counters: dict[str, int] = {}
        self._stats = {"drift_repairs": 0, "rollbacks": 0, "reputation_reloads": 0, "blocks_added": 0}
        self._next_drift = 0.0
        self._next_full_drift = 0.0
        self._next_triggered = 0.0
        self._next_monitor_start = 0.0
        self._monitor: RulesetMonitor | None = None
        self._next_report = 0.0
        self._next_counters = 0.0
        self._next_reputation = 0.0
        self._hits_seen: dict[str, set[str]] = {}

    # --- contract -------------------------------------------------------------------------

    def start(self, ctx: ModuleContext) -> None:
        """Remember the context and check that nft runs (in the configured namespace)."""
        self._ctx = ctx
        try:
            self._nft = Nft.from_settings(ctx.settings)
            self._nft.run("--version")
            self._nft.run("list", "tables")
            self._recover_blocks()
        except (NftError, ValueError) as exc:
            self._status = ModuleStatus.UNAVAILABLE
            self._detail = str(exc)

    def _recover_blocks(self) -> None:
        """Blocks still counting down in the kernel (an agent restart) are kept on the next apply."""
        now = time.time()
        for fam in ("v4", "v6"):
            name = f"block_{fam}"
            for value, seconds in timed_elements(self._nft.list_set(name), name):
                try:
                    self._blocks[ipaddress.ip_network(value)] = now + seconds
                except ValueError:
                    continue

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate, compile, check and apply the section with rollback; ``PolicyError`` keeps the old one."""
        ctx = self._require_ctx()
        with self._lock:
            if self._status is ModuleStatus.UNAVAILABLE:
                raise PolicyError(f"firewall unavailable on this host: {self._detail}")
            if section is None:
                self._stop_monitor()
                self._nft.delete_table()
                self._active = None
                self._status, self._detail = ModuleStatus.DISABLED, ""
                return self.state()
            active = self._prepare(section, policy_version)
            current = self._active
            if current is not None and _same(current, active) and self._status is not ModuleStatus.ERROR:
                current.version = policy_version  # nothing to change in the kernel: no re-apply, no counter reset
                return self.state()
            confirm = self._confirm_callable()
            if active.section.guard.required and confirm is None:
                raise PolicyError("the policy requires a confirmed apply but the agent has no confirmation callback")
            batch = self._compile(active)
            try:
                outcome = guarded_apply(
                    self._nft,
                    batch,
                    state_dir=ctx.state_dir,
                    confirm=confirm,
                    deadline_seconds=active.section.guard.confirm_deadline_seconds,
                )
            except RolledBack as exc:
                self._stats["rollbacks"] += 1
                self._emit("firewall.rolled_back", Severity.HIGH, str(exc), {"policy": active.policy.name})
                raise PolicyError(str(exc)) from None
            except NftError as exc:
                self._emit("firewall.refused", Severity.MEDIUM, "nft refused the firewall policy", {"error": str(exc)})
                raise PolicyError(f"the firewall policy was refused, the running ruleset stays: {exc}") from None
            active.guarded = outcome.guarded
            active.baseline = self._nft.list_table()
            self._active = active
            self._hits_seen.clear()
            self._refresh_counters(active.baseline)
            if outcome.guarded:
                self._status, self._detail = ModuleStatus.RUNNING, ""
            else:
                self._status = ModuleStatus.DEGRADED
                self._detail = "applied without rollback guard: no confirmation callback (setting firewall_confirm)"
            self._emit(
                "firewall.applied",
                Severity.LOW,
                f"firewall policy {active.policy.name!r} applied ({len(active.policy.rules)} rules)",
                {
                    "policy": active.policy.name,
                    "chain": list(active.policy.chain),
                    "rules": len(active.policy.rules),
                    "policy_version": policy_version,
                    "guarded": outcome.guarded,
                    "seconds_to_confirm": round(outcome.seconds_to_confirm, 3),
                    "reputation_lists": {n: len(r.networks) for n, r in active.lists.items()},
                },
            )
            return self.state()

    def tick(self, now: float) -> None:
        """Expire blocks, reload changed reputation lists, check drift, report reputation hits."""
        with self._lock:
            active = self._active
            if active is None:
                return
            try:
                self._expire_blocks(now)
                if now >= self._next_reputation:
                    self._next_reputation = now + active.section.reputation.check_seconds
                    self._reload_changed_lists(active)
                checked = self._drift_due(now, active)
                if checked:
                    self._next_counters = now + active.section.counters_seconds
                elif now >= self._next_counters:
                    self._next_counters = now + active.section.counters_seconds
                    self._refresh_counters(self._nft.list_table(terse=True))
                if now >= self._next_report:
                    self._next_report = now + active.section.report_seconds
                    self._report_hits(active)
            except (NftError, OSError, PolicyError) as exc:
                self._status, self._detail = ModuleStatus.ERROR, f"tick failed: {exc}"

    def _drift_due(self, now: float, active: _Active) -> bool:
        """Full checks on their period; in between, on a monitor notification or (no monitor) structurally.

        True when the table was listed (the counters are then fresh too).
        """
        self._ensure_monitor(now)
        monitor = self._monitor
        if now >= self._next_full_drift:
            self._next_full_drift = now + active.section.drift_full_check_seconds
            self._next_drift = now + active.section.drift_check_seconds
            if monitor is not None:
                monitor.take_dirty()
            self.check_drift(elements=True)
            return True
        if monitor is not None and monitor.alive:
            if now >= self._next_triggered and monitor.take_dirty():
                self._next_triggered = now + MONITOR_CHECK_MIN_SECONDS
                self.check_drift(elements=True)
                return True
            return False
        if now >= self._next_drift:
            self._next_drift = now + active.section.drift_check_seconds
            self.check_drift(elements=False)
            return True
        return False

    def _ensure_monitor(self, now: float) -> None:
        """Keep ``nft monitor`` running (unless the setting ``drift_monitor`` is false); restarts are rate-limited."""
        if not self._require_ctx().settings.get("drift_monitor", True):
            return
        if self._monitor is not None and self._monitor.alive:
            return
        if now < self._next_monitor_start:
            return
        self._next_monitor_start = now + MONITOR_RESTART_SECONDS
        if self._monitor is not None:
            self._monitor.stop()
        self._monitor = RulesetMonitor(self._nft)
        try:
            self._monitor.start()
        except OSError as exc:
            self._monitor = None
            self._status, self._detail = ModuleStatus.DEGRADED, f"nft monitor could not start: {exc}"

    def _stop_monitor(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None

    def state(self) -> ModuleState:
        """Status, policy version and counters (per rule id, per named counter, and the module's own)."""
        with self._lock:
            counters = dict(self._counters)
            counters.update(self._stats)
            counters["blocks_active"] = len(self._blocks)
            version = self._active.version if self._active else None
            return ModuleState(self._status, version, self._detail, counters)

    def stop(self) -> None:
        """Stop the monitor process and forget the context; the applied table stays (see the module docstring)."""
        with self._lock:
            self._stop_monitor()
            self._ctx = None

    # --- active response ------------------------------------------------------------------

    def block_address(self, address: str, ttl_seconds: int, reason: str) -> None:
        """Block ``address`` both ways for ``ttl_seconds`` (timed set element); ``BlockRefused`` when not allowed."""
        with self._lock:
            active = self._active
            if active is None:
                raise BlockRefused("the firewall module has no applied policy")
            try:
                ip = ipaddress.ip_address(address.strip())
            except ValueError:
                raise BlockRefused(f"{address[:60]!r} is not an IP address") from None
            why = self._refusal(ip, active)
            if why is None and not (1 <= ttl_seconds <= active.section.block.max_ttl_seconds):
                why = f"ttl {ttl_seconds}s outside 1..{active.section.block.max_ttl_seconds}"
            if why is not None:
                self._emit(
                    "firewall.block_refused",
                    Severity.LOW,
                    f"refused to block {ip}: {why}",
                    {"address": str(ip), "reason": reason[:200], "why": why},
                )
                raise BlockRefused(f"refused to block {ip}: {why}")
            network = ipaddress.ip_network(ip)
            entry = BlockEntry(network, int(ttl_seconds))
            batch = block_add_batch(entry)
            fam = "v4" if ip.version == 4 else "v6"
            ident = {"family": FAMILY, "table": TABLE, "name": f"block_{fam}", "elem": [str(ip)]}
            renew = {"nftables": [{"delete": {"element": ident}}, *batch["nftables"]]}  # restarts the timeout
            first, second = (renew, batch) if network in self._blocks else (batch, renew)
            try:
                self._nft.run_batch(first)
            except NftError:
                self._nft.run_batch(second)  # the kernel knew better than our registry (expired, or still there)
            self._blocks[network] = time.time() + ttl_seconds
            self._stats["blocks_added"] += 1
            self._emit(
                "firewall.blocked",
                Severity.MEDIUM,
                f"blocked {ip} for {ttl_seconds}s: {reason[:120]}",
                {"address": str(ip), "ttl_seconds": ttl_seconds, "reason": reason[:200]},
            )

    def active_blocks(self) -> dict[str, float]:
        """Blocked addresses and when (epoch seconds) each block ends."""
        with self._lock:
            return {str(n.network_address): until for n, until in self._blocks.items()}

    # --- drift ----------------------------------------------------------------------------

    def check_drift(self, *, elements: bool = True) -> bool:
        """Compare the kernel's table with the applied one; on a difference emit an event and put ours back.

        ``elements=False`` compares everything but set elements, from a terse
        listing (cheap on 100k-element reputation sets); ``tick`` does that
        every ``drift_check_seconds`` and a full comparison every
        ``drift_full_check_seconds``.
        """
        with self._lock:
            active = self._active
            if active is None:
                return False
            current = self._nft.list_table(terse=not elements)
            drift = compare(active.baseline, current, elements=elements)
            self._refresh_counters(current)
            if not drift.changed:
                return False
            self._emit(
                "firewall.drift",
                Severity.HIGH,
                "Shieldwall's nftables table was changed outside Shieldwall; restoring it",
                drift.summary(),
                key=event_key("firewall.drift", time.time(), drift.summary()),
            )
            self._nft.run_batch(self._compile(active))
            active.baseline = self._nft.list_table()
            self._stats["drift_repairs"] += 1
            return True

    # --- internals ------------------------------------------------------------------------

    def _require_ctx(self) -> ModuleContext:
        if self._ctx is None:
            raise PolicyError("the firewall module was not started")
        return self._ctx

    def _confirm_callable(self) -> Callable[[], bool] | None:
        confirm = self._require_ctx().settings.get("firewall_confirm")
        return confirm if callable(confirm) else None

    def _prepare(self, section: Mapping[str, Any], version: int) -> _Active:
        try:
            parsed = FirewallSection.model_validate(section)
            policy = resolve(parsed)
            rep_allow = collapse(parse_network(a) for a in parsed.reputation.allow)
            block_allow = collapse(parse_network(a) for a in parsed.block.allow)
        except ValidationError as exc:
            raise PolicyError(f"invalid firewall section: {exc.error_count()} error(s): {_brief(exc)}") from None
        except FirewallSchemaError as exc:
            raise PolicyError(str(exc)) from None
        files = tuple(
            _ListFile(spec.name, self._list_path(spec.path), spec.category, Severity(spec.severity), spec.action)
            for spec in parsed.reputation.lists
        )
        if len({f.spec_name for f in files}) != len(files):
            raise PolicyError("two reputation lists share a name")
        lists: dict[str, ReputationList] = {}
        stamps: dict[str, tuple[int, int, int]] = {}
        for spec in files:
            try:
                lists[spec.spec_name] = self._load(spec)
                stamps[spec.spec_name] = _stamp(spec.path)
            except (ReputationListError, OSError) as exc:
                raise PolicyError(f"reputation list {spec.spec_name}: {exc}") from None
        return _Active(parsed, policy, version, files, lists, stamps, rep_allow, block_allow, guarded=False)

    def _list_path(self, raw: str) -> Path:
        path = Path(raw)
        if path.is_absolute():
            return path
        base = self._require_ctx().settings.get("reputation_dir") or self._require_ctx().state_dir
        return Path(str(base)) / path

    @staticmethod
    def _load(spec: _ListFile) -> ReputationList:
        return load_list(
            spec.path, name=spec.spec_name, category=spec.category, severity=spec.severity, action=spec.action
        )

    def _compile(self, active: _Active) -> Json:
        now = time.time()
        blocks = [BlockEntry(n, int(until - now)) for n, until in self._blocks.items() if until - now >= 1]
        try:
            return compile_ruleset(active.policy, list(active.lists.values()), active.rep_allow, blocks)
        except CompileError as exc:
            raise PolicyError(str(exc)) from None

    def _refusal(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, active: _Active) -> str | None:
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            return "loopback, unspecified and multicast addresses are never blocked"
        protected = self._require_ctx().settings.get("protected_addresses") or ()
        for text in protected:
            try:
                if ip in ipaddress.ip_network(str(text), strict=False):
                    return f"protected address ({text})"
            except ValueError:
                continue
        for net in (*active.block_allow, *active.rep_allow):
            if ip.version == net.version and ip in net:
                return f"allow-listed ({net})"
        return None

    def _expire_blocks(self, now: float) -> None:
        for network, until in list(self._blocks.items()):
            if until <= now:
                del self._blocks[network]

    def _reload_changed_lists(self, active: _Active) -> None:
        for spec in active.files:
            try:
                stamp = _stamp(spec.path)
                if stamp == active.stamps.get(spec.spec_name):
                    continue
                fresh = self._load(spec)
            except (ReputationListError, OSError) as exc:
                self._status, self._detail = ModuleStatus.DEGRADED, f"reputation list {spec.spec_name}: {exc}"
                self._emit(
                    "firewall.reputation_list_error",
                    Severity.MEDIUM,
                    f"reputation list {spec.spec_name} could not be reloaded; the previous entries stay",
                    {"list": spec.spec_name, "error": str(exc)[:500]},
                    key=event_key("firewall.reputation_list_error", spec.spec_name, str(exc)[:500]),
                )
                active.stamps[spec.spec_name] = _safe_stamp(spec.path)
                continue
            batch = reputation_reload_batch(fresh)
            self._nft.run_batch(batch, check=True)
            self._nft.run_batch(batch)
            old = active.lists[spec.spec_name]
            active.lists[spec.spec_name] = fresh
            active.stamps[spec.spec_name] = stamp
            active.baseline = self._nft.list_table()
            self._stats["reputation_reloads"] += 1
            self._emit(
                "firewall.reputation_updated",
                Severity.LOW,
                f"reputation list {spec.spec_name} reloaded ({len(fresh.networks)} networks)",
                {
                    "list": spec.spec_name,
                    "networks": len(fresh.networks),
                    "previous_networks": len(old.networks),
                    "bad_lines": fresh.bad_lines,
                    "errors": list(fresh.errors),
                },
            )

    def _report_hits(self, active: _Active) -> None:
        """One event per address newly in a hit set; only the small hit sets are listed (cheap)."""
        budget = MAX_HIT_EVENTS_PER_TICK
        for name, rep in active.lists.items():
            hits: set[str] = set()
            for fam in ("v4", "v6"):
                set_name = f"rep_hits_{name}_{fam}"
                hits |= set(set_elements(self._nft.list_set(set_name), set_name))
            seen = self._hits_seen.setdefault(name, set())
            for address in sorted(hits - seen):
                if budget <= 0:
                    break
                budget -= 1
                seen.add(address)
                verb = "blocked" if rep.action == "drop" else "seen (detect only)"
                self._emit(
                    "firewall.reputation_blocked" if rep.action == "drop" else "firewall.reputation_seen",
                    rep.severity,
                    f"traffic with {address} ({rep.category}, list {name}) {verb}",
                    {
                        "address": address,
                        "list": name,
                        "category": rep.category,
                        "action": rep.action,
                    },
                )
            seen &= hits  # an address whose hit entry expired is reported again when it comes back

    def _refresh_counters(self, listing: Json | None) -> None:
        self._counters = rule_counters(listing)

    def _emit(self, kind: str, severity: Severity, summary: str, attributes: Mapping[str, Any], key: str = "") -> None:
        ctx = self._ctx
        if ctx is None:
            return
        ctx.emit(
            AgentEvent(module=self.name, kind=kind, severity=severity, summary=summary, attributes=attributes, key=key)
        )


def _same(current: _Active, new: _Active) -> bool:
    """True when applying ``new`` would produce the table ``current`` already has."""
    return (
        current.section == new.section
        and current.stamps == new.stamps
        and {n: r.networks for n, r in current.lists.items()} == {n: r.networks for n, r in new.lists.items()}
    )


def _stamp(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _safe_stamp(path: Path) -> tuple[int, int, int]:
    try:
        return _stamp(path)
    except OSError:
        return (0, 0, 0)


def _brief(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
