"""What the core hands every module for the firewall's safety: a confirmation and the manager's addresses."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

from shieldwall.agent.core import Agent, AgentConfig, _write_identity, manager_addresses


class _Nothing:
    name = "nothing"
    version = "1"


def test_manager_addresses_are_resolved_and_protected(tmp_path: Path) -> None:
    assert manager_addresses("http://127.0.0.1:8443") == ["127.0.0.1"]
    assert manager_addresses("https://localhost") in (["127.0.0.1"], ["127.0.0.1", "::1"], ["::1", "127.0.0.1"])
    assert manager_addresses("not a url") == []


def test_modules_get_a_confirmation_that_fails_when_the_manager_is_gone(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more: the manager is unreachable
    agent = Agent(AgentConfig(manager_url=f"http://127.0.0.1:{port}", state_dir=tmp_path / "state", modules=[]))
    context = agent._context(_Nothing())  # type: ignore[arg-type]
    confirm = context.settings["firewall_confirm"]
    assert confirm() is False
    assert context.settings["protected_addresses"] == ["127.0.0.1"]


def test_the_confirmation_holds_while_the_manager_answers(tmp_path: Path) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"revision": 0, "document": {"modules": {}}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        (tmp_path / "state").mkdir(mode=0o700)
        _write_identity(tmp_path / "state", {"agent_id": "agt_" + "1" * 24, "manager_url": url})
        agent = Agent(AgentConfig(manager_url=url, state_dir=tmp_path / "state", modules=[]))
        assert agent._context(_Nothing()).settings["firewall_confirm"]() is True  # type: ignore[arg-type]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
