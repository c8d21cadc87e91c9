"""Rich output that never interprets untrusted text.

Rich parses ``[...]`` in plain strings as console markup: a package called
``[/]`` crashes a table, ``[link=...]`` plants a terminal hyperlink. Every
string that came from a target, a feed or a user is therefore turned into a
``Text`` (never parsed as markup) with control characters escaped
(``shieldwall.model.text.printable``) before it reaches a console.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from shieldwall.model.text import printable


def untrusted(value: str, style: str = "") -> Text:
    """Untrusted text as a Rich ``Text``: no markup, control characters escaped, newlines kept."""
    return Text(printable(value, keep_newlines=True), style=style)


def lines(parts: list[str]) -> Text:
    """Several untrusted one-line values stacked in one cell (each part's own newlines escaped)."""
    return Text("\n").join(Text(printable(part)) for part in parts)


class SafeTable(Table):
    """A Rich table whose string cells are shown as text, never parsed as markup."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        """Add a row; ``str`` cells become escaped ``Text``."""
        cells = [untrusted(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **kwargs)


def print_error(console: Console, message: str, *, label: str = "error:") -> None:
    """``error: <message>`` with the label styled and the (untrusted) message printed as text."""
    console.print(Text.assemble((label, "bold red"), " ", untrusted(message)), highlight=False, soft_wrap=True)
