"""The task runner's bookkeeping on a real store: attempts, backoff, dead letters, duplicates, outages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from shieldwall.errors import InputError, RegistryError
from shieldwall.service.scan import ScanOptions
from shieldwall.service.tasks import Handler, TaskContext
from shieldwall.store import Store
from shieldwall.worker import runs
from shieldwall.worker.runner import Retry, RetryPolicy, run

POLICY = RetryPolicy(max_attempts=3, retry_base=2.0)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[TaskContext]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "key.pem")
    try:
        yield TaskContext(store=store, options=ScanOptions())
    finally:
        store.close()


class Counting:
    """A handler that fails ``failures`` times with ``error``, then succeeds."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls = 0
        self.failures = failures
        self.error = error or RuntimeError("analyser crashed")

    def __call__(self, _ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"echo": payload.get("x")}


def _tasks(handler: Handler) -> dict[str, Handler]:
    return {"t": handler}


def test_success_is_recorded_and_a_second_delivery_does_not_run_again(ctx: TaskContext) -> None:
    handler = Counting()
    assert run(ctx, _tasks(handler), POLICY, "id1", "t", {"x": 7}, "k") == {"echo": 7}
    again = run(ctx, _tasks(handler), POLICY, "id1", "t", {"x": 7}, "k")
    assert again["duplicate"] is True and again["echo"] == 7
    assert handler.calls == 1
    assert runs.run_counts(ctx.store) == {"succeeded": 1}


def test_errors_retry_with_growing_backoff_then_dead_letter(ctx: TaskContext) -> None:
    handler = Counting(failures=10)
    countdowns = []
    for _ in range(2):
        with pytest.raises(Retry) as raised:
            run(ctx, _tasks(handler), POLICY, "id2", "t", {}, "k")
        countdowns.append(raised.value.countdown)
    assert countdowns == [2.0, 4.0]
    assert run(ctx, _tasks(handler), POLICY, "id2", "t", {}, "k") == {"dead": True}
    assert handler.calls == 3
    [letter] = runs.dead_letters(ctx.store)
    assert letter["attempts"] == 3 and "RuntimeError: analyser crashed" in letter["error"]
    # delivered once more (the broker had a copy): stays dead, the handler is not called
    assert run(ctx, _tasks(handler), POLICY, "id2", "t", {}, "k")["status"] == "dead"
    assert handler.calls == 3


def test_a_retry_that_succeeds_is_not_a_dead_letter(ctx: TaskContext) -> None:
    handler = Counting(failures=1)
    with pytest.raises(Retry):
        run(ctx, _tasks(handler), POLICY, "id3", "t", {"x": 1}, "k")
    assert run(ctx, _tasks(handler), POLICY, "id3", "t", {"x": 1}, "k") == {"echo": 1}
    assert runs.dead_letters(ctx.store) == []


def test_input_error_is_dead_at_once_but_a_registry_error_is_retried(ctx: TaskContext) -> None:
    assert run(ctx, _tasks(Counting(5, InputError("not an image"))), POLICY, "id4", "t", {}, "k") == {"dead": True}
    with pytest.raises(Retry):
        run(ctx, _tasks(Counting(5, RegistryError("HTTP 503"))), POLICY, "id5", "t", {}, "k")
    assert [d["id"] for d in runs.dead_letters(ctx.store)] == ["id4"]


def test_deliveries_that_died_mid_task_end_in_the_dead_letter_state(ctx: TaskContext) -> None:
    # three deliveries started and never finished: the worker was killed on this input each time
    for _ in range(3):  # stale_after=0: each earlier worker stopped beating (it is dead)
        runs.begin(ctx.store, "id6", "t", "k", {"digest": "sha256:x"}, "host:1", stale_after=0)
    stale = RetryPolicy(max_attempts=3, retry_base=2.0, heartbeat=0.0)
    handler = Counting()
    assert run(ctx, _tasks(handler), stale, "id6", "t", {"digest": "sha256:x"}, "k") == {"dead": True}
    assert handler.calls == 0
    [letter] = runs.dead_letters(ctx.store)
    assert "never finished" in letter["error"] and letter["payload"] == {"digest": "sha256:x"}


def test_a_copy_delivered_while_its_worker_is_alive_is_neither_counted_nor_run(ctx: TaskContext) -> None:
    runs.begin(ctx.store, "id9", "t", "k", {}, "host:1")  # a live worker started it a moment ago
    handler = Counting()
    with pytest.raises(Retry) as raised:
        run(ctx, _tasks(handler), POLICY, "id9", "t", {}, "k")
    assert raised.value.countdown == POLICY.stale_after
    assert handler.calls == 0
    runs.heartbeat(ctx.store, "id9")
    with ctx.store.session() as session:
        from shieldwall.store.schema import TaskRun

        row = session.get(TaskRun, "id9")
        assert row is not None and row.attempts == 1 and row.status == "running"


def test_database_outage_in_a_handler_is_retried_and_not_counted(ctx: TaskContext) -> None:
    outage = OperationalError("SELECT 1", {}, Exception("connection refused"))
    handler = Counting(failures=1, error=outage)
    with pytest.raises(Retry) as raised:
        run(ctx, _tasks(handler), POLICY, "id7", "t", {}, "k")
    assert raised.value.database
    assert run(ctx, _tasks(handler), POLICY, "id7", "t", {}, "k") == {"echo": None}
    with ctx.store.session() as session:
        from shieldwall.store.schema import TaskRun

        row = session.get(TaskRun, "id7")
        assert row is not None and row.attempts == 1


def test_unknown_task_is_a_dead_letter(ctx: TaskContext) -> None:
    assert run(ctx, {}, POLICY, "id8", "nope", {}, "") == {"dead": True}
    assert "unknown task" in runs.dead_letters(ctx.store)[0]["error"]


def test_policy_from_environment() -> None:
    policy = RetryPolicy.from_env(
        {"SHIELDWALL_TASK_MAX_ATTEMPTS": "5", "SHIELDWALL_TASK_RETRY_BASE": "0.5", "SHIELDWALL_TASK_HEARTBEAT": "2"}
    )
    assert (policy.max_attempts, policy.retry_base, policy.stale_after) == (5, 0.5, 6.0)
    assert RetryPolicy.from_env({}) == RetryPolicy()
    assert RetryPolicy(retry_base=100).backoff(10) == 300.0
