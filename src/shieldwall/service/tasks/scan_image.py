"""``scan.image``: scan one registry digest once and record it with every tag that points at it.

Payload: ``repository`` (``host/name``), ``digest``, ``tags`` (tag names in that
repository), ``trigger``, ``environment``, ``request`` (what asked: ``initial``
for the first scan of a digest, ``schedule:<period>`` for a rescan,
``job:<id>``...) and ``monitor`` (true: golden rules, scanners and alerts come
from the monitor configuration kept in the store). An ``initial`` request for
a digest the store already knows only records the new tags: the same digest
is never scanned twice. The recording is idempotent per (digest, request).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shieldwall.errors import InputError
from shieldwall.service.tasks.context import TaskContext
from shieldwall.store.records import GoldenRules, TagRef, find_known_image, record_scan, record_tag

ACTOR = "shieldwall-worker"


def _text(payload: Mapping[str, Any], name: str, default: str = "") -> str:
    value = payload.get(name, default)
    if not isinstance(value, str):
        raise InputError(f"task payload: {name} must be a string")
    return value


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Scan (or only tag) one digest; returns the outcome and the scan ID."""
    repository = _text(payload, "repository")
    digest = _text(payload, "digest")
    request = _text(payload, "request", "initial") or "initial"
    trigger = _text(payload, "trigger", "sweep")
    environment = _text(payload, "environment")
    tags = [str(t) for t in payload.get("tags", []) if isinstance(t, str)]
    if not repository or not digest.startswith("sha"):
        raise InputError("task payload: repository and a manifest digest are required")
    golden, alerts, scanners = GoldenRules(), None, ctx.options.scanners
    if payload.get("monitor"):
        from shieldwall.service.monitor import effective_config

        config = effective_config(ctx.store, None)
        golden = GoldenRules(dict(config.golden.labels), config.golden.tag_patterns)
        alerts, scanners = config.alerts, frozenset(config.scanners)
    refs = [TagRef(repository, tag, digest) for tag in tags]
    if request == "initial":
        tagged = _record_known(ctx, repository, digest, refs, trigger, golden)
        if tagged is not None:
            return {"outcome": "known" if not tagged else "tagged", "tags": tagged}
    text = f"registry:{repository}@{digest}"
    result = ctx.scan(text, dataclasses.replace(ctx.options, scanners=scanners))
    record = record_scan(
        ctx.store,
        result,
        trigger=trigger,
        actor=ACTOR,
        environment=environment,
        tags=refs,
        scanners=scanners,
        golden=golden,
        target_text=text,
        alerts=alerts,
        request_key=request,
    )
    if record.duplicate:  # another delivery recorded this request: only make sure the tags are there
        _record_known(ctx, repository, digest, refs, trigger, golden)
    return {
        "outcome": "duplicate" if record.duplicate else "scanned",
        "scan_id": record.scan_id,
        "asset_id": record.asset_id,
        "packages": len(result.packages),
        "findings": len(result.findings),
    }


def _record_known(
    ctx: TaskContext, repository: str, digest: str, refs: list[TagRef], trigger: str, golden: GoldenRules
) -> list[str] | None:
    """Record the tags of an already scanned digest; None when the digest is new."""
    added: list[str] = []
    for ref in refs or [TagRef(repository, "", digest)]:
        with ctx.store.session() as session:
            known = find_known_image(session, repository, ref.tag, digest)
        if known is None:
            return None
        if not known[1] and ref.tag:
            record_tag(ctx.store, known[0], ref, trigger=trigger, actor=ACTOR, golden=golden)
            added.append(ref.tag)
    return added
