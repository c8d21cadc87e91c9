"""Write the OpenAPI document of the API: ``python -m shieldwall.api.openapi [PATH]``.

The committed copy is ``docs/openapi.json``; a test fails when it and the one
the server builds differ. Refresh it with::

    .venv/bin/python -m shieldwall.api.openapi docs/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shieldwall.api.app import openapi_document


def openapi_text(document: dict[str, Any] | None = None) -> str:
    """The document as stable, diff-friendly JSON text."""
    return json.dumps(document if document is not None else openapi_document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write the document to the path given (stdout without one)."""
    text = openapi_text()
    if not argv or argv[0] == "-":
        sys.stdout.write(text)
    else:
        Path(argv[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
