"""Change windows: the pure classification, and windows stored, listed, closed and audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from shieldwall.errors import InputError
from shieldwall.service import change_windows as cw
from shieldwall.store import Store

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def window(**changes: object) -> cw.ChangeWindow:
    base: dict[str, object] = {
        "id": 1,
        "environment": "prod",
        "host_glob": "web-*",
        "path_glob": "/srv/app",
        "deploy_id": "deploy-1",
        "starts_at": T0,
        "ends_at": T0 + dt.timedelta(minutes=15),
        "created_by": "ci",
        "created_at": T0,
    }
    base.update(changes)
    return cw.ChangeWindow(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "env", "path", "minutes", "expected"),
    [
        ("web-1", "prod", "/srv/app/main.py", 1, True),
        ("web-1", "prod", "/srv/app", 0, True),  # the start is inside
        ("web-1", "prod", "/srv/app/x", 15, False),  # the end is outside
        ("web-1", "prod", "/srv/app/x", -1, False),  # before
        ("db-1", "prod", "/srv/app/x", 1, False),  # other host
        ("web-1", "staging", "/srv/app/x", 1, False),  # other environment
        ("web-1", "prod", "/srv/application", 1, False),  # a sibling, not below
        ("web-1", "prod", "/etc/passwd", 1, False),
    ],
)
def test_classify(host: str, env: str, path: str, minutes: int, expected: bool) -> None:
    result = cw.classify(
        [window()], host=host, environment=env, path=path, observed_at=T0 + dt.timedelta(minutes=minutes)
    )
    assert result.expected is expected
    assert result.label == ("expected (deploy-1)" if expected else "unexpected")


def test_classify_globs_naive_times_and_the_newest_window() -> None:
    windows = [
        window(id=1, path_glob="/srv/*/*.py", deploy_id="old"),
        window(id=2, path_glob="/srv/app", deploy_id="new", starts_at=T0 + dt.timedelta(minutes=1)),
    ]
    at = (T0 + dt.timedelta(minutes=2)).replace(tzinfo=None)  # naive = UTC
    result = cw.classify(windows, host="web-9", environment="prod", path="/srv/app/main.py", observed_at=at)
    assert (result.deploy_id, result.window_id) == ("new", 2)
    other = cw.classify(windows, host="web-9", environment="prod", path="/srv/lib/x.py", observed_at=at)
    assert other.deploy_id == "old"
    assert not cw.classify([], host="web-9", environment="prod", path="/srv/app", observed_at=at).expected


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("30", 30)])
def test_durations(text: str, seconds: int) -> None:
    assert cw.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "15x", "m", "inf", "1e400s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputError):
        cw.parse_duration(text)


def test_windows_in_the_store(store: Store) -> None:
    opened = cw.create_window(
        store,
        environment="prod",
        host_glob="web-*",
        path_glob="/srv/app",
        deploy_id="pipeline-42",
        duration=dt.timedelta(minutes=15),
        actor="ci-bot",
    )
    now = dt.datetime.now(dt.UTC)
    assert opened.ends_at - opened.starts_at == dt.timedelta(minutes=15)
    hit = cw.classify_event(store, host="web-3", environment="prod", path="/srv/app/x", observed_at=now)
    assert hit.expected and hit.deploy_id == "pipeline-42" and hit.window_id == opened.id
    assert not cw.classify_event(store, host="web-3", environment="dev", path="/srv/app/x", observed_at=now).expected
    later = now + dt.timedelta(minutes=20)
    assert not cw.classify_event(store, host="web-3", environment="prod", path="/srv/app/x", observed_at=later).expected
    assert [w.id for w in cw.list_windows(store, environment="prod", active_at=now)] == [opened.id]

    closed = cw.close_window(store, opened.id, actor="ci-bot")
    assert closed.ends_at <= dt.datetime.now(dt.UTC)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert not cw.classify_event(store, host="web-3", environment="prod", path="/srv/app/x", observed_at=after).expected

    from shieldwall.api import queries

    actions = [e.action for e in queries.audit_page(store, limit=10, before=None, action="", actor="ci-bot").items]
    assert cw.AUDIT_CREATED in actions and cw.AUDIT_CLOSED in actions


@pytest.mark.parametrize(
    "changes",
    [
        {"environment": ""},
        {"path_glob": "relative/path"},
        {"deploy_id": "a\nb"},
        {"duration": dt.timedelta(days=8)},
        {"duration": dt.timedelta(0)},
    ],
)
def test_invalid_windows_are_input_errors(store: Store, changes: dict[str, object]) -> None:
    args: dict[str, object] = {
        "environment": "prod",
        "host_glob": "*",
        "path_glob": "/srv",
        "deploy_id": "d",
        "duration": dt.timedelta(minutes=5),
    }
    args.update(changes)
    with pytest.raises(InputError):
        cw.create_window(store, **args)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        cw.close_window(store, 999)


def test_a_window_cannot_be_backdated_to_excuse_past_changes(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    args: dict[str, object] = {
        "environment": "prod",
        "host_glob": "*",
        "path_glob": "/srv",
        "deploy_id": "d",
        "duration": dt.timedelta(minutes=5),
    }
    with pytest.raises(InputError, match="cannot excuse"):
        cw.create_window(store, starts_at=now - dt.timedelta(hours=1), **args)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        cw.create_window(store, starts_at=now + dt.timedelta(days=30), **args)  # type: ignore[arg-type]
    later = cw.create_window(store, starts_at=now + dt.timedelta(hours=1), **args)  # type: ignore[arg-type]
    assert later.starts_at > now
    with pytest.raises(InputError):
        cw.classify_event(
            store,
            host="h",
            environment="prod",
            path="/srv",
            observed_at=dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        )
