"""Image reference parsing: docker's grammar, Docker Hub defaults, strict rejection."""

from __future__ import annotations

import pytest

from shieldwall.errors import InputError
from shieldwall.target.reference import ImageReference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", ""),
        ("alpine:3.19", "docker.io", "library/alpine", "3.19", ""),
        ("library/alpine", "docker.io", "library/alpine", "latest", ""),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", ""),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", ""),
        ("index.docker.io/nginx:1", "docker.io", "library/nginx", "1", ""),
        ("registry-1.docker.io/org/app:x", "docker.io", "org/app", "x", ""),
        ("ghcr.io/owner/repo/sub:v1.2.3", "ghcr.io", "owner/repo/sub", "v1.2.3", ""),
        ("localhost/app", "localhost", "app", "latest", ""),
        ("localhost:5000/team/app:1.0", "localhost:5000", "team/app", "1.0", ""),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "latest", ""),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", ""),
        ("Registry.Example:443/app", "Registry.Example:443", "app", "latest", ""),
        (f"alpine@{DIGEST}", "docker.io", "library/alpine", "", DIGEST),
        (f"quay.io/a/b:1@{DIGEST}", "quay.io", "a/b", "1", DIGEST),
        ("my-registry.local/a__b/c.d-e:_tag", "my-registry.local", "a__b/c.d-e", "_tag", ""),
        ("docker://alpine:edge", "docker.io", "library/alpine", "edge", ""),
        ("a/b/c/d/e/f", "docker.io", "a/b/c/d/e/f", "latest", ""),
        ("sha512img@sha512:" + "0" * 128, "docker.io", "library/sha512img", "", "sha512:" + "0" * 128),
    ],
)
def test_parses_valid_references(text: str, registry: str, repository: str, tag: str, digest: str) -> None:
    assert parse_reference(text) == ImageReference(registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty image reference"),
        ("   ", "empty image reference"),
        ("Alpine", "must be lower-case"),
        ("team/App:1", "must be lower-case"),
        ("alpine:", "invalid tag"),
        ("alpine:-x", "invalid tag"),
        ("alpine:" + "t" * 129, "invalid tag"),
        ("alpine@sha256:abc", "malformed sha256 digest"),
        ("alpine@sha256:" + "AB" * 32, "malformed sha256 digest"),
        ("alpine@md5:" + "0" * 32, "unsupported digest"),
        ("alpine@", "empty digest"),
        ("host:5000/", "invalid repository path component ''"),
        ("a//b", "invalid repository path component ''"),
        ("a/-b", "invalid repository path component '-b'"),
        ("a/b_", "invalid repository path component 'b_'"),
        ("a/b___c", "invalid repository path component"),
        ("-bad.host:5000/app", "invalid registry host"),
        ("host:port/app", "invalid registry host"),
        ("alp ine", "whitespace"),
        ("a/" + "b" * 260, "longer than 255"),
        (":tag", "missing repository name"),
    ],
)
def test_rejects_malformed_references(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_reference(text)
    assert "\n" not in str(caught.value)


def test_str_round_trips_and_api_host() -> None:
    hub = parse_reference("alpine")
    assert str(hub) == "docker.io/library/alpine:latest"
    assert hub.api_host == "registry-1.docker.io"
    assert hub.name == "docker.io/library/alpine"
    assert hub.manifest_reference == "latest"
    local = parse_reference(f"127.0.0.1:5000/team/app:1@{DIGEST}")
    assert str(local) == f"127.0.0.1:5000/team/app:1@{DIGEST}"
    assert local.api_host == "127.0.0.1:5000"
    assert local.manifest_reference == DIGEST
    assert parse_reference(str(local)) == local
    assert str(parse_reference(f"x.io/a@{DIGEST}")) == f"x.io/a@{DIGEST}"
