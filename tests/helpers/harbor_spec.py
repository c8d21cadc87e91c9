"""Validate adapter responses against the Harbor scanner adapter specification's own schemas.

The specification lives in ../shared/data/harbor (never copied here); tests
that need it skip when it is absent.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "harbor"
SPEC_FILES = {
    "1.1": SPEC_DIR / "pluggable-scanner-spec" / "api" / "spec" / "scanner-adapter-openapi-v1.1.yaml",
    "1.2": SPEC_DIR / "pluggable-scanner-spec" / "api" / "spec" / "scanner-adapter-openapi-v1.2.yaml",
}
API_CASES = SPEC_DIR / "trivy-adapter" / "api-cases.json"


def available() -> bool:
    """True when the specification files are present."""
    return all(path.is_file() for path in SPEC_FILES.values())


@lru_cache(maxsize=4)
def _spec(version: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC_FILES[version].read_text(encoding="utf-8"))
    return data


def validate(instance: Any, schema_name: str, version: str = "1.2") -> None:
    """Raise ``jsonschema.ValidationError`` when ``instance`` does not match ``components.schemas.<name>``."""
    spec = _spec(version)
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    jsonschema.Draft4Validator(schema).validate(instance)


def response_media_types(path: str, method: str, status: int, version: str = "1.2") -> list[str]:
    """The content types the specification declares for one response."""
    operation = _spec(version)["paths"][path][method]
    response = operation["responses"].get(status) or operation["responses"].get(str(status)) or {}
    return list((response.get("content") or {}).keys())
