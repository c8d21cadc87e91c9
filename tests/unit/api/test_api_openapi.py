"""The committed OpenAPI document (docs/openapi.json) is the one the server builds.

Refresh it after changing the API with:

    .venv/bin/python -m shieldwall.api.openapi docs/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

from shieldwall.api.app import openapi_document
from shieldwall.api.openapi import openapi_text

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
REFRESH = ".venv/bin/python -m shieldwall.api.openapi docs/openapi.json"


def test_the_committed_openapi_document_matches_the_served_one() -> None:
    served = openapi_document()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == served, f"docs/openapi.json is out of date: refresh it with `{REFRESH}`"
    assert COMMITTED.read_text(encoding="utf-8") == openapi_text(served), f"reformat it with `{REFRESH}`"


def test_every_operation_is_documented_with_its_errors() -> None:
    doc = openapi_document()
    assert doc["info"]["version"] == "1.0.0"
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("description"), (method, path)
            if path == "/health":
                assert "security" not in operation
                continue
            assert path.startswith("/api/v1/") or path == "/metrics"
            if path.startswith("/api/v1/agent/"):  # agents sign their requests; enrollment carries its token
                expected = [] if path == "/api/v1/agent/enroll" else [{"AgentSignature": []}]
                assert operation.get("security", []) == expected, (method, path)
                assert {"401", "413", "422"} <= set(operation["responses"]), (method, path)
                continue
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert {"401", "403", "413", "422", "429"} <= set(operation["responses"]), (method, path)
