"""Images in a registry, pulled over the OCI distribution API with httpx (never a Docker daemon).

Manifests and configs are small and read whole, bounded and digest-checked;
layer blobs are opened lazily, only when a layer is walked, so a layer the
cache already knows is never downloaded. ``BlobLayer`` verifies each blob's
compressed digest and diff ID as it streams.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import httpx

from shieldwall.egress import EgressPolicy, guarded_transport
from shieldwall.errors import CorruptInputError, InputError, RegistryError, UnsafeInputError
from shieldwall.model import Target, TargetRef
from shieldwall.target.base import LayerSource, ResolvedTarget, layer_refs
from shieldwall.target.imageconfig import parse_image_config
from shieldwall.target.layer import BlobLayer
from shieldwall.target.limits import DEFAULT_LIMITS, Limits
from shieldwall.target.manifest import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    choose_platform,
    index_entries,
    load_json,
    manifest_parts,
)
from shieldwall.target.reference import ImageReference, parse_reference, registry_api_host
from shieldwall.target.registry_auth import ENV_PASSWORD, ENV_USERNAME, Credentials, RegistryAuth, find_credentials
from shieldwall.target.streams import IteratorReader

log = logging.getLogger(__name__)

ENV_INSECURE = "SHIELDWALL_INSECURE_REGISTRIES"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
_MAX_INDEX_DEPTH = 4
_MAX_ERROR_BODY = 64 * 1024
_MAX_PAGES = 1000
_PAGE_SIZE = 1000
_DIGEST_HEX = {"sha256": 64, "sha512": 128}
_LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)
_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json", ""}
)


def insecure_registries(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Hosts (``host`` or ``host:port``) listed in ``SHIELDWALL_INSECURE_REGISTRIES`` (comma-separated)."""
    env = os.environ if env is None else env
    return frozenset(h.strip().lower() for h in env.get(ENV_INSECURE, "").split(",") if h.strip())


def _bare_host(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def uses_plain_http(host: str, insecure: frozenset[str]) -> bool:
    """True for loopback registries and the ones the user listed as insecure."""
    lowered = host.lower()
    bare = _bare_host(lowered)
    return bare in LOCAL_HOSTS or lowered in insecure or bare in insecure


def check_digest_syntax(digest: str, label: str) -> str:
    """Refuse digests that are not ``sha256:<64 hex>`` / ``sha512:<128 hex>`` before they reach a URL."""
    algo, sep, hexpart = digest.partition(":")
    if (
        not sep
        or algo not in _DIGEST_HEX
        or len(hexpart) != _DIGEST_HEX[algo]
        or any(c not in "0123456789abcdef" for c in hexpart)
    ):
        raise CorruptInputError(f"{label}: invalid digest {digest!r}")
    return digest


def _hash_of(data: bytes, algo: str) -> str:
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error_codes(body: bytes) -> list[tuple[str, str]]:
    """``(code, message)`` pairs of a distribution error body, or ``[]``."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    return [(str(e.get("code", "")), str(e.get("message", ""))) for e in errors if isinstance(e, dict)]


def _read_prefix(response: httpx.Response, limit: int = _MAX_ERROR_BODY) -> bytes:
    """At most ``limit`` bytes of a (possibly hostile) body, for error diagnosis; closes the response."""
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                break
    except httpx.HTTPError:
        pass
    finally:
        response.close()
    return body[:limit]


class _ResponseReader(IteratorReader):
    """A streamed response body as a file; closing it releases the connection."""

    def __init__(self, response: httpx.Response, label: str, expected_size: int) -> None:
        self._response = response
        self._label = label
        self._expected = expected_size
        super().__init__(self._body())

    def _body(self) -> Iterator[bytes]:
        seen = 0
        try:
            for chunk in self._response.iter_raw(1 << 20):
                seen += len(chunk)
                if self._expected > 0 and seen > self._expected:
                    raise CorruptInputError(
                        f"{self._label}: blob is larger than the {self._expected} bytes its descriptor states"
                    )
                yield chunk
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"{self._label}: download interrupted ({type(exc).__name__}: {_one_line(str(exc))})"
            ) from exc

    def close(self) -> None:
        """Close the HTTP response along with the file."""
        self._response.close()
        super().close()


class RegistryClient:
    """A synchronous client for one registry's distribution API (``/v2/...``).

    ``registry`` is a registry name (``docker.io``, ``ghcr.io``,
    ``127.0.0.1:5000``). ``credentials`` default to what
    ``find_credentials`` finds; pass ``anonymous=True`` to use none.
    ``verify`` is ``True`` (system CAs), ``False``, a CA bundle path or an
    ``ssl.SSLContext``. ``plain_http`` forces http (``True``) or https
    (``False``); by default loopback hosts and the ``insecure`` set (default:
    ``SHIELDWALL_INSECURE_REGISTRIES``) use http and everything else https.
    ``transport`` lets unit tests talk to an in-process fake.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        anonymous: bool = False,
        verify: bool | str | ssl.SSLContext = True,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        insecure: frozenset[str] | None = None,
        plain_http: bool | None = None,
        limits: Limits = DEFAULT_LIMITS,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.host = registry_api_host(registry)
        self.limits = limits
        if insecure is None:
            insecure = insecure_registries(env)
        if plain_http is None:
            plain_http = uses_plain_http(self.host, insecure)
        scheme = "http" if plain_http else "https"
        self.base_url = f"{scheme}://{self.host}"
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)
        if credentials is None and not anonymous:
            credentials = find_credentials(registry, env=env)
        policy = limits.egress or EgressPolicy.cli(env)
        self._token_http = httpx.Client(
            verify=verify,
            timeout=timeout,
            follow_redirects=True,
            transport=transport or guarded_transport(policy, verify=verify),
            trust_env=False,
        )
        self.auth = RegistryAuth(None if anonymous else credentials, token_client=self._token_http)
        self.http = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            verify=verify,
            timeout=timeout,
            follow_redirects=True,
            transport=transport or guarded_transport(policy, verify=verify),
            headers={"User-Agent": "shieldwall"},
            trust_env=False,
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()
        self._token_http.close()

    # -- low level ---------------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: Any = None,
        stream: bool = True,
    ) -> httpx.Response:
        """Send one request, turning transport failures into ``RegistryError``.

        The response is streamed (its body unread) when ``stream`` is true;
        the caller closes it or lets ``raise_for_status`` do so on failure.
        """
        try:
            request = self.http.build_request(method, url, headers=headers, params=params, content=content)
            return self.http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise RegistryError(f"registry {self.registry}: timed out while fetching {what}") from exc
        except httpx.ConnectError as exc:
            reason = _one_line(str(exc)) or type(exc).__name__
            hint = ""
            if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
                hint = f"; for a registry without valid TLS list it in {ENV_INSECURE} or pass a CA bundle"
            raise RegistryError(
                f"registry {self.registry}: cannot connect to {self.base_url} ({reason}){hint}"
            ) from exc
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"registry {self.registry}: request for {what} failed ({type(exc).__name__}: {_one_line(str(exc))})"
            ) from exc

    def raise_for_status(self, response: httpx.Response, what: str, repository: str = "") -> None:
        """Map an unsuccessful response to a ``RegistryError`` with a one-line diagnosis."""
        status = response.status_code
        if status < 400:
            return
        codes = _error_codes(_read_prefix(response))
        code_names = {c for c, _ in codes}
        prefix = f"registry {self.registry}"
        if status == 401:
            if self.auth.credentials is not None:
                why = f"credentials from {self.auth.credentials.source} were not accepted"
            else:
                why = f"no credentials found: run docker login or set {ENV_USERNAME} and {ENV_PASSWORD}"
            raise RegistryError(f"{prefix}: authentication required for {what} ({why})")
        if status == 403:
            raise RegistryError(f"{prefix}: access to {what} denied (HTTP 403)")
        detail = _one_line("; ".join(f"{c}: {m}" for c, m in codes)) if codes else ""
        if status == 404 or "NAME_UNKNOWN" in code_names:
            if "NAME_UNKNOWN" in code_names and repository:
                raise RegistryError(f"{prefix}: repository {repository} not found")
            known = {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", ""}
            extra = f" ({detail})" if code_names - known else ""
            raise RegistryError(f"{prefix}: {what} not found{extra}")
        if status == 429:
            raise RegistryError(f"{prefix}: rate limited while fetching {what} (HTTP 429); try again later")
        raise RegistryError(f"{prefix}: HTTP {status} for {what}" + (f" ({detail})" if detail else ""))

    def _read_bounded(self, response: httpx.Response, limit: int, what: str) -> bytes:
        try:
            length = int(response.headers.get("content-length", "-1"))
        except ValueError:
            length = -1
        try:
            if length > limit:
                raise UnsafeInputError(
                    f"registry {self.registry}: {what} is {length} bytes, above the {limit}-byte limit"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise UnsafeInputError(f"registry {self.registry}: {what} is above the {limit}-byte limit")
            return bytes(body)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry {self.registry}: reading {what} failed ({type(exc).__name__})") from exc
        finally:
            response.close()

    # -- distribution API ------------------------------------------------------------------

    def ping(self) -> None:
        """Check that ``/v2/`` answers and our credentials (if any) are accepted."""
        response = self.send("GET", "/v2/", "the API root")
        self.raise_for_status(response, "the API root")
        response.close()

    def get_manifest(self, repository: str, reference: str, *, accept: str = ACCEPT) -> tuple[bytes, str, str]:
        """Fetch a manifest or index by tag or digest: ``(body, media type, digest)``.

        The body is bounded by ``limits.max_metadata_bytes``; its sha256 must
        equal the requested digest (when pulling by digest) and the
        ``Docker-Content-Digest`` header (when the registry sends one).
        """
        what = f"manifest {repository}{'@' if ':' in reference else ':'}{reference}"
        by_digest = ":" in reference
        if by_digest:
            check_digest_syntax(reference, f"registry {self.registry}")
        response = self.send("GET", f"/v2/{repository}/manifests/{reference}", what, headers={"Accept": accept})
        if response.status_code == 404:
            try:
                self.raise_for_status(response, what, repository)
            except RegistryError:
                if self._repository_missing(repository):
                    raise RegistryError(f"registry {self.registry}: repository {repository} not found") from None
                raise
        self.raise_for_status(response, what, repository)
        header_digest = response.headers.get("docker-content-digest", "").strip()
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        body = self._read_bounded(response, self.limits.max_metadata_bytes, what)
        label = f"registry {self.registry}: {what}"
        if by_digest:
            actual = _hash_of(body, reference.partition(":")[0])
            if actual != reference:
                raise CorruptInputError(f"{label}: digest mismatch (content is {actual})")
        if header_digest:
            check_digest_syntax(header_digest, label)
            actual = _hash_of(body, header_digest.partition(":")[0])
            if actual != header_digest:
                raise CorruptInputError(
                    f"{label}: digest mismatch (Docker-Content-Digest says {header_digest}, content is {actual})"
                )
        digest = reference if by_digest else header_digest or _hash_of(body, "sha256")
        doc = load_json(body, label)
        if doc.get("schemaVersion") == 1:
            raise InputError(f"{label}: Docker schema 1 manifests are not supported; re-push the image")
        media_type = doc.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            if content_type in INDEX_TYPES or content_type in MANIFEST_TYPES:
                media_type = content_type
            else:
                media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
        return body, media_type, digest

    def _repository_missing(self, repository: str) -> bool:
        """True when the registry says the repository does not exist (a missing tag looks alike)."""
        try:
            response = self.send("GET", f"/v2/{repository}/tags/list", "tags", params={"n": "1"})
        except RegistryError:
            return False
        body = _read_prefix(response)
        if response.status_code != 404:
            return False
        codes = {code for code, _ in _error_codes(body)}
        return not codes or "NAME_UNKNOWN" in codes

    def get_blob_stream(self, repository: str, digest: str, expected_size: int = 0) -> BinaryIO:
        """Open a blob for streaming (redirects to storage are followed); the caller closes it.

        The bytes are not checked here: ``BlobLayer`` hashes them as it reads.
        A body longer than ``expected_size`` (when > 0) is refused early.
        """
        what = f"blob {digest} of {repository}"
        check_digest_syntax(digest, f"registry {self.registry}")
        # identity: the bytes must arrive exactly as stored, or the digest check fails
        response = self.send("GET", f"/v2/{repository}/blobs/{digest}", what, headers={"Accept-Encoding": "identity"})
        self.raise_for_status(response, what, repository)
        reader = _ResponseReader(response, f"registry {self.registry}: {what}", expected_size)
        return reader  # type: ignore[return-value]

    def get_blob(self, repository: str, digest: str, limit: int) -> bytes:
        """Fetch a small blob (an image config) whole, bounded by ``limit`` and digest-checked."""
        what = f"blob {digest} of {repository}"
        check_digest_syntax(digest, f"registry {self.registry}")
        response = self.send("GET", f"/v2/{repository}/blobs/{digest}", what)
        self.raise_for_status(response, what, repository)
        data = self._read_bounded(response, limit, what)
        actual = _hash_of(data, digest.partition(":")[0])
        if actual != digest:
            raise CorruptInputError(f"registry {self.registry}: {what}: digest mismatch (content is {actual})")
        return data

    def _paginate(self, path: str, key: str, what: str, repository: str = "", page_size: int = _PAGE_SIZE) -> list[str]:
        items: list[str] = []
        url: str | None = path
        params: dict[str, str] | None = {"n": str(page_size)}
        for _ in range(_MAX_PAGES):
            if url is None:
                return items
            response = self.send("GET", url, what, params=params)
            self.raise_for_status(response, what, repository)
            following = response.links.get("next", {}).get("url")
            body = self._read_bounded(response, self.limits.max_metadata_bytes, what)
            doc = load_json(body, f"registry {self.registry}: {what}")
            values = doc.get(key) or []
            if not isinstance(values, list):
                raise CorruptInputError(f"registry {self.registry}: {what}: '{key}' is not a list")
            items.extend(str(v) for v in values)
            url, params = self._next_page(following), None
        raise UnsafeInputError(f"registry {self.registry}: {what} has more than {_MAX_PAGES} pages")

    def _next_page(self, link: str | None) -> str | None:
        """The next page's URL, kept on this registry (a Link to another host is not followed)."""
        if not link:
            return None
        target = self.http.base_url.join(link)
        if (target.scheme, target.netloc) != (self.http.base_url.scheme, self.http.base_url.netloc):
            log.warning("registry %s: pagination link to another host ignored", self.registry)
            return None
        return str(target)

    def list_tags(self, repository: str, *, page_size: int = _PAGE_SIZE) -> list[str]:
        """All tags of a repository, following ``Link: <...>; rel="next"`` pagination."""
        what = f"tags of {repository}"
        return self._paginate(f"/v2/{repository}/tags/list", "tags", what, repository, page_size)

    def catalog(self, *, page_size: int = _PAGE_SIZE) -> list[str]:
        """All repositories the registry lists (``/v2/_catalog``, paginated)."""
        return self._paginate("/v2/_catalog", "repositories", "the catalog", page_size=page_size)


def _check_layer_types(layers: list[Descriptor], label: str) -> None:
    for desc in layers:
        if desc.media_type and desc.media_type not in _LAYER_TYPES:
            raise InputError(f"{label}: unsupported layer media type {desc.media_type!r}")


def _blob_opener(client: RegistryClient, repository: str, desc: Descriptor) -> Callable[[], BinaryIO]:
    """An opener that starts the download only when the layer is walked."""

    def open_blob() -> BinaryIO:
        return client.get_blob_stream(repository, desc.digest, desc.size)

    return open_blob


def resolve_registry(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    """Resolve ``registry:IMAGE`` into its config and lazily downloaded layers."""
    reference = parse_reference(ref.value)
    credentials = find_credentials(reference.registry, reference.repository)
    client = RegistryClient(reference.registry, credentials=credentials, limits=limits)
    try:
        return _resolve(ref, reference, client, limits)
    except BaseException:
        client.close()
        raise


def _resolve(ref: TargetRef, reference: ImageReference, client: RegistryClient, limits: Limits) -> ResolvedTarget:
    repo = reference.repository
    label = str(reference)
    raw, media_type, digest = client.get_manifest(repo, reference.manifest_reference)
    manifest = load_json(raw, label)
    for _ in range(_MAX_INDEX_DEPTH):
        if media_type not in INDEX_TYPES:
            break
        chosen = choose_platform(index_entries(manifest, label), ref.platform, label)
        raw, media_type, digest = client.get_manifest(repo, chosen.digest)
        manifest = load_json(raw, label)
    else:
        raise CorruptInputError(f"{label}: indexes nested deeper than {_MAX_INDEX_DEPTH}")
    if media_type not in MANIFEST_TYPES:
        raise InputError(f"{label}: unsupported manifest media type {media_type!r}")
    config_desc, layer_descs = manifest_parts(manifest, label)
    if config_desc.media_type not in _CONFIG_TYPES:
        raise InputError(f"{label}: not a container image (config media type {config_desc.media_type!r})")
    _check_layer_types(layer_descs, label)
    if len(layer_descs) > limits.max_layers:
        raise CorruptInputError(f"{label}: {len(layer_descs)} layers is above the limit of {limits.max_layers}")
    raw_config = client.get_blob(repo, config_desc.digest, limits.max_metadata_bytes)
    config = parse_image_config(raw_config, f"{label}: config")
    if len(config.diff_ids) != len(layer_descs):
        raise CorruptInputError(f"{label}: config lists {len(config.diff_ids)} diff IDs, manifest {len(layer_descs)}")
    if (
        ref.platform
        and config.platform
        and not (config.platform == ref.platform or config.platform.startswith(ref.platform + "/"))
    ):
        log.warning("%s: image is for %s, not the requested %s", label, config.platform, ref.platform)
    refs = layer_refs(config, list(config.diff_ids), [d.size for d in layer_descs])
    layers: list[LayerSource] = []
    for layer_ref, desc in zip(refs, layer_descs, strict=True):
        check_digest_syntax(desc.digest, label)
        layers.append(
            BlobLayer(
                layer_ref,
                _blob_opener(client, repo, desc),
                limits,
                blob_digest=desc.digest,
                label=f"{label}: layer {layer_ref.index}",
                content_addressed=True,
                blob_key=desc.digest,
            )
        )
    target = Target(
        ref=ref,
        name=str(reference),
        digest=digest,
        image_id=config_desc.digest,
        tags=(reference.tag,) if reference.tag else (),
        repository=reference.name,
    )
    return ResolvedTarget(target=target, layers=layers, config=config, close=client.close)


def resolve_registry_with(ref: TargetRef, client: RegistryClient, limits: Limits) -> ResolvedTarget:
    """Resolve ``registry:IMAGE`` through a client the caller built (credentials handed over by Harbor...).

    The returned target closes ``client`` when it is closed.
    """
    try:
        return _resolve(ref, parse_reference(ref.value), client, limits)
    except BaseException:
        client.close()
        raise
