"""The agent's HTTP client: enrollment, then every request signed with the agent's key."""

from __future__ import annotations

import json
from typing import Any

import httpx

from shieldwall.agent.signing import AgentKey
from shieldwall.errors import ShieldwallError

USER_AGENT = "shieldwall-agent"


class ManagerError(ShieldwallError):
    """The manager refused a request (``status`` > 0) or could not be reached (``status`` == 0)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ManagerClient:
    """Talks to one manager; the agent ID is set after enrollment."""

    def __init__(
        self,
        base_url: str,
        key: AgentKey,
        agent_id: str = "",
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        self.key = key
        self.agent_id = agent_id
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            verify=verify,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, request: httpx.Request) -> Any:
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise ManagerError(f"manager unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ManagerError(f"manager answered {response.status_code}: {str(detail)[:500]}", response.status_code)
        return response.json() if response.content else None

    def enroll(self, token: str, hostname: str, facts: dict[str, Any]) -> dict[str, Any]:
        """Enroll with ``token``; the manager's answer (agent ID and intervals)."""
        body = {"token": token, "public_key": self.key.public_text, "hostname": hostname, "facts": facts}
        request = self._http.build_request("POST", "/api/v1/agent/enroll", json=body)
        answer = self._send(request)
        assert isinstance(answer, dict)
        self.agent_id = str(answer["agent_id"])
        return answer

    def signed(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """A request signed with the agent's key; the decoded JSON answer."""
        if not self.agent_id:
            raise ManagerError("not enrolled")
        content = b"" if body is None else json.dumps(body, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = self._http.build_request(method, path, content=content, params=params, headers=headers)
        path_query = request.url.raw_path.decode("latin-1")
        request.headers.update(self.key.sign_headers(self.agent_id, method, path_query, content))
        return self._send(request)
