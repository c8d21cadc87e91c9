"""Extra entries of the dashboard's main navigation: page modules add theirs in ``install``.

``base.html.j2`` lists the built-in pages and then ``nav_extra``; a module
calls ``add_nav(href, label)`` once per page it owns (adding the same entry
twice, as a second app in one process does, changes nothing).
"""

from __future__ import annotations

from shieldwall.api.dashboard.views import TEMPLATES


def add_nav(href: str, label: str) -> None:
    """Show ``label`` linking to ``href`` in the main navigation of every page."""
    entries = TEMPLATES.globals.setdefault("nav_extra", [])
    assert isinstance(entries, list)
    if (href, label) not in entries:
        entries.append((href, label))
