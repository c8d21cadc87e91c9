"""Walk the paths a policy covers under the agent's root, by directory descriptors, never through a link.

The walk starts at every rule path that is not inside another rule's path,
opens each component with ``O_NOFOLLOW | O_DIRECTORY`` (a rule path that
passes through a link is recorded as that link and not entered: resolving it
could leave the root), and descends while some rule still governs what lies
below. Each path is recorded under its most specific rule. The number of
recorded paths is bounded by ``limits.max_files``; past it the scan is
marked truncated (a visible warning, never a silent pass).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shieldwall.agent.modules.fim.attributes import Attrs, collect
from shieldwall.agent.modules.fim.rules import Policy, Rule, relative_to
from shieldwall.agent.modules.fim.textdiff import mask, read_text

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(slots=True)
class Snapshot:
    """What one walk saw: attributes by absolute (root-relative) path, and what it could not read."""

    entries: dict[str, Attrs] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unseen: set[str] = field(default_factory=set)
    dirs: list[str] = field(default_factory=list)
    truncated: bool = False

    def fail(self, path: str, exc: OSError | str) -> None:
        """Record that ``path`` could not be read (never reported deleted because of that)."""
        reason = exc if isinstance(exc, str) else (exc.strerror or str(exc))
        self.warnings.append(f"{path}: {reason}")
        self.unseen.add(path)


def split(path: str) -> list[str]:
    """The components of an absolute path (``/`` -> ``[]``)."""
    return [p for p in path.split("/") if p]


def open_dir(root_fd: int, parts: list[str]) -> int:
    """A descriptor of the directory ``parts`` under the root, refusing any link on the way (``OSError``)."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if part in (".", ".."):
                raise NotADirectoryError(f"refused component {part!r}")
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def level(rel: str) -> int:
    """How many components below its rule path a relative path lies (``""`` is 0)."""
    return 0 if rel == "" else rel.count("/") + 1


def descends(policy: Policy, directory: str) -> bool:
    """Whether some rule still governs something below ``directory``."""
    if policy.ignore and policy.ignored(directory):
        return False
    for rule in policy.rules:
        rel = relative_to(directory, rule.path)
        if rel is not None and level(rel) < rule.depth and not (rel and rule.excludes_dir(rel)):
            return True
        if relative_to(rule.path, directory) not in (None, ""):
            return True
    return False


def top_paths(policy: Policy) -> list[str]:
    """Rule paths not inside another rule's path, sorted."""
    paths = sorted({r.path for r in policy.rules})
    return [p for p in paths if not any(q != p and relative_to(p, q) is not None for q in paths)]


class Walker:
    """Collects a ``Snapshot`` of everything ``policy`` covers under ``root``."""

    def __init__(self, root: Path, policy: Policy, previous: Mapping[str, Attrs] | None = None) -> None:
        self.root = root
        self.policy = policy
        self.previous = previous or {}

    def subtree(self, path: str, deep: bool) -> Snapshot:
        """``path`` alone (``deep=False``) or with everything below it that the policy covers."""
        snap = Snapshot()
        parts = split(path)
        root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if not parts:
                self._walk_fd(os.dup(root_fd), "/", snap)
                return snap
            try:
                parent = open_dir(root_fd, parts[:-1])
            except FileNotFoundError:
                return snap
            except OSError as exc:
                snap.fail(path, exc)
                return snap
            try:
                self._entry(parent, parts[-1], path, snap, recurse=deep)
            finally:
                os.close(parent)
        finally:
            os.close(root_fd)
        return snap

    def snapshot(self) -> Snapshot:
        """Walk every top rule path once."""
        snap = Snapshot()
        root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for top in top_paths(self.policy):
                self._walk_top(root_fd, top, snap)
                if snap.truncated:
                    snap.warnings.append(f"more than {self.policy.limits.max_files} paths: the scan stopped early")
                    break
        finally:
            os.close(root_fd)
        return snap

    def snapshot_dirs(self, path: str | None = None) -> list[str]:
        """Directories the walk enters (what the watcher watches), from every top path or from ``path``."""
        found: list[str] = []
        root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for top in [path] if path is not None else top_paths(self.policy):
                try:
                    fd = open_dir(root_fd, split(top))
                except OSError:
                    continue
                self._dirs_fd(fd, top, found)
        finally:
            os.close(root_fd)
        return found

    def _dirs_fd(self, fd: int, path: str, found: list[str]) -> None:
        try:
            if len(found) >= self.policy.limits.max_watches or not descends(self.policy, path):
                return
            found.append(path)
            with os.scandir(fd) as it:
                subdirs = sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
            for name in subdirs:
                child = f"{path.rstrip('/')}/{name}"
                try:
                    sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                self._dirs_fd(sub, child, found)
        except OSError:
            return
        finally:
            os.close(fd)

    def _walk_top(self, root_fd: int, top: str, snap: Snapshot) -> None:
        parts = split(top)
        if not parts:
            self._walk_fd(os.dup(root_fd), "/", snap)
            return
        try:
            parent = open_dir(root_fd, parts[:-1])
        except FileNotFoundError:
            return  # a rule for something absent records nothing; its appearance is an addition
        except OSError as exc:
            snap.fail(top, f"a parent is not a plain directory ({exc.strerror or exc}); not entered")
            return
        try:
            self._entry(parent, parts[-1], top, snap)
        finally:
            os.close(parent)

    def _entry(self, dir_fd: int, name: str, path: str, snap: Snapshot, recurse: bool = True) -> None:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        except OSError as exc:
            snap.fail(path, exc)
            return
        rule = self.policy.rule_for(path)
        if rule is not None:
            if len(snap.entries) >= self.policy.limits.max_files:
                snap.truncated = True
                return
            try:
                attrs = collect(name, dir_fd, st, rule.attributes, self.policy.limits.max_hash_bytes)
                if "unreadable" in attrs:
                    snap.warnings.append(f"{path}: cannot read {', '.join(attrs['unreadable'])} (permission denied)")
                    before = self.previous.get(path) or {}
                    attrs.update({k: before[k] for k in attrs.pop("unreadable") if k in before})
                if rule.diff and attrs["type"] == "f" and attrs["size"] <= self.policy.limits.diff_max_bytes:
                    attrs = self._with_text(name, dir_fd, path, attrs)
                snap.entries[path] = attrs
                snap.rules[path] = rule
            except FileNotFoundError:
                return
            except OSError as exc:
                snap.fail(path, exc)
                return
        if recurse and stat.S_ISDIR(st.st_mode) and descends(self.policy, path):
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                snap.fail(path, exc)
                return
            self._walk_fd(fd, path, snap)

    def _with_text(self, name: str, dir_fd: int, path: str, attrs: Attrs) -> Attrs:
        old = self.previous.get(path)
        if old is not None and "text" in old and old.get("sha256") == attrs.get("sha256"):
            return {**attrs, "text": old["text"]}
        data = read_text(name, dir_fd, self.policy.limits.diff_max_bytes)
        return attrs if data is None else {**attrs, "text": mask(data, path)}

    def _walk_fd(self, fd: int, path: str, snap: Snapshot) -> None:
        """Record every child of the open directory ``fd`` (closed on return)."""
        snap.dirs.append(path)
        try:
            for name in _names(fd, path, snap):
                if snap.truncated:
                    return
                self._entry(fd, name, f"{path.rstrip('/')}/{name}", snap)
        finally:
            os.close(fd)


def _names(fd: int, path: str, snap: Snapshot) -> Iterator[str]:
    try:
        with os.scandir(fd) as it:
            names = sorted(e.name for e in it)
    except OSError as exc:
        snap.fail(path, exc)
        return
    yield from names
