"""Changes the pipeline expects: change windows announced from CI, and the classification of FIM events.

A deploy announces *where* and *for how long* files will change
(``shieldwall fim expect --env prod --host 'web-*' --path /srv/app --for 15m
--deploy-id X`` or ``POST /api/v1/fim/windows``). A FIM event whose host,
environment, path and observation time fall inside a window is *expected*
and tagged with the deploy ID; every other one is *unexpected* and alerts.
The agent's baseline moves forward after every reported change either way,
so the deployed state is the new baseline (the "rebase") without a rescan.

``classify`` is a pure function over windows already loaded; the event
ingestion calls ``classify_event`` (one query per event, or load
``active_windows`` once per batch and call ``classify``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from shieldwall.errors import InputError
from shieldwall.store import Store, audit
from shieldwall.store.schema import ChangeWindow as ChangeWindowRow

MAX_WINDOW = dt.timedelta(days=7)
"""The longest window one call may open (a week-long "expected" is a blind spot, not a deploy)."""

MAX_BACKDATE = dt.timedelta(minutes=5)
"""How far in the past a window may start (clock skew): a window can never excuse changes already made."""

MAX_LEAD = dt.timedelta(days=7)
"""How far in the future a window may start."""

AUDIT_CREATED = "fim.window.created"
AUDIT_CLOSED = "fim.window.closed"


@dataclass(frozen=True, slots=True)
class ChangeWindow:
    """An announced change: environment, host and path globs, deploy ID, [starts_at, ends_at)."""

    id: int
    environment: str
    host_glob: str
    path_glob: str
    deploy_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    created_by: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Classification:
    """Whether one FIM event was expected, and by which deploy and window."""

    expected: bool
    deploy_id: str = ""
    window_id: int | None = None

    @property
    def label(self) -> str:
        """``expected (<deploy id>)`` or ``unexpected``."""
        return f"expected ({self.deploy_id})" if self.expected else "unexpected"


def path_matches(path: str, pattern: str) -> bool:
    """A glob over the whole path, or (for a pattern without glob characters) the path itself and all below it."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    base = pattern.rstrip("/") or "/"
    return path == base or path.startswith(base.rstrip("/") + "/")


def classify(
    windows: Iterable[ChangeWindow],
    *,
    host: str,
    environment: str,
    path: str,
    observed_at: dt.datetime,
) -> Classification:
    """Expected (the newest matching window's deploy ID) or unexpected, for one FIM event.

    A window matches when the environment is equal, the host name matches its
    host glob, the path matches its path glob (see ``path_matches``) and
    ``starts_at <= observed_at < ends_at``. Naive times are taken as UTC.
    """
    when = _utc(observed_at)
    best: ChangeWindow | None = None
    for window in windows:
        if window.environment != environment or not fnmatch.fnmatchcase(host, window.host_glob):
            continue
        if not (_utc(window.starts_at) <= when < _utc(window.ends_at)) or not path_matches(path, window.path_glob):
            continue
        if best is None or _utc(window.starts_at) > _utc(best.starts_at):
            best = window
    if best is None:
        return Classification(False)
    return Classification(True, best.deploy_id, best.id)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _out(row: ChangeWindowRow) -> ChangeWindow:
    return ChangeWindow(
        id=row.id,
        environment=row.environment,
        host_glob=row.host_glob,
        path_glob=row.path_glob,
        deploy_id=row.deploy_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _check_text(label: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit or any(ord(c) < 32 for c in value):
        raise InputError(f"{label}: 1 to {limit} printable characters")
    return value


def create_window(
    store: Store,
    *,
    environment: str,
    host_glob: str,
    path_glob: str,
    deploy_id: str,
    duration: dt.timedelta,
    starts_at: dt.datetime | None = None,
    actor: str = "",
) -> ChangeWindow:
    """Open a window (audited); ``InputError`` for an empty field, a relative path or a bad duration."""
    environment = _check_text("environment", environment, 128)
    host_glob = _check_text("host", host_glob, 256)
    path_glob = _check_text("path", path_glob, 1024)
    deploy_id = _check_text("deploy id", deploy_id, 256)
    if not path_glob.startswith(("/", "*")):
        raise InputError("path: an absolute path or glob (/srv/app, /srv/app/*.py)")
    if not dt.timedelta(seconds=1) <= duration <= MAX_WINDOW:
        raise InputError(f"duration: between 1 second and {MAX_WINDOW}")
    now = dt.datetime.now(dt.UTC)
    try:
        start = _utc(starts_at) if starts_at is not None else now
    except OverflowError:
        raise InputError("starts_at: out of range") from None
    if not now - MAX_BACKDATE <= start <= now + MAX_LEAD:
        raise InputError(
            f"starts_at: between {MAX_BACKDATE} before now and {MAX_LEAD} after it "
            "(a window cannot excuse changes that already happened)"
        )
    actor = actor or audit.default_actor()
    with store.session() as session:
        row = ChangeWindowRow(
            environment=environment,
            host_glob=host_glob,
            path_glob=path_glob,
            deploy_id=deploy_id,
            starts_at=start,
            ends_at=start + duration,
            created_by=actor[:256],
            created_at=now,
        )
        session.add(row)
        session.flush()
        window = _out(row)
        audit.append_event(
            store,
            session,
            AUDIT_CREATED,
            f"fim-window:{row.id}",
            {
                "environment": environment,
                "host": host_glob,
                "path": path_glob,
                "deploy_id": deploy_id,
                "starts_at": start.isoformat(),
                "ends_at": (start + duration).isoformat(),
            },
            actor=actor,
        )
    return window


def close_window(store: Store, window_id: int, *, actor: str = "") -> ChangeWindow:
    """End a window now (a deploy that finished early); ``InputError`` when there is no such window."""
    actor = actor or audit.default_actor()
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        row = session.get(ChangeWindowRow, window_id, with_for_update=True)
        if row is None:
            raise InputError(f"no change window {window_id}")
        if _utc(row.ends_at) > now:
            row.ends_at = max(now, _utc(row.starts_at))
        session.flush()
        window = _out(row)
        audit.append_event(
            store, session, AUDIT_CLOSED, f"fim-window:{row.id}", {"ends_at": window.ends_at.isoformat()}, actor=actor
        )
    return window


def list_windows(
    store: Store, *, environment: str = "", active_at: dt.datetime | None = None, limit: int = 500
) -> list[ChangeWindow]:
    """Windows, newest first; only one environment's, and only those open at ``active_at``, when given."""
    query = select(ChangeWindowRow).order_by(ChangeWindowRow.starts_at.desc(), ChangeWindowRow.id.desc())
    if environment:
        query = query.where(ChangeWindowRow.environment == environment)
    if active_at is not None:
        when = _utc(active_at)
        query = query.where(ChangeWindowRow.starts_at <= when, ChangeWindowRow.ends_at > when)
    with store.session() as session:
        return [_out(r) for r in session.scalars(query.limit(limit))]


def windows_overlapping(
    store: Store, environment: str, start: dt.datetime, end: dt.datetime, limit: int = 500
) -> list[ChangeWindow]:
    """The windows of ``environment`` open at any instant of [start, end] (one query for a batch of events)."""
    query = (
        select(ChangeWindowRow)
        .where(
            ChangeWindowRow.environment == environment,
            ChangeWindowRow.starts_at <= _utc(end),
            ChangeWindowRow.ends_at > _utc(start),
        )
        .order_by(ChangeWindowRow.starts_at.desc(), ChangeWindowRow.id.desc())
        .limit(limit)
    )
    with store.session() as session:
        return [_out(r) for r in session.scalars(query)]


def active_windows(store: Store, environment: str, at: dt.datetime) -> Sequence[ChangeWindow]:
    """The windows of ``environment`` open at ``at`` (what ``classify`` needs for events observed then)."""
    return list_windows(store, environment=environment, active_at=at)


def classify_event(store: Store, *, host: str, environment: str, path: str, observed_at: dt.datetime) -> Classification:
    """``classify`` against the store's windows (the entry point for the agent event ingestion)."""
    try:
        _utc(observed_at)
    except OverflowError:
        raise InputError("observed_at: out of range") from None
    windows = active_windows(store, environment, observed_at)
    return classify(windows, host=host, environment=environment, path=path, observed_at=observed_at)


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``15m``, ``2h``, ``1d`` or plain seconds; ``InputError`` otherwise."""
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if value and value[-1] in units:
            return dt.timedelta(seconds=float(value[:-1]) * units[value[-1]])
        return dt.timedelta(seconds=float(value))
    except (ValueError, OverflowError):
        raise InputError(f"not a duration: {text!r} (use 90s, 15m, 2h or 1d)") from None
