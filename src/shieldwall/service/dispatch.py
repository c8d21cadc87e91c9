"""Where work runs: in this process (no broker, exactly as before) or as Celery tasks on workers.

``SHIELDWALL_BROKER_URL=redis://host:6379/0`` turns the API's registry scan
jobs, the monitor's scans, sweeps and scheduled rescans, and rematch after an
advisory-database update into tasks that ``shieldwall worker`` processes
run. Without it ``remote_dispatch()`` is None and every caller keeps its
in-process path.

Every task is one generic Celery task (``shieldwall.run``) that carries the
name of a handler in ``service.tasks.TASKS``, a JSON payload and an
idempotency key; the worker (``worker.runner``) looks the handler up, counts
attempts, retries with backoff and dead-letters. A new kind of work (agent
event ingestion, for one) is one more handler in that table.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from shieldwall.errors import ConfigError, ShieldwallError

if TYPE_CHECKING:
    from celery import Celery

ENV_BROKER_URL = "SHIELDWALL_BROKER_URL"
ENV_VISIBILITY_TIMEOUT = "SHIELDWALL_BROKER_VISIBILITY_TIMEOUT"
TASK_NAME = "shieldwall.run"
QUEUE = "shieldwall"
DEFAULT_VISIBILITY_TIMEOUT = 3600


class TaskDispatch(Protocol):
    """Something that runs a named task with a JSON payload, now or on a worker."""

    def submit(self, name: str, payload: Mapping[str, Any], key: str = "") -> str:
        """Queue (or run) a task; returns its ID."""


def broker_url(environ: Mapping[str, str] | None = None) -> str:
    """``SHIELDWALL_BROKER_URL`` ('' when unset); only ``redis://`` and ``rediss://`` brokers are supported."""
    env = os.environ if environ is None else environ
    url = env.get(ENV_BROKER_URL, "").strip()
    if url and not url.startswith(("redis://", "rediss://")):
        raise ConfigError(f"{ENV_BROKER_URL}: only redis:// or rediss:// brokers are supported")
    return url


def visibility_timeout(environ: Mapping[str, str] | None = None) -> int:
    """Seconds before Redis hands an unacknowledged task (its worker died) to another worker."""
    env = os.environ if environ is None else environ
    text = env.get(ENV_VISIBILITY_TIMEOUT, "").strip()
    if not text:
        return DEFAULT_VISIBILITY_TIMEOUT
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{ENV_VISIBILITY_TIMEOUT}: a whole number of seconds above zero")
    return int(text)


def make_celery(url: str, environ: Mapping[str, str] | None = None) -> Celery:
    """A Celery app for ``url``: late acknowledgement, requeue on a lost worker, one task at a time each."""
    from celery import Celery

    app = Celery("shieldwall", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_create_missing_queues=True,
        broker_transport_options={"visibility_timeout": visibility_timeout(environ)},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_publish_retry=True,
    )
    return app


class CeleryDispatch:
    """Sends tasks to the broker; ``shieldwall worker`` processes run them."""

    def __init__(self, url: str, environ: Mapping[str, str] | None = None) -> None:
        self.url = url
        self._app = make_celery(url, environ)

    def submit(self, name: str, payload: Mapping[str, Any], key: str = "") -> str:
        """Publish one task (fails with a ShieldwallError when the broker cannot be reached)."""
        task_id = str(uuid.uuid4())
        try:
            self._app.send_task(TASK_NAME, args=[name, dict(payload), key], task_id=task_id, queue=QUEUE)
        except Exception as exc:  # kombu raises its own and socket errors: one clear error for callers
            raise ShieldwallError(f"cannot queue task {name!r} on the broker: {type(exc).__name__}: {exc}") from exc
        return task_id

    def close(self) -> None:
        """Release the broker connections."""
        self._app.close()


class InlineDispatch:
    """Runs a task's handler in this process at once (no broker): the single-user path of a sweep."""

    def __init__(self, run: Callable[[str, Mapping[str, Any], str], Mapping[str, Any]]) -> None:
        self._run = run
        self.results: list[Mapping[str, Any]] = []

    def submit(self, name: str, payload: Mapping[str, Any], key: str = "") -> str:
        """Run now; the result is kept in ``results``."""
        self.results.append(self._run(name, payload, key))
        return f"inline-{len(self.results)}"


def remote_dispatch(environ: Mapping[str, str] | None = None) -> CeleryDispatch | None:
    """A Celery dispatch when a broker is configured, else None (work stays in-process)."""
    url = broker_url(environ)
    return CeleryDispatch(url, environ) if url else None
