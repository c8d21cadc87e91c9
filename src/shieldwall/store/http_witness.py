"""An HTTP witness of the audit trail: checkpoints sent to another Shieldwall (or any service speaking the same).

Configured by environment, like the file witness::

    SHIELDWALL_AUDIT_WITNESS_URL=https://witness.example/api/v1/witness/prod-eu/checkpoints
    SHIELDWALL_AUDIT_WITNESS_TOKEN=<an operator token of the witness>

Each signed checkpoint is POSTed (``{"checkpoints": [...]}``) once the
transaction that signed it commits; the witness keeps it append-only and
serves every line back on GET (the format ``audit verify --witness URL``
reads, with the same token in ``Authorization``). Every connection obeys
the egress policy (``egress.py``): the server preset when sending, so a
witness on loopback or a private range must be allowed with
``SHIELDWALL_EGRESS_ALLOW``; the CLI preset when ``audit verify`` fetches a
URL a person named. A witness that cannot be reached is logged as an error;
the database checkpoint stands, and ``audit verify --witness URL`` shows
which checkpoints the witness is missing only as "not witnessed" (it never
reports success for checkpoints the witness did not see).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shieldwall.errors import InputError

if TYPE_CHECKING:
    from shieldwall.egress import EgressPolicy
    from shieldwall.store.witness import WitnessEntry

ENV_URL = "SHIELDWALL_AUDIT_WITNESS_URL"
ENV_TOKEN = "SHIELDWALL_AUDIT_WITNESS_TOKEN"
TIMEOUT = 15.0
log = logging.getLogger("shieldwall.audit")


class WitnessUnreachable(InputError):
    """The HTTP witness refused or did not take the checkpoints."""


def _check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise InputError(f"{ENV_URL}: {url!r} is not an http(s) URL")
    return url


@dataclass(frozen=True, slots=True)
class HttpWitness:
    """Where checkpoints are sent, with which token, under which egress policy."""

    url: str
    token: str = ""
    policy: EgressPolicy | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HttpWitness | None:
        """``SHIELDWALL_AUDIT_WITNESS_URL`` (and ``_TOKEN``), with the server's egress policy; None when unset."""
        from shieldwall.egress import EgressPolicy

        env = os.environ if environ is None else environ
        url = env.get(ENV_URL, "").strip()
        if not url:
            return None
        return cls(_check_url(url), env.get(ENV_TOKEN, "").strip(), EgressPolicy.server(env))

    def send(self, entries: Sequence[WitnessEntry]) -> None:
        """POST the checkpoints; ``WitnessUnreachable`` (or ``EgressDenied``) when they were not taken."""
        import httpx

        from shieldwall.egress import EgressPolicy, guarded_transport

        body = {
            "checkpoints": [
                {"seq": e.seq, "hash": e.hash, "at": e.at, "key_id": e.key_id, "signature": e.signature}
                for e in entries
            ]
        }
        transport = guarded_transport(self.policy or EgressPolicy.server())
        try:
            with httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False) as client:
                response = client.post(self.url, json=body, headers=_auth(self.token))
        except httpx.HTTPError as exc:
            raise WitnessUnreachable(f"audit witness {self.url}: {exc}") from None
        if response.status_code != 200:
            raise WitnessUnreachable(
                f"audit witness {self.url} refused the checkpoints: HTTP {response.status_code} {response.text[:200]}"
            )

    def send_logged(self, entries: Sequence[WitnessEntry]) -> bool:
        """Send, logging (never raising) a failure: the signed checkpoint in the database stands."""
        try:
            self.send(entries)
        except InputError as exc:
            log.error("%s", exc)
            return False
        return True


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def fetch_witness(url: str, max_bytes: int, environ: Mapping[str, str] | None = None) -> bytes:
    """GET the witness lines at ``url`` (token from ``SHIELDWALL_AUDIT_WITNESS_TOKEN``), the CLI's egress policy."""
    import httpx

    from shieldwall.egress import EgressPolicy, guarded_transport

    env = os.environ if environ is None else environ
    transport = guarded_transport(EgressPolicy.cli(env))
    body = bytearray()
    try:
        with (
            httpx.Client(transport=transport, timeout=30.0, follow_redirects=False) as client,
            client.stream("GET", _check_url(url), headers=_auth(env.get(ENV_TOKEN, "").strip())) as response,
        ):
            if response.status_code != 200:
                raise InputError(f"{url}: cannot read the witness (HTTP {response.status_code})")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise InputError(f"{url}: witness larger than {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise InputError(f"{url}: cannot read the witness ({exc})") from None
    return bytes(body)
