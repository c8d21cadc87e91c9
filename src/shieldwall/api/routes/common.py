"""What every router shares: the documented error responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from shieldwall.api.schemas import ErrorOut


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The request cannot be carried out as given (or holds a NUL character)"),
    401: _error("No API token, or an unknown or revoked one"),
    403: _error("The token's role does not allow this"),
    413: _error("The request body is larger than the limit"),
    422: _error("A parameter or the body is invalid"),
    429: _error("Rate limit exceeded for this token (see Retry-After)"),
}
BAD_REQUEST: dict[int | str, dict[str, Any]] = {400: _error("The request cannot be carried out as given")}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such resource")}

MAX_ID = 2**62
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric ID")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def json_errors(codes: tuple[int, ...] = (400, 401, 403, 404, 413, 422, 429)) -> dict[int | str, dict[str, Any]]:
    """Error responses documented as JSON explicitly (for routes whose success body is not JSON)."""
    every = {**AUTH_ERRORS, **BAD_REQUEST, **NOT_FOUND}
    return {
        code: {
            "description": every[code]["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
        for code in codes
    }


def html_responses(description: str) -> dict[int | str, dict[str, Any]]:
    """A route that answers HTML: the page, or a JSON error."""
    return {
        **json_errors(),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": description},
    }
