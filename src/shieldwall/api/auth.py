"""Authentication and authorisation of API requests: bearer tokens, roles, per-token rate limits.

``require(Role.OPERATOR)`` is a FastAPI dependency: no or an unknown token is
401 (with ``WWW-Authenticate: Bearer``), a token over its rate limit is 429
(with ``Retry-After``), a token whose role is below the one needed is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shieldwall.api.context import AppContext, context
from shieldwall.api.ratelimit import retry_after
from shieldwall.api.tokens import Role, TokenRecord, authenticate

bearer = HTTPBearer(auto_error=False, description="An API token: `shieldwall token create --role viewer --name X`")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request: the token record."""

    token: TokenRecord

    @property
    def actor(self) -> str:
        """The audit trail's name for this caller."""
        return self.token.actor


def unauthorized(message: str = "a valid API token is required") -> HTTPException:
    """401 with the challenge header."""
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def check_rate(ctx: AppContext, record: TokenRecord) -> None:
    """Take one request from the token's bucket; 429 with Retry-After when it is empty."""
    wait = ctx.limiter.acquire(record.id)
    if wait > 0:
        ctx.metrics.rate_limited.inc()
        raise HTTPException(429, "rate limit exceeded for this token", headers={"Retry-After": retry_after(wait)})


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that admits tokens with at least ``role``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        ctx = context(request)
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized()
        record = authenticate(ctx.store, credentials.credentials)
        if record is None:
            raise unauthorized("invalid or revoked API token")
        check_rate(ctx, record)
        if not record.role.allows(role):
            raise HTTPException(403, f"this endpoint needs the {role} role; the token has {record.role}")
        return Principal(record)

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
