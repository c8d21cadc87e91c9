"""RegistryClient against an in-process fake (httpx.MockTransport): digests, bounds, errors, pagination."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from shieldwall.errors import CorruptInputError, InputError, RegistryError, UnsafeInputError
from shieldwall.target.limits import Limits
from shieldwall.target.manifest import ACCEPT, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from shieldwall.target.registry import RegistryClient, insecure_registries, uses_plain_http

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OTHER_DIGEST = "sha256:" + "0" * 64


class Chunks(httpx.SyncByteStream):
    """A network-like body (``content=bytes`` would be pre-read by httpx, unlike a real response)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


def make_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> RegistryClient:
    return RegistryClient(
        "reg.test",
        anonymous=True,
        transport=httpx.MockTransport(handler),
        insecure=frozenset(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_scheme_choice() -> None:
    assert uses_plain_http("localhost:5000", frozenset())
    assert uses_plain_http("127.0.0.1", frozenset())
    assert uses_plain_http("[::1]:5000", frozenset())
    assert not uses_plain_http("ghcr.io", frozenset())
    insecure = insecure_registries({"SHIELDWALL_INSECURE_REGISTRIES": " reg.lan:5000, Other.Lan ,"})
    assert insecure == frozenset({"reg.lan:5000", "other.lan"})
    assert uses_plain_http("reg.lan:5000", insecure)
    assert not uses_plain_http("reg.lan:5001", insecure)
    assert uses_plain_http("other.lan:8443", insecure)
    assert RegistryClient("127.0.0.1:5000", anonymous=True).base_url == "http://127.0.0.1:5000"
    assert RegistryClient("docker.io", anonymous=True, insecure=frozenset()).base_url == "https://registry-1.docker.io"


def test_get_manifest_sends_accept_and_checks_header_digest() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=MANIFEST, headers={"Docker-Content-Digest": MANIFEST_DIGEST})

    with make_client(handler) as client:
        assert client.get_manifest("team/app", "1") == (MANIFEST, OCI_MANIFEST, MANIFEST_DIGEST)
    assert seen[0].headers["accept"] == ACCEPT
    assert seen[0].url == "https://reg.test/v2/team/app/manifests/1"


def test_manifest_header_digest_mismatch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=MANIFEST, headers={"Docker-Content-Digest": OTHER_DIGEST})

    with make_client(handler) as client, pytest.raises(CorruptInputError, match="Docker-Content-Digest says"):
        client.get_manifest("team/app", "1")


def test_manifest_by_digest_must_hash_to_that_digest() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=MANIFEST)  # no header: the requested digest is the check

    with make_client(handler) as client:
        assert client.get_manifest("a", MANIFEST_DIGEST)[2] == MANIFEST_DIGEST
        with pytest.raises(CorruptInputError, match="digest mismatch"):
            client.get_manifest("a", OTHER_DIGEST)
        with pytest.raises(CorruptInputError, match="invalid digest"):
            client.get_manifest("a", "sha256:../../etc")


def test_manifest_media_type_from_content_type_or_shape() -> None:
    bare_manifest = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    bare_index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/docker"):
            return httpx.Response(200, content=bare_manifest, headers={"Content-Type": DOCKER_MANIFEST})
        if request.url.path.endswith("/index"):
            return httpx.Response(200, content=bare_index, headers={"Content-Type": "application/json"})
        return httpx.Response(200, content=b'{"schemaVersion": 1, "fsLayers": []}')

    with make_client(handler) as client:
        assert client.get_manifest("a", "docker")[1] == DOCKER_MANIFEST
        assert client.get_manifest("a", "index")[1] == OCI_INDEX
        with pytest.raises(InputError, match="schema 1"):
            client.get_manifest("a", "old")


def test_oversized_manifest_is_refused_without_reading_it_all() -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            produced.append(1)
            yield b"x" * 4096

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/declared"):
            return httpx.Response(200, headers={"Content-Length": str(10**9)}, content=endless())
        return httpx.Response(200, content=endless())

    with make_client(handler, limits=Limits(max_metadata_bytes=64 * 1024)) as client:
        with pytest.raises(UnsafeInputError, match="above the 65536-byte limit"):
            client.get_manifest("a", "declared")
        assert len(produced) <= 1
        with pytest.raises(UnsafeInputError, match="above the 65536-byte limit"):
            client.get_manifest("a", "chunked")
        assert len(produced) <= 1 + 17


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, b"", r"^registry reg.test: authentication required for manifest team/app:1 \(no credentials found"),
        (403, b"", r"^registry reg.test: access to manifest team/app:1 denied \(HTTP 403\)$"),
        (429, b"", r"rate limited"),
        (
            500,
            b'{"errors":[{"code":"UNKNOWN","message":"boom\\nsecond line"}]}',
            r"^registry reg.test: HTTP 500 for manifest team/app:1 \(UNKNOWN: boom second line\)$",
        ),
        (
            404,
            b'{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}',
            r"^registry reg.test: repository team/app not found$",
        ),
    ],
)
def test_http_errors_become_one_line_registry_errors(status: int, body: bytes, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    with make_client(handler) as client, pytest.raises(RegistryError, match=message) as caught:
        client.get_manifest("team/app", "1")
    assert "\n" not in str(caught.value)


def test_missing_tag_versus_missing_repository() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tags/list"):
            if "/gone/" in request.url.path:
                return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})
            return httpx.Response(200, json={"name": "here", "tags": ["1"]})
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})

    with make_client(handler) as client:
        with pytest.raises(RegistryError, match=r"^registry reg.test: repository team/gone not found$"):
            client.get_manifest("team/gone", "1")
        with pytest.raises(RegistryError, match=r"^registry reg.test: manifest team/here:2 not found$"):
            client.get_manifest("team/here", "2")


def test_transport_failures_become_registry_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def bad_tls(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request)

    with make_client(refuse) as client, pytest.raises(RegistryError, match=r"cannot connect to https://reg\.test"):
        client.ping()
    with make_client(slow) as client, pytest.raises(RegistryError, match="timed out while fetching"):
        client.get_manifest("a", "1")
    with make_client(bad_tls) as client, pytest.raises(RegistryError, match="SHIELDWALL_INSECURE_REGISTRIES"):
        client.ping()


def test_get_blob_checks_digest_and_bound() -> None:
    config = b'{"rootfs": {"diff_ids": []}}'
    digest = "sha256:" + hashlib.sha256(config).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=config)

    with make_client(handler) as client:
        assert client.get_blob("a", digest, 1024) == config
        with pytest.raises(CorruptInputError, match="digest mismatch"):
            client.get_blob("a", OTHER_DIGEST, 1024)
        with pytest.raises(UnsafeInputError, match="limit"):
            client.get_blob("a", digest, 8)


def test_blob_stream_is_bounded_by_descriptor_size_and_closes_response() -> None:
    closed: list[bool] = []

    class Body(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"a" * 10
            yield b"b" * 10

        def close(self) -> None:
            closed.append(True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Body())

    with make_client(handler) as client:
        reader = client.get_blob_stream("a", OTHER_DIGEST, 20)
        assert reader.read() == b"a" * 10 + b"b" * 10
        reader.close()
        assert closed == [True]
        reader = client.get_blob_stream("a", OTHER_DIGEST, 15)
        with pytest.raises(CorruptInputError, match="larger than the 15 bytes"):
            reader.read()
        reader.close()


def test_interrupted_blob_download_is_a_registry_error() -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"partial"
            raise httpx.RemoteProtocolError("peer closed connection")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken())

    with make_client(handler) as client:
        reader = client.get_blob_stream("a", OTHER_DIGEST)
        with pytest.raises(RegistryError, match="download interrupted"):
            reader.read()


def test_redirected_blob_is_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "reg.test":
            assert request.headers["accept-encoding"] == "identity"
            return httpx.Response(307, headers={"Location": "https://storage.test/blob?sig=1"})
        assert "authorization" not in request.headers
        return httpx.Response(200, stream=Chunks([b"sto", b"red"]))

    with make_client(handler) as client:
        assert client.get_blob_stream("a", OTHER_DIGEST).read() == b"stored"


def test_tags_follow_link_pagination_and_stay_on_the_registry() -> None:
    pages = {
        "": (["a", "b"], '</v2/team/app/tags/list?last=b&n=2>; rel="next"'),
        "b": (["c", "d"], '<https://reg.test/v2/team/app/tags/list?last=d&n=2>; rel="next"'),
        "d": (["e"], '<https://evil.test/v2/team/app/tags/list?last=e>; rel="next"'),
    }
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "reg.test"
        last = request.url.params.get("last", "")
        asked.append(f"{last}:{request.url.params.get('n', '')}")
        tags, link = pages[last]
        return httpx.Response(200, json={"name": "team/app", "tags": tags}, headers={"Link": link})

    with make_client(handler) as client:
        assert client.list_tags("team/app", page_size=2) == ["a", "b", "c", "d", "e"]
    assert asked == [":2", "b:2", "d:2"]


def test_catalog_and_null_tags() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/_catalog":
            return httpx.Response(200, json={"repositories": ["x/y", "z"]})
        return httpx.Response(200, json={"name": "x/y", "tags": None})

    with make_client(handler) as client:
        assert client.catalog() == ["x/y", "z"]
        assert client.list_tags("x/y") == []
