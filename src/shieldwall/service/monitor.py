"""``shieldwall monitor``: a foreground service that keeps the store current.

One loop, one thread doing the work (scans, rematches, alert delivery), so
the store sees one writer from this process:

- every ``interval``: poll each configured registry (catalog, tags list, the
  digest of each tag with a ``HEAD`` of its manifest) and hand each
  (repository, tag, digest) to ``handle_image``;
- whenever the webhook thread queued push notifications: the same;
- every ``vulndb_check_interval``: when the advisory database has a new
  build, rematch what it changed (``service.rematch``);
- every ``rescan_interval`` (when set): rescan images whose last scan is older;
- every ``alert_dispatch_interval``: deliver what the alert outbox holds.

``handle_image`` scans a digest the store has never seen (by digest, so a
tag moving during the scan cannot change what is scanned); a known digest
under a new tag only records the tag (and drift). A failing registry or scan
is logged and retried at the next poll; it never stops the loop.

``stop`` (an Event set by SIGTERM/SIGINT in the CLI) ends the loop after the
current step; the webhook server is shut down and the store closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import functools
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shieldwall.alert.dispatch import Dispatcher
from shieldwall.egress import EgressPolicy
from shieldwall.errors import ShieldwallError
from shieldwall.match.coverage import refuse_unevaluated
from shieldwall.model import ScanResult
from shieldwall.service.monitor_config import MonitorConfig, WatchedRegistry, WebhookConfig
from shieldwall.service.rematch import rematch_from_vulndb
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.service.webhooks import NotificationError, PushEvent, parse_notification
from shieldwall.store import audit
from shieldwall.store.core import Store, utcnow
from shieldwall.store.records import GoldenRules, TagRef, find_known_image, record_scan, record_tag
from shieldwall.store.schema import Asset, AssetKind, AssetTag
from shieldwall.target.limits import DEFAULT_LIMITS
from shieldwall.target.manifest import ACCEPT
from shieldwall.target.registry import ENV_INSECURE, RegistryClient

log = logging.getLogger("shieldwall.monitor")

ACTOR = "shieldwall-monitor"
CONFIG_SETTING = "monitor.config"
MAX_QUEUED_EVENTS = 10_000

ScanFunction = Callable[[str, ScanOptions], ScanResult]


def _default_scan(text: str, options: ScanOptions) -> ScanResult:
    return scan_target(text, options)


@dataclass(slots=True)
class MonitorStats:
    """Counters for logs, the health endpoint and tests."""

    polls: int = 0
    scans: int = 0
    tagged: int = 0
    known: int = 0
    errors: int = 0
    notifications: int = 0
    rematches: int = 0
    alerts_sent: int = 0
    rescans: int = 0
    started_at: str = field(default_factory=lambda: utcnow().isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {name: getattr(self, name) for name in self.__slots__}


# -- registry polling -------------------------------------------------------------------------------


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def registry_client(watched: WatchedRegistry) -> RegistryClient:
    """A distribution API client for a watched registry."""
    insecure = frozenset({watched.url.lower()}) if watched.insecure else None
    limits = dataclasses.replace(DEFAULT_LIMITS, egress=EgressPolicy.server())
    return RegistryClient(watched.url, anonymous=watched.anonymous, insecure=insecure, limits=limits)


def tag_digest(client: RegistryClient, repository: str, tag: str) -> str:
    """The digest a tag points at: ``HEAD`` of the manifest (``Docker-Content-Digest``), GET when absent."""
    what = f"manifest {repository}:{tag}"
    response = client.send("HEAD", f"/v2/{repository}/manifests/{tag}", what, headers={"Accept": ACCEPT})
    response.close()
    client.raise_for_status(response, what, repository)
    digest = str(response.headers.get("docker-content-digest", "")).strip()
    if digest:
        return digest
    _, _, digest = client.get_manifest(repository, tag)
    return digest


def poll_registry(client: RegistryClient, watched: WatchedRegistry) -> Iterator[tuple[str, str, str]]:
    """``(repository, tag, digest)`` for every watched tag of a registry."""
    if watched.catalog:
        repositories = [r for r in client.catalog() if _matches(r, watched.repositories)]
    else:
        repositories = [r for r in watched.repositories if not any(c in r for c in "*?[")]
    for repository in sorted(repositories):
        tags = [t for t in client.list_tags(repository) if _matches(t, watched.tags)]
        for tag in sorted(tags)[: watched.max_tags_per_repository]:
            yield repository, tag, tag_digest(client, repository, tag)


# -- the webhook endpoint ---------------------------------------------------------------------------


class WebhookServer:
    """``POST /notifications[/<registry name>]`` queues push events; ``GET /healthz`` reports the stats."""

    def __init__(
        self,
        config: WebhookConfig,
        events: queue.Queue[tuple[str, PushEvent]],
        stats: MonitorStats,
        token: str,
    ) -> None:
        host, _, port = config.listen.rpartition(":")
        self.config = config
        self._events = events
        self._stats = stats
        self._token = token
        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitor-webhook", daemon=True)

    @property
    def address(self) -> str:
        """``host:port`` the server listens on."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def _authorised(self, headers: Any, query: str) -> bool:
        if not self._token:
            return True
        given = str(headers.get("Authorization", ""))
        if given.lower().startswith("bearer "):
            given = given[7:]
        if not given:
            for part in query.split("&"):
                key, _, value = part.partition("=")
                if key == "token":
                    given = value
        return hmac.compare_digest(given.strip().encode(), self._token.encode())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "shieldwall-monitor"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook %s", format % args)

            def _reply(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/healthz":
                    self._reply(200, {"status": "ok", **server._stats.to_dict()})
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                parts = [p for p in path.split("/") if p]
                if not parts or parts[0] != "notifications" or len(parts) > 2:
                    self._reply(404, {"error": "POST to /notifications or /notifications/<registry>"})
                    return
                if not server._authorised(self.headers, query):
                    self._reply(401, {"error": "missing or wrong token"})
                    return
                try:
                    length = int(self.headers.get("Content-Length", "-1"))
                except ValueError:
                    length = -1
                if length < 0 or length > server.config.max_body_bytes:
                    self._reply(413, {"error": f"body must have a length of at most {server.config.max_body_bytes}"})
                    return
                body = self.rfile.read(length)
                try:
                    events = parse_notification(body)
                except NotificationError as exc:
                    self._reply(400, {"error": str(exc)})
                    return
                registry = parts[1] if len(parts) == 2 else ""
                accepted = 0
                for event in events:
                    try:
                        server._events.put_nowait((registry, event))
                        accepted += 1
                    except queue.Full:
                        break
                server._stats.notifications += accepted
                self._reply(202, {"accepted": accepted, "ignored": len(events) - accepted})

        return Handler


# -- the service ------------------------------------------------------------------------------------


class Monitor:
    """The monitor loop; see the module docstring."""

    def __init__(
        self,
        store: Store,
        config: MonitorConfig,
        *,
        scan: ScanFunction = _default_scan,
        options: ScanOptions | None = None,
        vulndb_path: Path | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.stats = MonitorStats()
        self._scan = scan
        self._options = options or ScanOptions(scanners=frozenset(config.scanners))
        self._golden = GoldenRules(dict(config.golden.labels), config.golden.tag_patterns)
        self._events: queue.Queue[tuple[str, PushEvent]] = queue.Queue(MAX_QUEUED_EVENTS)
        self._dispatcher = dispatcher or Dispatcher(store, config.alerts)
        self._vulndb_path = vulndb_path or (Path(config.vulndb_path) if config.vulndb_path else None)
        self._vulndb_stamp: tuple[float, int, int] | None = None
        self.webhook: WebhookServer | None = None
        self._insecure_hosts()
        from shieldwall.service.dispatch import remote_dispatch

        self._remote = remote_dispatch()  # a broker configured: scans and rematches run on workers

    def _insecure_hosts(self) -> None:
        extra = [r.url.lower() for r in self.config.registries if r.insecure]
        if extra:
            current = [h for h in os.environ.get(ENV_INSECURE, "").split(",") if h.strip()]
            os.environ[ENV_INSECURE] = ",".join(dict.fromkeys([*current, *extra]))

    # -- one image -------------------------------------------------------------------------------

    def handle_image(self, watched: WatchedRegistry, repository: str, tag: str, digest: str, trigger: str) -> str:
        """Scan a new digest once; record a known digest's new tag. Returns scanned, tagged or known."""
        full_repository = f"{watched.url}/{repository}"
        with self.store.session() as session:
            known = find_known_image(session, full_repository, tag, digest)
            if known is not None and known[1]:
                row = session.scalars(
                    select(AssetTag).where(
                        AssetTag.asset_id == known[0],
                        AssetTag.repository == full_repository,
                        AssetTag.tag == tag,
                    )
                ).first()
                if row is not None:
                    row.last_seen = utcnow()
        if known is not None and known[1]:
            self.stats.known += 1
            return "known"
        tag_ref = TagRef(full_repository, tag, digest)
        if known is not None:
            if tag:
                drift = record_tag(self.store, known[0], tag_ref, trigger=trigger, actor=ACTOR, golden=self._golden)
                log.info(
                    "known image under a new tag: no new scan",
                    extra={"event": "tagged", "image": f"{full_repository}:{tag}", "digest": digest, "drift": drift},
                )
            self.stats.tagged += 1
            return "tagged"
        self._scan_and_record(watched, full_repository, tag_ref, trigger)
        return "scanned"

    def _scan_and_record(self, watched: WatchedRegistry, full_repository: str, tag: TagRef, trigger: str) -> None:
        text = f"registry:{full_repository}@{tag.manifest_digest}"
        if self._remote is not None:
            request = "initial"
            if trigger == "schedule":  # one rescan per digest and period, however often it is queued
                period = int(utcnow().timestamp() // max(self.config.rescan_interval, 1.0))
                request = f"schedule:{period}"
            payload = {
                "repository": full_repository,
                "digest": tag.manifest_digest,
                "tags": [tag.tag] if tag.tag else [],
                "trigger": trigger,
                "environment": watched.environment,
                "request": request,
                "monitor": True,
            }
            self._remote.submit("scan.image", payload, f"{request}:{tag.manifest_digest}")
            self.stats.scans += 1
            log.info("scan queued", extra={"event": "scan-queued", "image": f"{full_repository}:{tag.tag}"})
            return
        log.info("scanning", extra={"event": "scan-start", "image": f"{full_repository}:{tag.tag}", "target": text})
        result = self._scan(text, self._options)
        refuse_unevaluated(result, self.config.scanners, self.config.allow_incomplete_db)  # never stored as clean
        record = record_scan(
            self.store,
            result,
            trigger=trigger,
            actor=ACTOR,
            environment=watched.environment,
            tags=[tag] if tag.tag else [],
            scanners=frozenset(self.config.scanners),
            golden=self._golden,
            target_text=text,
            alerts=self.config.alerts,
        )
        self.stats.scans += 1
        log.info(
            "scanned and stored",
            extra={
                "event": "scanned",
                "image": f"{full_repository}:{tag.tag}",
                "digest": tag.manifest_digest,
                "scan_id": record.scan_id,
                "packages": len(result.packages),
                "findings": record.counts,
                "drift": record.drift,
                "golden": record.golden,
            },
        )

    # -- the periodic steps ----------------------------------------------------------------------

    def poll_once(self) -> None:
        """Poll every configured registry once."""
        self.stats.polls += 1
        for watched in self.config.registries:
            if self._remote is not None:  # a worker enumerates the registry and queues the new digests
                payload = {"registry": watched.model_dump(mode="json"), "trigger": "poll", "monitor": True}
                self._guarded(
                    functools.partial(
                        self._remote.submit, "registry.sweep", payload, f"poll:{watched.label}:{self.stats.polls}"
                    )
                )
                continue
            try:
                with registry_client(watched) as client:
                    for repository, tag, digest in poll_registry(client, watched):
                        self._guarded(functools.partial(self.handle_image, watched, repository, tag, digest, "poll"))
            except ShieldwallError as exc:
                self.stats.errors += 1
                log.warning(
                    "registry poll failed", extra={"event": "poll-error", "registry": watched.label, "error": str(exc)}
                )

    def drain_notifications(self) -> int:
        """Handle every queued push notification; returns how many."""
        handled = 0
        while True:
            try:
                registry_name, event = self._events.get_nowait()
            except queue.Empty:
                return handled
            handled += 1
            watched = self.config.registry(registry_name) if registry_name else self.config.registry(event.host)
            if watched is None:
                log.warning(
                    "notification for a registry that is not configured: ignored",
                    extra={"event": "notification-ignored", "host": event.host, "registry": registry_name},
                )
                continue
            if watched.repositories and not _matches(event.repository, watched.repositories):
                continue
            if not event.tag:  # a manifest pushed by digest only (e.g. the platform images of an index)
                log.debug("untagged push ignored", extra={"event": "notification-untagged", "digest": event.digest})
                continue
            if event.tag and not _matches(event.tag, watched.tags):
                continue
            self._guarded(
                functools.partial(
                    self.handle_image, watched, event.repository, event.tag, event.digest, f"webhook-{event.source}"
                )
            )

    def check_vulndb(self) -> None:
        """Rematch when the advisory database has a build the store has not processed."""
        from shieldwall.vulndb.store import default_db_path

        path = self._vulndb_path or default_db_path()
        try:
            info = path.stat()
        except OSError:
            return
        stamp = (info.st_mtime, info.st_size, info.st_ino)
        if stamp == self._vulndb_stamp:
            return
        if self._remote is not None:
            self._remote.submit("rematch", {"db": str(path), "monitor": True, "actor": ACTOR}, f"rematch:{stamp}")
            self._vulndb_stamp = stamp
            self.stats.rematches += 1
            return
        report = rematch_from_vulndb(self.store, path, alerts=self.config.alerts, actor=ACTOR, only_if_changed=True)
        self._vulndb_stamp = stamp
        if report is None:
            return
        self.stats.rematches += 1
        log.info(
            "advisory database changed: rematched stored inventories",
            extra={"event": "rematch", **{k: v for k, v in report.to_dict().items() if k != "assets"}},
        )

    def rescan_due(self) -> None:
        """Rescan tagged images whose last scan is older than ``rescan_interval``."""
        if self.config.rescan_interval <= 0:
            return
        cutoff = utcnow() - dt.timedelta(seconds=self.config.rescan_interval)
        with self.store.session() as session:
            rows = session.execute(
                select(Asset.id, AssetTag.repository, AssetTag.tag, AssetTag.manifest_digest)
                .join(AssetTag, AssetTag.asset_id == Asset.id)
                .where(
                    Asset.kind == str(AssetKind.IMAGE),
                    Asset.active.is_(True),
                    AssetTag.current.is_(True),
                    AssetTag.manifest_digest != "",
                    Asset.last_seen < cutoff,
                )
            ).all()
        done: set[int] = set()
        for asset_id, repository, tag, digest in rows:
            if asset_id in done:
                continue
            watched = next((w for w in self.config.registries if repository.startswith(w.url + "/")), None)
            if watched is None:
                continue
            done.add(asset_id)
            self.stats.rescans += 1
            self._guarded(
                functools.partial(
                    self._scan_and_record, watched, repository, TagRef(repository, tag, digest), "schedule"
                )
            )

    def dispatch_alerts(self) -> None:
        """Deliver due alerts."""
        stats = self._dispatcher.run_once()
        self.stats.alerts_sent += stats.sent
        if stats.sent or stats.failed or stats.dead:
            log.info(
                "alerts delivered",
                extra={"event": "alerts", "sent": stats.sent, "failed": stats.failed, "dead": stats.dead},
            )

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except ShieldwallError as exc:
            self.stats.errors += 1
            log.warning("step failed", extra={"event": "error", "error": str(exc)})
        except Exception as exc:  # one bad image or request must not stop the service: counted and logged
            self.stats.errors += 1
            log.exception("unexpected error", extra={"event": "error", "error": f"{type(exc).__name__}: {exc}"})

    # -- the loop --------------------------------------------------------------------------------

    def start_webhook(self) -> None:
        """Start the notification endpoint when configured."""
        if self.config.webhook is None or self.webhook is not None:
            return
        token = os.environ.get(self.config.webhook.token_env, "") if self.config.webhook.token_env else ""
        self.webhook = WebhookServer(self.config.webhook, self._events, self.stats, token)
        self.webhook.start()
        log.info("listening for registry notifications", extra={"event": "webhook", "address": self.webhook.address})

    def run(self, stop: threading.Event, *, ready: Callable[[Monitor], None] | None = None) -> None:
        """Run until ``stop`` is set."""
        self.start_webhook()
        audit.record(
            self.store,
            audit.AuditAction.CONFIG_CHANGED,
            "monitor",
            {"started": True, "registries": [r.label for r in self.config.registries]},
            actor=ACTOR,
        )
        log.info("monitor started", extra={"event": "started", "registries": [r.label for r in self.config.registries]})
        if ready is not None:
            ready(self)
        schedule = {"poll": 0.0, "vulndb": 0.0, "rescan": 0.0, "alerts": 0.0}
        periods = {
            "poll": self.config.interval,
            "vulndb": self.config.vulndb_check_interval,
            "rescan": max(self.config.rescan_interval / 10, 1.0) if self.config.rescan_interval else 0.0,
            "alerts": self.config.alert_dispatch_interval,
        }
        steps = {
            "poll": self.poll_once,
            "vulndb": self.check_vulndb,
            "rescan": self.rescan_due,
            "alerts": self.dispatch_alerts,
        }
        try:
            while not stop.is_set():
                now = time.monotonic()
                for name, step in steps.items():
                    if not periods[name] or now < schedule[name] or stop.is_set():
                        continue
                    self._guarded(step)
                    schedule[name] = time.monotonic() + periods[name]
                if self.drain_notifications():
                    self._guarded(self.dispatch_alerts)
                upcoming = [schedule[n] for n in steps if periods[n]]
                wait = min([*upcoming, time.monotonic() + 1.0]) - time.monotonic()
                stop.wait(max(0.05, min(wait, 0.25 if not self._events.empty() else 1.0)))
        finally:
            if self.webhook is not None:
                self.webhook.stop()
            self._dispatcher.close()
            log.info("monitor stopped", extra={"event": "stopped", **self.stats.to_dict()})


# -- logging ----------------------------------------------------------------------------------------

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record``."""
        doc: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, sort_keys=False)


class TextFormatter(logging.Formatter):
    """``time level message key=value...``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record``."""
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extras = " ".join(
            f"{k}={json.dumps(v, default=str) if not isinstance(v, str) else v}"
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{when} {record.levelname.lower():7} {record.getMessage()}" + (f" {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str, level: str = "info") -> None:
    """Send Shieldwall's logs to stderr as JSON lines or text."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("shieldwall")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def effective_config(store: Store, path: Path | None, *, actor: str = "") -> MonitorConfig:
    """The config from ``path`` (saved in the store, audited when it changed) or the one the store kept."""
    from shieldwall.errors import ConfigError
    from shieldwall.service.monitor_config import load_config, parse_config

    if path is not None:
        config, raw = load_config(path)
        stored = store.get_setting(CONFIG_SETTING)
        if stored != raw:
            with store.session() as session:
                store.put_setting(CONFIG_SETTING, raw, session)
                audit.append_event(
                    store,
                    session,
                    audit.AuditAction.CONFIG_CHANGED,
                    "monitor",
                    {"source": str(path), "config": _redacted(raw)},
                    actor=actor,
                )
        return config
    raw_stored = store.get_setting(CONFIG_SETTING)
    if raw_stored is None:
        raise ConfigError("no monitor configuration: pass --config FILE (it is then kept in the store)")
    return parse_config(raw_stored, "the monitor configuration kept in the store")


def _redacted(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {
            k: (
                "***"
                if any(s in str(k).lower() for s in ("password", "token", "secret")) and "env" not in str(k).lower()
                else _redacted(v)
            )
            for k, v in raw.items()
        }
    if isinstance(raw, list):
        return [_redacted(v) for v in raw]
    if isinstance(raw, str) and raw.startswith(("http://", "https://")) and "hooks" in raw:
        return raw.split("://", 1)[0] + "://" + raw.split("://", 1)[1].split("/", 1)[0] + "/***"
    return raw


__all__ = ["Monitor", "MonitorStats", "configure_logging", "effective_config"]
