"""Open the artifact Harbor names, with the credentials Harbor sent, through the registry target code.

Harbor sends ``Authorization: Basic <robot account>`` or ``Bearer <token>``
for its registry. Basic credentials go through the normal distribution auth
flow (they are exchanged for a token when the registry asks); a Bearer
token is sent as is. The credentials live only in this request's client.
A registry outside the allowed hosts is refused before any connection.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import ssl
from collections.abc import Sequence

from shieldwall.errors import InputError
from shieldwall.harbor.request import ScanRequest
from shieldwall.model import TargetKind, TargetRef
from shieldwall.target.base import ResolvedTarget
from shieldwall.target.limits import Limits
from shieldwall.target.registry import RegistryClient, resolve_registry_with
from shieldwall.target.registry_auth import Credentials


def _credentials(authorization: str) -> tuple[Credentials | None, str]:
    scheme, _, value = authorization.strip().partition(" ")
    if not scheme:
        return None, ""
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InputError("registry.authorization: Basic credentials are not base64 user:password") from None
        if not sep or not user:
            raise InputError("registry.authorization: Basic credentials are not user:password")
        return Credentials(user, password, "harbor scan request"), ""
    if scheme.lower() == "bearer" and value.strip():
        return None, value.strip()
    raise InputError("registry.authorization: expected 'Basic ...' or 'Bearer ...'")


def registry_allowed(host: str, allowed: Sequence[str]) -> bool:
    """True when ``host`` matches one of the ``allowed`` globs (an empty list allows every host)."""
    return not allowed or any(fnmatch.fnmatchcase(host.lower(), pattern.lower()) for pattern in allowed)


def open_artifact(
    request: ScanRequest,
    limits: Limits,
    *,
    allowed_registries: Sequence[str] = (),
    verify: bool | str | ssl.SSLContext = True,
) -> ResolvedTarget:
    """Resolve ``registry/repository@digest`` with Harbor's credentials; the caller closes the target."""
    host = request.registry_host
    if not registry_allowed(host, allowed_registries):
        raise InputError(f"registry {host} is not in the adapter's allowed registries")
    credentials, bearer = _credentials(request.authorization)
    client = RegistryClient(
        host, credentials=credentials, anonymous=credentials is None, verify=verify,
        plain_http=request.plain_http, limits=limits,
    )  # fmt: skip
    if bearer:
        client.http.headers["Authorization"] = f"Bearer {bearer}"
    ref = TargetRef(TargetKind.REGISTRY, f"{host}/{request.repository}@{request.digest}")
    return resolve_registry_with(ref, client, limits)
