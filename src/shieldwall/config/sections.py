"""Subsystem sections of ``shieldwall.yaml``: each scanner validates its own mapping.

The core configuration treats ``secrets:``, ``malware:``, ``misconfig:`` and
``license:`` as opaque mappings; a subsystem that wants its section checked
lists a pydantic model here (``builtin_sections``) or calls
``register_section`` (plugins). Validation happens when the configuration is
loaded, so a typo in a subsystem section is reported with its file and line
like any other key, and the subsystem reads its typed section with
``Settings.section(name, Model)``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SECTION_NAMES = ("secrets", "malware", "misconfig", "license")
"""Top-level keys that hold a subsystem's own settings."""


class SectionModel(BaseModel):
    """Base for section models: unknown keys are an error, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LicenseSection(SectionModel):
    """``license:``: which package licences the ``license`` scanner reports as findings."""

    deny: tuple[str, ...] = Field(
        default=("GPL-*", "AGPL-*", "SSPL-*"),
        description="Licence IDs or globs (case-insensitive) that are denied, e.g. GPL-*, AGPL-3.0-only.",
    )


_REGISTRY: dict[str, type[SectionModel]] = {}


def builtin_sections() -> dict[str, type[SectionModel]]:
    """Section models that ship with Shieldwall (one line per subsystem)."""
    from shieldwall.misconfig.settings import MisconfigSection

    sections: dict[str, type[SectionModel]] = {
        "license": LicenseSection,
        "misconfig": MisconfigSection,
    }
    return sections


def register_section(name: str, model: type[SectionModel]) -> None:
    """Let a plugin validate its own ``name:`` section."""
    _REGISTRY[name] = model


def section_models() -> dict[str, type[SectionModel]]:
    """Every known section model: built-ins, then registered ones."""
    return {**builtin_sections(), **_REGISTRY}
