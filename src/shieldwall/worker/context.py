"""One worker process's resources, built from its environment on the first task (after the fork).

- the store: ``SHIELDWALL_DATABASE_URL`` (PostgreSQL for a fleet of workers);
- the shared layer cache: Redis at ``SHIELDWALL_CACHE_URL`` (default: the
  broker), entries authenticated with the HMAC key in
  ``SHIELDWALL_CACHE_KEY_FILE`` (or ``SHIELDWALL_CACHE_KEY``). Without a key
  the worker does not touch the shared cache (it cannot verify it) and keeps a
  local one, with a warning;
- a dispatch to queue follow-up tasks (a sweep queues scans, a scan queues its layers:
  ``service.fanout``, layers of at least ``SHIELDWALL_FANOUT_MIN_BYTES``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from shieldwall.cache.shared import MIN_KEY_BYTES, SharedLayerCache
from shieldwall.egress import EgressPolicy
from shieldwall.errors import ConfigError
from shieldwall.service.dispatch import CeleryDispatch, broker_url
from shieldwall.service.scan import ScanOptions
from shieldwall.service.tasks import TaskContext
from shieldwall.store import Store
from shieldwall.target.limits import DEFAULT_LIMITS

log = logging.getLogger("shieldwall.worker")

ENV_CACHE_URL = "SHIELDWALL_CACHE_URL"
ENV_CACHE_KEY = "SHIELDWALL_CACHE_KEY"
ENV_CACHE_KEY_FILE = "SHIELDWALL_CACHE_KEY_FILE"
MAX_KEY_FILE = 4096


def cache_key_bytes(environ: Mapping[str, str]) -> bytes | None:
    """The layer-cache HMAC key from the worker's configuration (None when not configured)."""
    path = environ.get(ENV_CACHE_KEY_FILE, "").strip()
    if path:
        try:
            data = Path(path).expanduser().read_bytes()[:MAX_KEY_FILE].strip()
        except OSError as exc:
            raise ConfigError(f"{ENV_CACHE_KEY_FILE}: cannot read {path}: {exc.strerror}") from None
    else:
        data = environ.get(ENV_CACHE_KEY, "").strip().encode()
    if not data:
        return None
    if len(data) < MIN_KEY_BYTES:
        raise ConfigError(f"the layer-cache key must have at least {MIN_KEY_BYTES} bytes")
    return data


def build_context(environ: Mapping[str, str] | None = None) -> TaskContext:
    """A TaskContext for this process."""
    env = os.environ if environ is None else environ
    url = broker_url(env)
    store = Store.open(environ=env)
    # a worker runs what the API and the monitor hand it: the server's egress policy applies
    limits = dataclasses.replace(DEFAULT_LIMITS, egress=EgressPolicy.server(env))
    options = ScanOptions(limits=limits)
    secret = cache_key_bytes(env)
    cache_url = env.get(ENV_CACHE_URL, "").strip() or url
    if secret is not None and cache_url:
        import redis

        client = redis.Redis.from_url(cache_url, socket_timeout=30, health_check_interval=30)
        options = ScanOptions(limits=limits, layer_cache=SharedLayerCache(client, secret))
    else:
        log.warning(
            "no %s/%s: the shared layer cache is off (it cannot be verified); using this worker's own cache",
            ENV_CACHE_KEY_FILE,
            ENV_CACHE_KEY,
        )
    dispatch = CeleryDispatch(url, env) if url else None
    if dispatch is not None and isinstance(options.layer_cache, SharedLayerCache):
        from shieldwall.service.fanout import FanOutScan, min_bytes

        # a registry image's layers are analysed by several workers, each layer once (service/fanout.py)
        scan = FanOutScan(dispatch, options.layer_cache, fanout_min_bytes=min_bytes(env))
        return TaskContext(store=store, options=options, dispatch=dispatch, scan=scan)
    return TaskContext(store=store, options=options, dispatch=dispatch)
