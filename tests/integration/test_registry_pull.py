"""Pulling images from a real registry (Debian's docker-registry) over the distribution API."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO

import pytest

from helpers.images import Compression, ImageSpec, build_docker_archive, build_oci_layout, layer_tar, oci_image
from helpers.registry_server import AuthRegistry, RunningRegistry, TlsRegistry
from shieldwall.errors import CorruptInputError, InputError, RegistryError
from shieldwall.model import TargetKind, TargetRef
from shieldwall.target.base import ResolvedTarget
from shieldwall.target.limits import DEFAULT_LIMITS
from shieldwall.target.manifest import OCI_INDEX
from shieldwall.target.registry import RegistryClient, resolve_registry
from shieldwall.target.registry_push import push_oci_layout

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_registry_env")]

LAYERS = [
    {"etc/os-release": b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'},
    {"usr/lib/app/requirements.txt": b"requests==2.31.0\n", "usr/lib/app/main.py": b"print('hi')\n"},
    {"etc/motd": b"welcome\n"},
]


def resolve(reference: str, platform: str = "") -> ResolvedTarget:
    return resolve_registry(TargetRef(TargetKind.REGISTRY, reference, platform), DEFAULT_LIMITS)


def walk_files(resolved: ResolvedTarget) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for layer in resolved.layers:
        for entry in layer.walk():
            if entry.kind == "file":
                files[entry.path] = entry.read()
    return files


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_anonymous_pull_of_pushed_layout(registry: RunningRegistry, tmp_path: Path, compression: Compression) -> None:
    image = oci_image(LAYERS, ImageSpec(created_by=["ADD os", "COPY app", "RUN motd"]), compression=compression)
    build_oci_layout(tmp_path / "layout", [image])
    reference = f"{registry.host}/team/app-{compression}:1.0"
    assert push_oci_layout(tmp_path / "layout", reference) == image.manifest_digest

    resolved = resolve(reference)
    try:
        target = resolved.target
        assert target.name == reference
        assert target.digest == image.manifest_digest
        assert target.image_id == image.config_digest
        assert target.tags == ("1.0",)
        assert target.repository == f"{registry.host}/team/app-{compression}"
        assert [layer.cache_key for layer in resolved.layers] == image.diff_ids
        assert [layer.ref.created_by for layer in resolved.layers] == ["ADD os", "COPY app", "RUN motd"]
        assert resolved.config is not None and resolved.config.architecture == "amd64"
        files = walk_files(resolved)
    finally:
        resolved.close()
    assert files["/usr/lib/app/requirements.txt"] == b"requests==2.31.0\n"
    assert files["/etc/motd"] == b"welcome\n"
    assert set(files) == {"/etc/os-release", "/usr/lib/app/requirements.txt", "/usr/lib/app/main.py", "/etc/motd"}


def test_pull_by_digest(registry: RunningRegistry, tmp_path: Path) -> None:
    image = oci_image(LAYERS[:1])
    build_oci_layout(tmp_path / "layout", [image])
    push_oci_layout(tmp_path / "layout", f"{registry.host}/team/bydigest:v1")
    resolved = resolve(f"{registry.host}/team/bydigest@{image.manifest_digest}")
    try:
        assert resolved.target.digest == image.manifest_digest
        assert resolved.target.tags == ()
        assert walk_files(resolved) == {"/etc/os-release": LAYERS[0]["etc/os-release"]}
    finally:
        resolved.close()


def test_layers_download_only_when_walked(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_oci_layout(tmp_path / "layout", layers=LAYERS)
    reference = f"{registry.host}/team/lazy:1"
    push_oci_layout(tmp_path / "layout", reference)
    opened: list[str] = []
    original = RegistryClient.get_blob_stream

    def counting(self: RegistryClient, repository: str, digest: str, expected_size: int = 0) -> BinaryIO:
        opened.append(digest)
        return original(self, repository, digest, expected_size)

    monkeypatch.setattr(RegistryClient, "get_blob_stream", counting)
    resolved = resolve(reference)
    try:
        assert opened == []  # resolving reads manifest and config only
        list(resolved.layers[1].walk())
        assert len(opened) == 1
    finally:
        resolved.close()


def test_multi_arch_index_honours_platform(registry: RunningRegistry, tmp_path: Path) -> None:
    amd = oci_image([{"arch.txt": b"amd64\n"}], ImageSpec(architecture="amd64"))
    arm = oci_image([{"arch.txt": b"arm64 v8\n"}], ImageSpec(architecture="arm64", variant="v8"))
    build_oci_layout(tmp_path / "layout", [amd, arm], ref_name="multi")
    reference = f"{registry.host}/team/multi:1"
    index_digest = push_oci_layout(tmp_path / "layout", reference)
    with RegistryClient(registry.host) as client:
        _, media_type, digest = client.get_manifest("team/multi", "1")
    assert (media_type, digest) == (OCI_INDEX, index_digest)

    for platform, image, content in (("linux/arm64", arm, b"arm64 v8\n"), ("linux/amd64", amd, b"amd64\n")):
        resolved = resolve(reference, platform)
        try:
            assert resolved.target.digest == image.manifest_digest
            assert walk_files(resolved) == {"/arch.txt": content}
        finally:
            resolved.close()
    with pytest.raises(
        InputError, match=r"no manifest for platform linux/s390x \(available: linux/amd64, linux/arm64/v8\)"
    ):
        resolve(reference, "linux/s390x")


def test_tampered_layer_blob_is_corrupt_input(registry: RunningRegistry, tmp_path: Path) -> None:
    # Blobs are shared by every repository of the registry: this test's layers must be its own.
    layers = [{**layer, "tampered-case": b"1"} for layer in LAYERS[:2]]
    image = oci_image(layers, compression="gzip")
    build_oci_layout(tmp_path / "layout", [image])
    reference = f"{registry.host}/team/tampered-layer:1"
    push_oci_layout(tmp_path / "layout", reference)
    # Same uncompressed tar, same length, different gzip header: only the blob digest can tell.
    stored = registry.blob_data(image.layer_digests[1])
    replacement = gzip.compress(layer_tar(layers[1]), mtime=12345)
    assert len(replacement) == stored.stat().st_size and replacement != stored.read_bytes()
    stored.write_bytes(replacement)

    resolved = resolve(reference)
    try:
        assert walk_files(ResolvedTarget(resolved.target, resolved.layers[:1]))  # untouched layer is fine
        with pytest.raises(CorruptInputError, match="blob digest mismatch"):
            list(resolved.layers[1].walk())
    finally:
        resolved.close()


def test_tampered_manifest_and_config_are_corrupt_input(registry: RunningRegistry, tmp_path: Path) -> None:
    manifest_image = oci_image(LAYERS[:1], ImageSpec(user="manifest-case"))
    config_image = oci_image(LAYERS[:1], ImageSpec(user="config-case"))
    for name, image in (("tampered-manifest", manifest_image), ("tampered-config", config_image)):
        build_oci_layout(tmp_path / name, [image])
        push_oci_layout(tmp_path / name, f"{registry.host}/team/{name}:1")

    path = registry.blob_data(manifest_image.manifest_digest)
    doc = json.loads(path.read_bytes())
    doc["annotations"] = {"evil": "yes"}
    path.write_bytes(json.dumps(doc).encode())
    with pytest.raises(CorruptInputError, match="Docker-Content-Digest says"):
        resolve(f"{registry.host}/team/tampered-manifest:1")
    with pytest.raises(CorruptInputError, match="digest mismatch"):
        resolve(f"{registry.host}/team/tampered-manifest@{manifest_image.manifest_digest}")

    path = registry.blob_data(config_image.config_digest)
    path.write_bytes(path.read_bytes().replace(b"config-case", b"root-case!!"))
    with pytest.raises(CorruptInputError, match="digest mismatch"):
        resolve(f"{registry.host}/team/tampered-config:1")


def test_missing_repository_and_tag(registry: RunningRegistry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=rf"^registry {registry.host}: repository team/absent not found$"):
        resolve(f"{registry.host}/team/absent:1")
    build_oci_layout(tmp_path / "layout", layers=LAYERS[:1])
    push_oci_layout(tmp_path / "layout", f"{registry.host}/team/present:1")
    with pytest.raises(RegistryError, match=r"manifest team/present:2 not found"):
        resolve(f"{registry.host}/team/present:2")


def test_tags_and_catalog_follow_pagination(registry: RunningRegistry, tmp_path: Path) -> None:
    build_oci_layout(tmp_path / "layout", layers=LAYERS[:1])
    for tag in ("a", "b", "c", "d", "e"):
        push_oci_layout(tmp_path / "layout", f"{registry.host}/paged/repo:{tag}")
    with RegistryClient(registry.host) as client:
        # distribution 2.8 ignores ``n`` for tags (unit tests cover tag pagination); the catalog pages
        assert sorted(client.list_tags("paged/repo", page_size=2)) == ["a", "b", "c", "d", "e"]
        catalog = client.catalog(page_size=1)
        assert "paged/repo" in catalog and len(catalog) == len(set(catalog)) >= 2
        with pytest.raises(RegistryError, match="repository paged/none not found"):
            client.list_tags("paged/none")


def test_docker_archive_push_compresses_layers(registry: RunningRegistry, tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "image.tar", LAYERS, ImageSpec(user="app"))
    reference = f"{registry.host}/team/from-archive:2"
    digest = push_oci_layout(archive, reference)
    with RegistryClient(registry.host) as client:
        raw, _, got = client.get_manifest("team/from-archive", digest)
    assert got == digest
    layer_types = {layer["mediaType"] for layer in json.loads(raw)["layers"]}
    assert layer_types == {"application/vnd.oci.image.layer.v1.tar+gzip"}
    resolved = resolve(reference)
    try:
        assert resolved.config is not None and resolved.config.user == "app"
        assert walk_files(resolved)["/etc/motd"] == b"welcome\n"
    finally:
        resolved.close()


def test_image_pushed_by_skopeo(registry: RunningRegistry, tmp_path: Path) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed")
    image = oci_image(LAYERS, compression="gzip")
    build_oci_layout(tmp_path / "layout", [image], ref_name="v3")
    subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            f"oci:{tmp_path / 'layout'}:v3",
            f"docker://{registry.host}/skopeo/app:v3",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    resolved = resolve(f"{registry.host}/skopeo/app:v3")
    try:
        assert resolved.target.image_id == image.config_digest
        assert [layer.cache_key for layer in resolved.layers] == image.diff_ids
        assert walk_files(resolved)["/usr/lib/app/main.py"] == b"print('hi')\n"
    finally:
        resolved.close()


def _docker_config(config_dir: Path, host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (config_dir / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def test_basic_auth_pull_with_docker_config(
    basic_registry: AuthRegistry, clean_registry_env: Path, tmp_path: Path
) -> None:
    host = basic_registry.host
    build_oci_layout(tmp_path / "layout", layers=LAYERS[:2])
    with RegistryClient(host, credentials=basic_registry.credentials) as client:
        push_oci_layout(tmp_path / "layout", f"{host}/private/app:1", client=client)

    with pytest.raises(RegistryError, match=rf"registry {host}: authentication required"):
        resolve(f"{host}/private/app:1")

    _docker_config(clean_registry_env, f"http://{host}", "basic-user", "not-the-password")
    with pytest.raises(RegistryError, match="authentication required") as refused:
        resolve(f"{host}/private/app:1")
    assert "not-the-password" not in str(refused.value)

    _docker_config(clean_registry_env, host, basic_registry.credentials.username, basic_registry.credentials.password)
    resolved = resolve(f"{host}/private/app:1")
    try:
        assert set(walk_files(resolved)) >= {"/etc/os-release", "/usr/lib/app/main.py"}
    finally:
        resolved.close()


def test_bearer_token_pull_with_environment_credentials(
    token_registry: AuthRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, tokens = token_registry.host, token_registry.tokens
    assert tokens is not None
    build_oci_layout(tmp_path / "layout", layers=LAYERS)
    with RegistryClient(host, credentials=token_registry.credentials) as client:
        push_oci_layout(tmp_path / "layout", f"{host}/private/tok:1", client=client)
        push_oci_layout(tmp_path / "layout", f"{host}/public/tok:1", client=client)

    with pytest.raises(RegistryError, match="authentication required"):
        resolve(f"{host}/private/tok:1")  # anonymous token carries no access

    public = resolve(f"{host}/public/tok:1")  # anonymous token is enough for public/
    try:
        assert len(walk_files(public)) == 4
    finally:
        public.close()

    monkeypatch.setenv("SHIELDWALL_REGISTRY_USERNAME", token_registry.credentials.username)
    monkeypatch.setenv("SHIELDWALL_REGISTRY_PASSWORD", "wrong-password")
    refusal = r"token server 127\.0\.0\.1: credentials from environment refused"
    with pytest.raises(RegistryError, match=refusal) as refused:
        resolve(f"{host}/private/tok:1")
    assert "wrong-password" not in str(refused.value)

    monkeypatch.setenv("SHIELDWALL_REGISTRY_PASSWORD", token_registry.credentials.password)
    before = len(tokens.requests)
    resolved = resolve(f"{host}/private/tok:1")
    try:
        files = walk_files(resolved)
    finally:
        resolved.close()
    assert files["/etc/motd"] == b"welcome\n"
    fetched = tokens.requests[before:]
    # one token for the manifest, reused for the config and all three layers
    assert [(r.user, r.scopes, r.service) for r in fetched] == [
        ("token-user", ["repository:private/tok:pull"], tokens.service)
    ]


def test_https_registry_needs_its_ca(tls_registry: TlsRegistry, tmp_path: Path) -> None:
    host = tls_registry.server.host
    build_oci_layout(tmp_path / "layout", layers=LAYERS[:1])
    with RegistryClient(host, anonymous=True, plain_http=False, verify=str(tls_registry.ca)) as client:
        assert client.base_url == f"https://{host}"
        digest = push_oci_layout(tmp_path / "layout", f"{host}/tls/app:1", client=client)
        assert client.get_manifest("tls/app", "1")[2] == digest
    with (
        RegistryClient(host, anonymous=True, plain_http=False) as untrusting,
        pytest.raises(RegistryError, match=r"cannot connect to https://.*CERTIFICATE_VERIFY_FAILED.*INSECURE"),
    ):
        untrusting.get_manifest("tls/app", "1")
    with RegistryClient(host, anonymous=True, plain_http=False, verify=False) as unverified:
        assert unverified.get_manifest("tls/app", "1")[2] == digest
