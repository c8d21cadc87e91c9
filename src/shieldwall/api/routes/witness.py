"""A witness for another Shieldwall's audit trail: checkpoints accepted append-only, served back as JSON lines.

``POST /witness/{trail}/checkpoints`` (operator token) takes signed
checkpoints another instance sends (``store/http_witness.py``) and appends
them to ``<data dir>/witness/<trail>.jsonl`` (made append-only with
``chattr +a`` where possible). Append-only means: a checkpoint already seen
is accepted again only with the same hash (a retry); a different hash for a
witnessed event, or a checkpoint before the last one witnessed that was
never seen, is refused with 409 and nothing is written, so a rewritten
trail cannot rewrite its witness. There is no route to change or delete
anything. ``GET`` (viewer token) serves every line, the format
``shieldwall audit verify --witness URL`` reads.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from shieldwall import paths
from shieldwall.api.auth import Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import json_errors
from shieldwall.api.schemas import ErrorOut
from shieldwall.errors import InputError
from shieldwall.store.witness import MAX_WITNESS_BYTES, WitnessEntry, _parse_lines, append_witness

router = APIRouter(tags=["audit"])

TrailPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The witnessed trail")]
_HEX = re.compile(r"^[0-9a-f]{64}$")


class CheckpointIn(BaseModel):
    """One signed checkpoint of the witnessed trail."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, le=2**62)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    at: str = Field(default="", max_length=64)
    key_id: str = Field(default="", max_length=128)
    signature: str = Field(default="", max_length=1024)


class CheckpointsIn(BaseModel):
    """Checkpoints to witness, oldest first."""

    model_config = ConfigDict(extra="forbid")

    checkpoints: list[CheckpointIn] = Field(min_length=1, max_length=1000)


class WitnessOut(BaseModel):
    """What the witness holds after the request."""

    accepted: int
    already_witnessed: int
    last_seq: int


def _file(request: Request, trail: str) -> FsPath:
    base = context(request).settings.data_dir or paths.data_dir()
    return base / "witness" / f"{trail}.jsonl"


def _read(path: FsPath) -> list[WitnessEntry]:
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_WITNESS_BYTES:
        raise HTTPException(507, "the witness file is full")
    try:
        return _parse_lines(path.read_text(encoding="utf-8"), path.name)
    except InputError as exc:
        raise HTTPException(500, f"the witness file is damaged: {exc}") from None


class _Locked:
    """An exclusive lock on the trail's witness (one writer at a time, across processes)."""

    def __init__(self, path: FsPath) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


@router.post(
    "/witness/{trail}/checkpoints",
    response_model=WitnessOut,
    responses={409: {"model": ErrorOut, "description": "Would rewrite a witnessed checkpoint"}},
)
def witness_append(request: Request, who: Operator, trail: TrailPath, body: CheckpointsIn) -> WitnessOut:
    """Append checkpoints of ``trail``; refuse (409, nothing written) any that would rewrite what was witnessed."""
    path = _file(request, trail)
    with _Locked(path):
        seen = {e.seq: e for e in _read(path)}
        last = max(seen, default=0)
        new: list[WitnessEntry] = []
        repeated = 0
        for item in sorted(body.checkpoints, key=lambda c: c.seq):
            old = seen.get(item.seq)
            if old is not None:
                if old.hash != item.hash:
                    raise HTTPException(409, f"event {item.seq} was witnessed with another hash: refused")
                repeated += 1
                continue
            if item.seq < last:
                raise HTTPException(409, f"event {item.seq} is before the last witnessed checkpoint ({last}): refused")
            entry = WitnessEntry(item.seq, item.hash, item.at, item.key_id, item.signature)
            seen[item.seq] = entry
            last = item.seq
            new.append(entry)
        if new:
            append_witness(path, new)
    return WitnessOut(accepted=len(new), already_witnessed=repeated, last_seq=last)


@router.get(
    "/witness/{trail}/checkpoints",
    response_class=PlainTextResponse,
    responses={
        **json_errors(),
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "Every witnessed checkpoint, one JSON line each",
        },
    },
)
def witness_read(request: Request, who: Viewer, trail: TrailPath) -> PlainTextResponse:
    """Every checkpoint witnessed for ``trail``, one JSON line each (empty when none)."""
    entries = _read(_file(request, trail))
    return PlainTextResponse("".join(_lines(entries)), media_type="application/x-ndjson")


def _lines(entries: list[WitnessEntry]) -> Iterator[str]:
    for entry in entries:
        yield entry.line()
