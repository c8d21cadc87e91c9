"""Running ``nft`` with argument lists (never a shell), optionally inside a network namespace.

``Nft(netns="x")`` runs ``ip netns exec x nft ...``: the module's tests and
benchmarks use it to touch only namespaces they created. Batches are
written to a private temporary file and given to ``nft -j -f``; ``check``
adds ``-c`` (the kernel validates the whole batch without committing it).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.errors import ShieldwallError
from shieldwall.firewall.compile import FAMILY, TABLE, Json, table_batch_head

MAX_ERROR_CHARS = 2000
NETNS_RE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class NftError(ShieldwallError):
    """``nft`` refused a batch or could not run; ``message`` carries its diagnostic."""


@dataclass(frozen=True, slots=True)
class Nft:
    """How to invoke nft: binary paths, an optional namespace and a time bound."""

    netns: str | None = None
    nft_binary: str = "nft"
    ip_binary: str = "ip"
    timeout_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Nft:
        """Build from agent settings: ``netns``, ``nft_binary``, ``ip_binary``."""
        netns = settings.get("netns")
        return cls(
            netns=str(netns) if netns else None,
            nft_binary=str(settings.get("nft_binary", "nft")),
            ip_binary=str(settings.get("ip_binary", "ip")),
        )

    def __post_init__(self) -> None:
        if self.netns is not None and (
            not self.netns or len(self.netns) > 64 or set(self.netns) - NETNS_RE_CHARS or not self.netns[0].isalnum()
        ):
            raise ValueError(f"network namespace name {self.netns!r} is not valid")

    def argv(self, *args: str) -> list[str]:
        """The full argument list for ``nft args...`` (in the namespace when one is set)."""
        prefix = [self.ip_binary, "netns", "exec", self.netns] if self.netns else []
        return [*prefix, self.nft_binary, *args]

    def run(self, *args: str) -> str:
        """Run nft with ``args``; its stdout, or ``NftError`` with its stderr."""
        try:
            proc = subprocess.run(
                self.argv(*args), capture_output=True, text=True, timeout=self.timeout_seconds, check=False
            )
        except FileNotFoundError as exc:
            raise NftError(f"cannot run nft: {exc}") from None
        except subprocess.TimeoutExpired:
            raise NftError(f"nft did not finish within {self.timeout_seconds:g}s") from None
        if proc.returncode != 0:
            raise NftError(f"nft failed ({proc.returncode}): {proc.stderr.strip()[:MAX_ERROR_CHARS]}")
        return proc.stdout

    def run_batch(self, batch: Json, *, check: bool = False) -> None:
        """Apply (or with ``check`` only validate) one JSON batch as one transaction."""
        with tempfile.TemporaryDirectory(prefix="shieldwall-nft-") as tmp:
            path = Path(tmp) / "batch.json"
            write_private(path, json.dumps(batch))
            self.run(*(["-c"] if check else []), "-j", "-f", str(path))

    def list_table(self, *, terse: bool = False) -> Json | None:
        """Our table as nft lists it (``None`` when it does not exist); ``terse`` omits set elements."""
        return self._list(*(["-t"] if terse else []), "-j", "list", "table", FAMILY, TABLE)

    def list_set(self, name: str) -> Json | None:
        """One set of our table with its elements (``None`` when it does not exist)."""
        return self._list("-j", "list", "set", FAMILY, TABLE, name)

    def _list(self, *args: str) -> Json | None:
        try:
            out = self.run(*args)
        except NftError as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        data = json.loads(out)
        if not isinstance(data, dict):
            raise NftError("nft listed something that is not a JSON object")
        return data

    def delete_table(self) -> None:
        """Remove our table if it exists (one transaction)."""
        self.run_batch({"nftables": table_batch_head()[:2]})


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


_LISTED_KINDS = ("table", "chain", "set", "map", "counter", "quota", "limit", "ct helper", "flowtable", "rule")


def restore_batch(listing: Json | None) -> Json:
    """A batch that replaces our table with the state of ``listing`` (or just removes it when ``None``).

    Handles are dropped; set elements that were counting down keep their
    remaining time as their timeout. Objects are added in the order nft
    listed them (table, counters, sets, chains, then rules), which is an
    order nft accepts.
    """
    cmds: list[Json] = table_batch_head()
    if listing is None:
        return {"nftables": cmds[:2]}
    for item in _objects(listing):
        kind, body = next(iter(item.items()))
        if kind == "table":
            continue
        clean = {k: v for k, v in body.items() if k != "handle"}
        if kind in ("set", "map") and "elem" in clean:
            clean["elem"] = [_restore_elem(e) for e in clean["elem"]]
        cmds.append({"add": {kind: clean}})
    return {"nftables": cmds}


def _objects(listing: Json) -> Sequence[Json]:
    items = listing.get("nftables", [])
    if not isinstance(items, list):
        raise NftError("nft listing has no object list")
    return [i for i in items if isinstance(i, dict) and len(i) == 1 and next(iter(i)) in _LISTED_KINDS]


def _restore_elem(elem: Any) -> Any:
    if isinstance(elem, dict) and "elem" in elem and isinstance(elem["elem"], dict):
        inner = dict(elem["elem"])
        expires = inner.pop("expires", None)
        if expires is not None:
            inner["timeout"] = max(1, int(expires))
        return {"elem": inner}
    return elem
