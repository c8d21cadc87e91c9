"""Checks of an image's config (input ``image-config``): user, ports, environment, health check, history."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, ResourceRef, check
from shieldwall.misconfig.checks._common import CIS_DOCKER, NIST, PCI, literal_secret, secret_like_name
from shieldwall.model import ImageConfig, Severity

IMG = InputKind.IMAGE_CONFIG
LOW, MEDIUM, HIGH = Severity.LOW, Severity.MEDIUM, Severity.HIGH
SPEC = "https://github.com/opencontainers/image-spec/blob/main/config.md"


def _config(resource: Resource) -> ImageConfig:
    data = resource.data
    assert isinstance(data, ImageConfig)
    return data


def _env(config: ImageConfig) -> Iterator[tuple[str, str]]:
    for item in config.env:
        name, _, value = item.partition("=")
        yield name, value


@check(
    "SW-IMG-001",
    "Image runs as root: no user set",
    MEDIUM,
    IMG,
    description="The image config names no user, so containers start as root unless the runtime overrides it.",
    remediation="Set USER in the Dockerfile's final stage (an unprivileged name or UID).",
    controls=(f"{CIS_DOCKER}:4.1", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
    references=(SPEC,),
)
def _no_user(resource: Resource) -> Iterator[Hit]:
    if not _config(resource).user.strip():
        yield Hit(
            "config.User is empty: the container runs as root",
            resource=ResourceRef("config", "User"),
            path="image-config:User",
        )


@check(
    "SW-IMG-002",
    "Image runs as root: user is root",
    HIGH,
    IMG,
    description="The image config names root (or UID 0) as its user.",
    remediation="Set an unprivileged USER in the Dockerfile's final stage.",
    controls=(f"{CIS_DOCKER}:4.1", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
    references=(SPEC,),
)
def _root_user(resource: Resource) -> Iterator[Hit]:
    user = _config(resource).user.strip().split(":", 1)[0]
    if user in ("root", "0"):
        yield Hit(
            f"config.User is {_config(resource).user}",
            resource=ResourceRef("config", "User"),
            path="image-config:User",
            found=user,
        )


@check(
    "SW-IMG-003",
    "Image exposes the SSH port",
    MEDIUM,
    IMG,
    description="Port 22 in ExposedPorts suggests an SSH daemon inside the image.",
    remediation="Remove the SSH server and 'EXPOSE 22'.",
    controls=(f"{CIS_DOCKER}:5.6", f"{NIST}:4.4.2"),
    references=(SPEC,),
)
def _ssh(resource: Resource) -> Iterator[Hit]:
    for port in _config(resource).exposed_ports:
        if port.split("/", 1)[0] == "22":
            yield Hit(
                f"exposes {port}",
                resource=ResourceRef("config", "ExposedPorts"),
                path="image-config:ExposedPorts",
                key=port,
                found=port,
            )


@check(
    "SW-IMG-004",
    "Secret in image environment",
    HIGH,
    IMG,
    description="Environment variables of the image config are readable by anyone who can pull the image.",
    remediation="Remove the variable from the image; inject the secret at run time.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
    references=(SPEC,),
)
def _env_secret(resource: Resource) -> Iterator[Hit]:
    for name, value in _env(_config(resource)):
        if secret_like_name(name) and literal_secret(value):
            yield Hit(
                f"Env {name} holds a literal secret",
                resource=ResourceRef("config", "Env"),
                path="image-config:Env",
                key=name,
                found=name,
            )


@check(
    "SW-IMG-005",
    "Image has no health check",
    LOW,
    IMG,
    description="Without a health check the engine cannot tell a hung container from a healthy one.",
    remediation="Add a HEALTHCHECK instruction (or define probes in the orchestrator).",
    controls=(f"{CIS_DOCKER}:4.6",),
    references=(SPEC,),
)
def _no_healthcheck(resource: Resource) -> Iterator[Hit]:
    health = _config(resource).healthcheck
    if not health or health[:1] == ("NONE",):
        yield Hit(
            "config has no Healthcheck", resource=ResourceRef("config", "Healthcheck"), path="image-config:Healthcheck"
        )


_BUILD_ARG = re.compile(r"^\|\d+ (.*?) (?:/bin/sh -c|/bin/bash -c|RUN )", re.DOTALL)


@check(
    "SW-IMG-006",
    "Secret build argument recorded in image history",
    HIGH,
    IMG,
    description="Build args used by RUN steps are written into the image history ('|1 PASSWORD=... /bin/sh -c').",
    remediation="Use BuildKit secrets ('RUN --mount=type=secret') and rebuild the image.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
    references=("https://docs.docker.com/build/building/secrets/",),
)
def _history_args(resource: Resource) -> Iterator[Hit]:
    for index, entry in enumerate(_config(resource).history):
        match = _BUILD_ARG.match(entry.created_by)
        if not match:
            continue
        for pair in match.group(1).split():
            name, _, value = pair.partition("=")
            if secret_like_name(name) and literal_secret(value):
                yield Hit(
                    f"history entry {index} records build arg {name}",
                    resource=ResourceRef("history", str(index)),
                    path=f"image-config:history[{index}]",
                    key=f"{index}/{name}",
                    found=name,
                )


_TLS_OFF = {"NODE_TLS_REJECT_UNAUTHORIZED": "0", "PYTHONHTTPSVERIFY": "0", "NPM_CONFIG_STRICT_SSL": "false"}


@check(
    "SW-IMG-007",
    "Image environment disables TLS verification",
    MEDIUM,
    IMG,
    description="NODE_TLS_REJECT_UNAUTHORIZED=0, PYTHONHTTPSVERIFY=0, NPM_CONFIG_STRICT_SSL=false or "
    "GIT_SSL_NO_VERIFY turn off certificate checks for every process of the container.",
    remediation="Remove the variable; install the needed CA certificates.",
    controls=(f"{NIST}:4.1.5",),
    references=(SPEC,),
)
def _tls_env(resource: Resource) -> Iterator[Hit]:
    for name, value in _env(_config(resource)):
        upper = name.upper()
        if _TLS_OFF.get(upper) == value.lower() or upper == "GIT_SSL_NO_VERIFY":
            yield Hit(
                f"Env {name}={value}",
                resource=ResourceRef("config", "Env"),
                path="image-config:Env",
                key=name,
                found=name,
            )


@check(
    "SW-IMG-008",
    "Remote script piped into a shell during the build",
    MEDIUM,
    IMG,
    description="The image history shows a step that piped a downloaded script into a shell.",
    remediation="Download, verify a checksum, then run; rebuild the image.",
    controls=(f"{NIST}:4.1.5",),
    references=(SPEC,),
)
def _history_curl(resource: Resource) -> Iterator[Hit]:
    pattern = re.compile(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da|a)?sh\b")
    for index, entry in enumerate(_config(resource).history):
        if pattern.search(entry.created_by):
            yield Hit(
                f"history entry {index} pipes a download into a shell",
                resource=ResourceRef("history", str(index)),
                path=f"image-config:history[{index}]",
                key=str(index),
                found=entry.created_by[:300],
            )


CHECKS: tuple[Check, ...] = (
    _no_user, _root_user, _ssh, _env_secret, _no_healthcheck, _history_args, _tls_env, _history_curl,
)  # fmt: skip
