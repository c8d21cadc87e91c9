"""The one Celery task every piece of work runs through: attempts, backoff, dead letters, database outages.

``run`` is called with a task name, a JSON payload and an idempotency key:

1. ``runs.begin`` counts the delivery in the store. When the database is
   unreachable the task is retried with a capped exponential backoff (not
   counted): workers wait for PostgreSQL and resume.
2. A run already finished (the broker delivered it again) returns its result. A
   run whose worker still beats (a thread refreshes the row every
   ``SHIELDWALL_TASK_HEARTBEAT`` seconds, default 10) is busy: the broker handed
   out a second copy after its visibility timeout; that copy is retried later,
   neither counted nor run.
3. Past ``max_attempts`` deliveries that never finished (the worker died on
   it each time, its heartbeat stopped: a poison input) the run is dead-lettered without running it again.
4. The handler runs. An ``InputError`` (not a registry error) is permanent:
   dead-lettered at once with its message. Another error is retried with
   backoff (``retry_base * 2**(attempt-1)``, capped), and dead-lettered after
   ``max_attempts``.

Late acknowledgement and ``reject_on_worker_lost`` (``service.dispatch``) put a
task whose worker died back on the queue; the visibility timeout hands it to
another worker when the whole process died.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from shieldwall.errors import InputError, RegistryError
from shieldwall.service.tasks import Handler, TaskContext
from shieldwall.worker import runs
from shieldwall.worker.runs import RunStatus

log = logging.getLogger("shieldwall.worker")

ENV_MAX_ATTEMPTS = "SHIELDWALL_TASK_MAX_ATTEMPTS"
ENV_RETRY_BASE = "SHIELDWALL_TASK_RETRY_BASE"
ENV_HEARTBEAT = "SHIELDWALL_TASK_HEARTBEAT"
MAX_BACKOFF = 300.0
DB_MAX_BACKOFF = 30.0
DB_MAX_RETRIES = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how fast a failing task is tried again."""

    max_attempts: int = 3
    retry_base: float = 5.0
    heartbeat: float = 10.0

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a running task's worker is taken for dead."""
        return self.heartbeat * 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """``SHIELDWALL_TASK_MAX_ATTEMPTS`` and ``SHIELDWALL_TASK_RETRY_BASE`` (seconds)."""
        env = os.environ if environ is None else environ
        attempts = env.get(ENV_MAX_ATTEMPTS, "").strip()
        base = env.get(ENV_RETRY_BASE, "").strip()
        beat = env.get(ENV_HEARTBEAT, "").strip()
        return cls(
            max_attempts=max(1, int(attempts)) if attempts.isdigit() else 3,
            retry_base=max(0.1, float(base)) if base.replace(".", "", 1).isdigit() else 5.0,
            heartbeat=max(0.2, float(beat)) if beat.replace(".", "", 1).isdigit() else 10.0,
        )

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``."""
        return float(min(self.retry_base * 2 ** max(0, attempt - 1), MAX_BACKOFF))


class Retry(Exception):
    """Ask the Celery layer to publish the task again after ``countdown`` seconds."""

    def __init__(self, countdown: float, cause: BaseException, *, database: bool = False) -> None:
        super().__init__(f"retry in {countdown:.1f}s: {cause}")
        self.countdown = countdown
        self.cause = cause
        self.database = database


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run(
    ctx: TaskContext,
    tasks: Mapping[str, Handler],
    policy: RetryPolicy,
    task_id: str,
    name: str,
    payload: Mapping[str, Any],
    key: str,
    db_retries: int = 0,
) -> dict[str, Any]:
    """Run one delivery of a task (see the module docstring); raises ``Retry`` to be published again."""
    try:
        attempt = runs.begin(ctx.store, task_id, name, key, payload, _worker_name(), policy.stale_after)
    except (OperationalError, DBAPIError) as exc:
        log.warning("database unavailable (%s): task %s backs off", type(exc).__name__, task_id)
        raise Retry(min(policy.retry_base * 2 ** min(db_retries, 10), DB_MAX_BACKOFF), exc, database=True) from exc
    if attempt.status is RunStatus.BUSY:  # a second copy while its worker is alive: look again later
        raise Retry(policy.stale_after, RuntimeError(f"task {task_id} is running on another worker"))
    if attempt.status is not RunStatus.RUNNING:
        return {"duplicate": True, "status": str(attempt.status), **attempt.result}
    if attempt.attempts > policy.max_attempts:
        error = f"gave up after {attempt.attempts - 1} deliveries that never finished (the worker died on it)"
        if attempt.error:
            error += f"; last error: {attempt.error}"
        runs.finish(ctx.store, task_id, RunStatus.DEAD, error=error)
        log.error("task %s (%s) dead-lettered: %s", task_id, name, error)
        return {"dead": True}
    handler = tasks.get(name)
    if handler is None:
        runs.finish(ctx.store, task_id, RunStatus.DEAD, error=f"unknown task {name!r}")
        return {"dead": True}
    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(ctx, task_id, policy.heartbeat, stop), daemon=True)
    beating.start()
    try:
        result = handler(ctx, payload)
    except (OperationalError, DBAPIError) as exc:
        with contextlib.suppress(OperationalError, DBAPIError):  # still down: this delivery stays counted
            runs.uncount(ctx.store, task_id)
        raise Retry(min(policy.retry_base * 2 ** min(db_retries, 10), DB_MAX_BACKOFF), exc, database=True) from exc
    except InputError as exc:
        if not isinstance(exc, RegistryError):
            runs.finish(ctx.store, task_id, RunStatus.DEAD, error=_describe(exc))
            log.warning("task %s (%s) failed permanently: %s", task_id, name, exc)
            return {"dead": True}
        return _retry_or_die(ctx, policy, task_id, name, attempt.attempts, exc)
    except Exception as exc:  # any crash of the handler: retried, then dead-lettered with its error
        return _retry_or_die(ctx, policy, task_id, name, attempt.attempts, exc)
    finally:
        stop.set()
        beating.join()
    runs.finish(ctx.store, task_id, RunStatus.SUCCEEDED, result=result, error="")
    return result


def _beat(ctx: TaskContext, task_id: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            runs.heartbeat(ctx.store, task_id)
        except (OperationalError, DBAPIError) as exc:
            log.warning("heartbeat of task %s failed: %s", task_id, type(exc).__name__)


def _retry_or_die(
    ctx: TaskContext, policy: RetryPolicy, task_id: str, name: str, attempts: int, exc: BaseException
) -> dict[str, Any]:
    error = _describe(exc)
    if attempts >= policy.max_attempts:
        runs.finish(ctx.store, task_id, RunStatus.DEAD, error=f"failed {attempts} times; last error: {error}")
        log.error("task %s (%s) dead-lettered after %d attempts: %s", task_id, name, attempts, error)
        return {"dead": True}
    runs.finish(ctx.store, task_id, RunStatus.RETRYING, error=error)
    countdown = policy.backoff(attempts)
    log.warning("task %s (%s) attempt %d failed (%s); retrying in %.1fs", task_id, name, attempts, error, countdown)
    raise Retry(countdown, exc) from exc
