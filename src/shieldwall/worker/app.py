"""The worker's Celery app: the ``shieldwall.run`` task bound to this process's context, and its start."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, OperationalError

from shieldwall.errors import ConfigError
from shieldwall.service.dispatch import TASK_NAME, broker_url, make_celery
from shieldwall.service.tasks import TaskContext, load_tasks
from shieldwall.worker.runner import DB_MAX_BACKOFF, Retry, RetryPolicy, run

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("shieldwall.worker")

_CONTEXT: TaskContext | None = None


def _context() -> TaskContext:
    global _CONTEXT
    if _CONTEXT is None:  # built lazily: after the prefork pool forked this process
        from shieldwall.worker.context import build_context

        _CONTEXT = build_context()
    return _CONTEXT


def worker_app(environ: Mapping[str, str] | None = None) -> Celery:
    """The Celery app with the generic task registered."""
    url = broker_url(environ)
    if not url:
        raise ConfigError("shieldwall worker needs SHIELDWALL_BROKER_URL (redis://host:port/db)")
    app = make_celery(url, environ)
    tasks = load_tasks()
    policy = RetryPolicy.from_env(environ)

    @app.task(name=TASK_NAME, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def shieldwall_run(self: Any, name: str, payload: dict[str, Any], key: str = "") -> dict[str, Any]:
        db_retries = int(self.request.retries or 0)
        try:
            try:
                ctx = _context()
            except (OperationalError, DBAPIError) as exc:  # the store is down at start: back off, then resume
                log.warning("store unavailable (%s): backing off", type(exc).__name__)
                raise Retry(
                    min(policy.retry_base * 2 ** min(db_retries, 10), DB_MAX_BACKOFF), exc, database=True
                ) from exc
            return run(ctx, tasks, policy, str(self.request.id), name, payload, key, db_retries)
        except Retry as retry:
            raise self.retry(countdown=retry.countdown, exc=retry.cause, max_retries=None) from None

    return app


def _warm(**_: Any) -> None:
    """Open the store and load the analyzers before the first task (a layer task that starts late is useless)."""
    try:
        ctx = _context()
        from shieldwall.analyze.registry import load_analyzers

        # the first load imports and compiles every analyzer's rules (seconds): pay it before the first task
        load_analyzers(include_plugins=ctx.options.include_plugins, scanners=ctx.options.scanners)
    except Exception as exc:  # the store may be down: the first task builds it and backs off as usual
        log.warning("worker context not ready at start (%s): built on the first task", type(exc).__name__)


def start(concurrency: int, pool: str, loglevel: str, hostname: str = "") -> None:
    """Run a worker in the foreground until it is stopped (SIGTERM: finish the current task, then exit)."""
    from celery.signals import worker_process_init, worker_ready

    # the context belongs to the process that runs tasks: a prefork child (after the fork), else the worker itself
    (worker_process_init if pool == "prefork" else worker_ready).connect(_warm, weak=False)
    app = worker_app()
    argv = ["worker", f"--concurrency={max(1, concurrency)}", f"--pool={pool}", f"--loglevel={loglevel}"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "shieldwall"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    log.info("worker starting (pid %d)", os.getpid())
    app.worker_main(argv)
