"""A directory or unpacked root filesystem as a single-layer target."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from shieldwall.errors import FileTooLargeError, InputError
from shieldwall.model import LayerRef, Target, TargetRef
from shieldwall.model.text import escape_undecodable
from shieldwall.target.base import ResolvedTarget
from shieldwall.target.entries import Entry, EntryKind
from shieldwall.target.limits import Limits

# Pseudo filesystems that a host scan must never descend into.
_SKIP_ROOT_DIRS = frozenset({"proc", "sys", "dev", "run"})


class DirectoryLayer:
    """Walks a directory tree without following symlinks; never leaves ``root``."""

    cache_key = ""
    read_blob_digest = ""
    blob_key = ""
    read_order = 0

    def __init__(self, root: Path, limits: Limits, *, skip_dirs: frozenset[str] = frozenset()) -> None:
        self.root = root
        self.limits = limits
        self.skip_dirs = skip_dirs
        self.ref = LayerRef(0, "", f"directory {root}")

    def cache_identity(self) -> str:
        """A live directory is never cached."""
        return ""

    def walk(self) -> Iterator[Entry]:
        """Yield every entry under root in a stable order (sorted per directory)."""
        root = str(self.root)
        is_rootfs = (self.root / "etc").is_dir() and (self.root / "usr").is_dir()
        stack = [root]
        prefix_len = len(root.rstrip("/")) + 1
        count = 0
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as it:
                    items = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                where = escape_undecodable("/" + current[prefix_len:]) if len(current) >= prefix_len else "/"
                yield Entry(where, EntryKind.UNREADABLE, error=f"directory not readable ({exc.strerror or exc})")
                continue
            subdirs = []
            for item in items:
                count += 1
                if count > self.limits.max_members:
                    raise InputError(f"{root}: more than {self.limits.max_members} entries")
                rel = item.path[prefix_len:]  # scandir joins onto ``current``, which starts with root
                path = escape_undecodable("/" + rel)
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError as exc:
                    yield Entry(path, EntryKind.UNREADABLE, error=f"cannot stat ({exc.strerror or exc})")
                    continue
                if stat.S_ISLNK(st.st_mode):
                    yield Entry(
                        path, EntryKind.SYMLINK, 0, st.st_mode & 0o7777, escape_undecodable(os.readlink(item.path))
                    )
                elif stat.S_ISDIR(st.st_mode):
                    top = rel.split("/", 1)[0]
                    if item.name in self.skip_dirs or (is_rootfs and "/" not in rel and top in _SKIP_ROOT_DIRS):
                        continue
                    yield Entry(path, EntryKind.DIR, 0, st.st_mode & 0o7777)
                    subdirs.append(item.path)
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(
                        path,
                        EntryKind.FILE,
                        st.st_size,
                        st.st_mode & 0o7777,
                        read=self._reader(item.path, st.st_size, path),
                    )
                else:
                    yield Entry(path, EntryKind.OTHER, 0, st.st_mode & 0o7777)
            stack.extend(reversed(subdirs))

    def _reader(self, real: str, size: int, path: str) -> Callable[[], bytes]:
        limit = self.limits.max_file_bytes

        def read() -> bytes:
            if size > limit:
                raise FileTooLargeError(f"{path}: {size} bytes is above the per-file limit")
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                return handle.read(limit + 1)[:limit]

        return read


def resolve_directory(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    """Resolve ``dir:PATH`` (or a plain path to a directory)."""
    root = Path(ref.value).expanduser()
    if not root.is_dir():
        raise InputError(f"{ref.value}: not a directory")
    root = root.resolve()
    target = Target(ref=ref, name=str(root))
    return ResolvedTarget(target=target, layers=[DirectoryLayer(root, limits)])
