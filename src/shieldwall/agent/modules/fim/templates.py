"""Bundled rule templates (package data, YAML): ``linux-server``, ``docker-host``, ``kubernetes-node``."""

from __future__ import annotations

from importlib import resources

import yaml
from pydantic import ValidationError

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.fim.rules import RuleSpec

_PACKAGE = "shieldwall.agent.modules.fim"


def template_names() -> list[str]:
    """Names of the bundled templates."""
    folder = resources.files(_PACKAGE).joinpath("templates")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_template(name: str) -> list[RuleSpec]:
    """The rules of a bundled template; ``PolicyError`` for an unknown or malformed one."""
    if name not in template_names():
        raise PolicyError(f"fim: unknown template {name!r} (available: {', '.join(template_names())})")
    text = resources.files(_PACKAGE).joinpath("templates", f"{name}.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise PolicyError(f"fim: template {name}: needs a 'rules' list")
    try:
        return [RuleSpec.model_validate(item) for item in raw["rules"]]
    except ValidationError as exc:
        raise PolicyError(f"fim: template {name}: {exc.errors()[0]['msg']}") from exc
