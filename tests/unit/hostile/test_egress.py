"""Server-side request forgery: registries, token realms, redirects and webhooks obey the egress policy.

Real sockets: listeners on loopback addresses count every connection they
accept, so a refused request is proven never to have left the process.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from shieldwall.egress import ALLOW_ENV, EgressDenied, EgressPolicy, guarded_transport
from shieldwall.errors import RegistryError
from shieldwall.target.limits import DEFAULT_LIMITS, Limits
from shieldwall.target.registry import RegistryClient

ip = ipaddress.ip_address


@pytest.fixture(autouse=True)
def _no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_ENV, raising=False)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "::1", "169.254.169.254", "fe80::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
     "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "fd00::1", "224.0.0.1"],
)  # fmt: skip
def test_the_server_policy_denies_internal_addresses(address: str) -> None:
    with pytest.raises(EgressDenied, match="egress policy"):
        EgressPolicy.server({}).check("target.example", [ip(address)])


def test_the_server_policy_allows_public_addresses_and_the_allow_list() -> None:
    EgressPolicy.server({}).check("registry.example", [ip("93.184.216.34"), ip("2606:2800:220:1::1")])
    policy = EgressPolicy.server({ALLOW_ENV: "10.20.0.0/16, registry.internal, *.corp.example"})
    policy.check("x", [ip("10.20.3.4")])
    policy.check("registry.internal", [ip("10.99.0.1")])
    policy.check("harbor.corp.example", [ip("192.168.0.10")])
    with pytest.raises(EgressDenied):
        policy.check("x", [ip("10.21.0.1")])
    with pytest.raises(EgressDenied):  # one internal address among public ones is enough to refuse
        policy.check("mixed.example", [ip("93.184.216.34"), ip("169.254.169.254")])


def test_the_cli_policy_allows_the_users_network_but_not_cloud_metadata() -> None:
    policy = EgressPolicy.cli({})
    policy.check("localhost", [ip("127.0.0.1")])
    policy.check("registry.lan", [ip("192.168.1.5")])
    with pytest.raises(EgressDenied, match="link-local"):
        policy.check("metadata", [ip("169.254.169.254")])


def test_a_bad_allow_list_entry_is_a_usage_error() -> None:
    with pytest.raises(Exception, match="neither a CIDR nor a host name"):
        EgressPolicy.server({ALLOW_ENV: "http://x/y"})


class _Counter:
    def __init__(self) -> None:
        self.hits: list[str] = []


@contextmanager
def listener(host: str, respond: object = None) -> Iterator[tuple[str, _Counter]]:
    """A tiny HTTP server on ``host`` that counts requests; ``respond(handler)`` answers them."""
    counter = _Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            counter.hits.append(self.path)
            if callable(respond):
                respond(self)
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET
        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{host}:{server.server_address[1]}", counter
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _server_limits(allow: str = "") -> Limits:
    return Limits(egress=EgressPolicy.server({ALLOW_ENV: allow}))


def test_a_registry_on_loopback_is_refused_by_the_server_and_never_contacted() -> None:
    with listener("127.0.0.1") as (address, counter):
        client = RegistryClient(address, anonymous=True, limits=_server_limits())
        with client, pytest.raises((EgressDenied, RegistryError), match="egress policy"):
            client.send("GET", "/v2/", "the API root", stream=False)
        assert counter.hits == []
        allowed = RegistryClient(address, anonymous=True, limits=_server_limits("127.0.0.1/32"))
        with allowed:
            assert allowed.send("GET", "/v2/", "the API root", stream=False).status_code == 200
        assert counter.hits == ["/v2/"]


def test_a_host_name_that_resolves_to_loopback_is_refused() -> None:
    with listener("127.0.0.1") as (address, counter):
        port = address.rsplit(":", 1)[1]
        with (
            RegistryClient(f"localhost:{port}", anonymous=True, limits=_server_limits()) as client,
            pytest.raises((EgressDenied, RegistryError), match="egress policy"),
        ):
            client.send("GET", "/v2/", "the API root", stream=False)
        assert counter.hits == []


def test_a_redirect_to_another_internal_address_is_refused_on_that_hop() -> None:
    with listener("127.0.0.2") as (inner, inner_counter):

        def redirect(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(307)
            handler.send_header("Location", f"http://{inner}/latest/meta-data/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with listener("127.0.0.1", redirect) as (outer, outer_counter):
            client = RegistryClient(outer, anonymous=True, limits=_server_limits("127.0.0.1/32"))
            with client, pytest.raises((EgressDenied, RegistryError), match="egress policy"):
                client.send("GET", "/v2/", "the API root", stream=False)
            assert outer_counter.hits == ["/v2/"]
            assert inner_counter.hits == []


def test_a_token_realm_on_an_internal_address_is_refused() -> None:
    with listener("127.0.0.3") as (realm, realm_counter):

        def challenge(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", f'Bearer realm="http://{realm}/token",service="x"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with listener("127.0.0.1", challenge) as (registry, _):
            client = RegistryClient(registry, anonymous=True, limits=_server_limits("127.0.0.1/32"))
            with client, pytest.raises((EgressDenied, RegistryError), match="egress policy"):
                client.send("GET", "/v2/", "the API root", stream=False)
            assert realm_counter.hits == []


def test_webhooks_and_alerts_use_a_guarded_transport() -> None:
    with listener("127.0.0.1") as (address, counter):
        with (
            httpx.Client(transport=guarded_transport(EgressPolicy.server({}))) as client,
            pytest.raises(EgressDenied),
        ):
            client.post(f"http://{address}/hook", content=b"{}")
        assert counter.hits == []


def test_the_cli_default_still_reaches_a_loopback_registry() -> None:
    with listener("127.0.0.1") as (address, counter):
        with RegistryClient(address, anonymous=True, limits=DEFAULT_LIMITS) as client:
            assert client.send("GET", "/v2/", "the API root", stream=False).status_code == 200
        assert counter.hits == ["/v2/"]
