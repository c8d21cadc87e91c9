"""Security headers on every response (a plain ASGI middleware: it never touches the request body)."""

from __future__ import annotations

from shieldwall.api.bodylimit import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
API_PATHS = ("/api/", "/metrics", "/health")


class SecurityHeaders:
    """Add the headers above (and a strict Content-Security-Policy on dashboard pages) unless already set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap ``send`` to add headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = dict(SECURITY_HEADERS)
        if not str(scope.get("path", "")).startswith(API_PATHS):
            wanted["content-security-policy"] = DASHBOARD_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in wanted.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
