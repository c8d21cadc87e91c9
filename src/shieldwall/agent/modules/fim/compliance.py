"""Which compliance controls a FIM event gives evidence for (from the bundled framework files).

The frameworks (``shieldwall/data/compliance``) list agent event kinds as
``event:<kind>`` checks; ``controls_for`` inverts that for one kind, so the
manager can tag an ingested event with ``pci-dss-4.0:11.5.2``,
``nist-800-53:SI-7``, ``cis-debian-linux:6.1.2``...
"""

from __future__ import annotations

from functools import cache

from shieldwall.misconfig.compliance import EVENT_SELECTOR, framework_ids, load_framework


@cache
def event_controls() -> dict[str, tuple[str, ...]]:
    """Agent event kind -> ``framework:control`` references, over every bundled framework."""
    found: dict[str, list[str]] = {}
    for name in framework_ids():
        for control in load_framework(name).controls:
            for ref in control.checks:
                if ref.startswith(EVENT_SELECTOR):
                    found.setdefault(ref.removeprefix(EVENT_SELECTOR), []).append(f"{name}:{control.id}")
    return {kind: tuple(refs) for kind, refs in found.items()}


def controls_for(kind: str) -> tuple[str, ...]:
    """The ``framework:control`` references an event of ``kind`` is evidence for (empty when none)."""
    return event_controls().get(kind, ())
