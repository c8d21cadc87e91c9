"""File and system integrity monitoring (FIM): AIDE-like rules and baseline, inotify, audit attribution.

See docs/fim.md. The package exposes ``Module`` (the agent module) and the
pieces it is built from: ``rules`` (policy), ``attributes`` (one path),
``walk`` (the covered tree), ``baseline`` (SQLite), ``compare`` (the check),
``events`` (one event per change), ``textdiff`` (masked diffs), ``watcher``
(inotify), ``audit`` (who), ``system`` (units, crontabs), ``templates``.
"""

from shieldwall.agent.modules.fim.module import Module

__all__ = ["Module"]
