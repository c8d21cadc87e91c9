"""The fleet's errors: each carries the HTTP status the API answers with."""

from __future__ import annotations

from shieldwall.errors import ShieldwallError


class FleetError(ShieldwallError):
    """A fleet request that is refused; ``status`` is the HTTP status to answer."""

    status = 400


class AgentAuthError(FleetError):
    """The request is not from a known, current agent (bad signature, skew, replay, revoked...)."""

    status = 401


class EnrollmentError(FleetError):
    """The enrollment token is unknown, expired, revoked or used up."""

    status = 401


class FleetNotFoundError(FleetError):
    """No such agent, policy or token."""

    status = 404


class FleetConflictError(FleetError):
    """The name is taken (policy) or the change conflicts with the current state."""

    status = 409
