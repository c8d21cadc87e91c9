"""docker-compose checks (input ``compose``): one resource per service."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from shieldwall.misconfig.check import Check, Evaluate, Hit, InputKind, Resource, check
from shieldwall.misconfig.checks._common import (
    CIS_DOCKER,
    NIST,
    PCI,
    SSH_PORTS,
    literal_secret,
    parse_image,
    secret_like_name,
)
from shieldwall.misconfig.inputs.compose import ComposeService
from shieldwall.misconfig.yamlload import YamlList, YamlMap
from shieldwall.model import Severity

DC = InputKind.COMPOSE
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
COMPOSE_DOC = "https://docs.docker.com/reference/compose-file/services/"
_DANGEROUS_CAPS = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "SYS_BOOT",
     "SYS_TIME", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG", "NET_RAW"}
)  # fmt: skip
_SOCKETS = re.compile(
    r"^/(?:var/)?run/(?:docker\.sock|containerd/containerd\.sock|crio/crio\.sock|podman/podman\.sock)$|"
    r"^/(?:var/)?run/?$|^/var/lib/docker/?$"
)
_SENSITIVE = re.compile(
    r"^/(?:|etc|proc|sys|dev|boot|root|lib|lib64|usr|bin|sbin|var/lib/docker|var/lib/kubelet|etc/kubernetes|"
    r"var/log|home)(?:/.*)?$"
)


def _svc(resource: Resource) -> ComposeService:
    data = resource.data
    assert isinstance(data, ComposeService)
    return data


def _spec(resource: Resource) -> YamlMap:
    return _svc(resource).spec


def _at(resource: Resource, message: str, key: str, found: str = "", hit_key: str = "") -> Hit:
    spec = _spec(resource)
    start, end = spec.lines_of(key) if key in spec else (resource.line or 0, resource.end_line or 0)
    return Hit(message, start, end, found=found, key=hit_key)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "1"))


def _items(value: Any) -> list[tuple[int, Any]]:
    if isinstance(value, YamlList):
        return list(enumerate(value))
    return []


def _item_at(resource: Resource, field: str, index: int, message: str, key: str = "", found: str = "") -> Hit:
    value = _spec(resource).get(field)
    if isinstance(value, YamlList):
        start, end = value.lines_of(index)
        return Hit(message, start, end, key=key or str(index), found=found)
    return _at(resource, message, field, found, key)


def _volumes(resource: Resource) -> Iterator[tuple[int, str, str, bool]]:
    """(index, host source, target, read-only) of bind mounts (short and long syntax)."""
    for index, item in _items(_spec(resource).get("volumes")):
        if isinstance(item, str):
            parts = item.split(":")
            if len(parts) >= 2 and (parts[0].startswith(("/", ".", "~")) or parts[0] == ""):
                yield index, parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")
        elif isinstance(item, YamlMap) and item.get("type", "bind") == "bind" and isinstance(item.get("source"), str):
            yield index, str(item["source"]), str(item.get("target", "")), _truthy(item.get("read_only"))


def service_check(
    id: str,
    title: str,
    severity: Severity,
    *,
    description: str,
    remediation: str,
    controls: tuple[str, ...] = (),
    references: tuple[str, ...] = (COMPOSE_DOC,),
) -> Callable[[Evaluate], Check]:
    """``check`` for compose services."""
    return check(
        id, title, severity, DC, description=description, remediation=remediation, kinds=("service",),
        controls=controls, references=references,
    )  # fmt: skip


@service_check(
    "SW-DC-001",
    "Privileged service",
    CRITICAL,
    description="privileged: true gives the container every capability and all host devices.",
    remediation="Remove privileged: true; add only the capabilities needed.",
    controls=(f"{CIS_DOCKER}:5.4", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
)
def _privileged(resource: Resource) -> Iterator[Hit]:
    if _truthy(_spec(resource).get("privileged")):
        yield _at(resource, "runs privileged", "privileged")


def _mode_host(resource: Resource, field: str, what: str) -> Iterator[Hit]:
    value = _spec(resource).get(field)
    if isinstance(value, str) and value == "host":
        yield _at(resource, f"shares the host's {what} namespace ({field}: host)", field)


@service_check(
    "SW-DC-002",
    "Service uses the host network",
    HIGH,
    description="network_mode: host puts the container on the host's interfaces, past Docker's network isolation.",
    remediation="Use a bridge or user-defined network and publish the ports needed.",
    controls=(f"{CIS_DOCKER}:5.9", f"{NIST}:4.4.2"),
)
def _host_network(resource: Resource) -> Iterator[Hit]:
    yield from _mode_host(resource, "network_mode", "network")


@service_check(
    "SW-DC-003",
    "Service shares the host PID namespace",
    HIGH,
    description="pid: host lets the container see and signal every process of the host.",
    remediation="Remove pid: host.",
    controls=(f"{CIS_DOCKER}:5.15", f"{NIST}:4.4.3"),
)
def _host_pid(resource: Resource) -> Iterator[Hit]:
    yield from _mode_host(resource, "pid", "process ID")


@service_check(
    "SW-DC-004",
    "Service shares the host IPC namespace",
    HIGH,
    description="ipc: host exposes the host's shared memory to the container.",
    remediation="Remove ipc: host.",
    controls=(f"{CIS_DOCKER}:5.16", f"{NIST}:4.4.3"),
)
def _host_ipc(resource: Resource) -> Iterator[Hit]:
    yield from _mode_host(resource, "ipc", "IPC")


@service_check(
    "SW-DC-005",
    "Docker socket mounted",
    HIGH,
    description="The Docker socket gives full control of the Docker daemon, and so root on the host.",
    remediation="Do not mount the Docker socket; use a socket proxy with a narrow allow-list if unavoidable.",
    controls=(f"{CIS_DOCKER}:5.31", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
)
def _socket(resource: Resource) -> Iterator[Hit]:
    for index, source, _, _ in _volumes(resource):
        if _SOCKETS.match(source.rstrip("/") or "/") or _SOCKETS.match(source):
            yield _item_at(resource, "volumes", index, f"mounts {source}", found=source)


@service_check(
    "SW-DC-006",
    "Sensitive host directory mounted",
    HIGH,
    description="Mounting /, /etc, /proc, /sys, /boot, /root and similar paths exposes or lets the container "
    "change the host.",
    remediation="Mount only application data directories, read-only where possible.",
    controls=(f"{CIS_DOCKER}:5.5", f"{NIST}:4.4.3"),
)
def _sensitive_mount(resource: Resource) -> Iterator[Hit]:
    for index, source, _, _ in _volumes(resource):
        path = source.rstrip("/") or "/"
        if _SENSITIVE.match(path) and not _SOCKETS.match(source):
            yield _item_at(resource, "volumes", index, f"mounts host path {source}", found=source)


def _environment(resource: Resource) -> Iterator[tuple[str, Any, tuple[int, int]]]:
    env = _spec(resource).get("environment")
    if isinstance(env, YamlMap):
        for key, value in env.items():
            yield str(key), value, env.lines_of(key)
    elif isinstance(env, YamlList):
        for index, item in enumerate(env):
            name, sep, value = str(item).partition("=")
            yield name, (value if sep else None), env.lines_of(index)


@service_check(
    "SW-DC-007",
    "Secret in service environment",
    HIGH,
    description="A literal password or token in 'environment' is stored in the compose file and visible in "
    "'docker inspect'.",
    remediation="Use compose secrets (files under /run/secrets) or an env_file kept out of version control.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
)
def _env_secret(resource: Resource) -> Iterator[Hit]:
    for name, value, (start, end) in _environment(resource):
        if secret_like_name(name) and literal_secret(value):
            yield Hit(f"environment {name} holds a literal secret", start, end, key=name, found=name)


@service_check(
    "SW-DC-008",
    "Image uses the 'latest' tag or no tag",
    MEDIUM,
    description="An unpinned image changes under you; deployments are not reproducible.",
    remediation="Pin the image to a version tag (and digest).",
    controls=(f"{CIS_DOCKER}:5.27", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
)
def _latest(resource: Resource) -> Iterator[Hit]:
    image = _spec(resource).get("image")
    if isinstance(image, str):
        ref = parse_image(image)
        if not ref.variable and ref.unpinned:
            yield _at(resource, f"image {image!r} is not pinned to a version", "image", image)


@service_check(
    "SW-DC-009",
    "Image not pinned by digest",
    LOW,
    description="A tag can be moved to another image; only a digest names exact content.",
    remediation="Reference the image by digest.",
    controls=(f"{NIST}:4.1.5",),
)
def _digest(resource: Resource) -> Iterator[Hit]:
    image = _spec(resource).get("image")
    if isinstance(image, str) and not parse_image(image).variable and not parse_image(image).pinned_digest:
        yield _at(resource, f"image {image!r} has no digest", "image", image)


def _caps(resource: Resource) -> list[tuple[int, str]]:
    return [(i, str(c).upper().removeprefix("CAP_")) for i, c in _items(_spec(resource).get("cap_add"))]


@service_check(
    "SW-DC-010",
    "Dangerous capability added",
    HIGH,
    description="cap_add of ALL, SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE and similar gives near-root "
    "power over the host.",
    remediation="Remove the capability.",
    controls=(f"{CIS_DOCKER}:5.3", f"{NIST}:4.4.3"),
)
def _dangerous_caps(resource: Resource) -> Iterator[Hit]:
    for index, cap in _caps(resource):
        if cap in _DANGEROUS_CAPS:
            yield _item_at(resource, "cap_add", index, f"adds {cap}", cap, cap)


@service_check(
    "SW-DC-011",
    "Capabilities added",
    LOW,
    description="Every added capability widens what a compromised process can do.",
    remediation="Remove cap_add, or keep only what is needed (e.g. NET_BIND_SERVICE).",
    controls=(f"{CIS_DOCKER}:5.3",),
)
def _added_caps(resource: Resource) -> Iterator[Hit]:
    caps = _caps(resource)
    if caps:
        yield _at(resource, f"adds {', '.join(c for _, c in caps)}", "cap_add")


@service_check(
    "SW-DC-012",
    "Capabilities not dropped",
    LOW,
    description="Without cap_drop: [ALL] the container keeps Docker's default capabilities (NET_RAW, SETUID, "
    "DAC_OVERRIDE...).",
    remediation="Add 'cap_drop: [ALL]' and add back what is needed.",
    controls=(f"{CIS_DOCKER}:5.3",),
)
def _no_cap_drop(resource: Resource) -> Iterator[Hit]:
    dropped = [str(c).upper() for _, c in _items(_spec(resource).get("cap_drop"))]
    if "ALL" not in dropped and not _truthy(_spec(resource).get("privileged")):
        yield _at(resource, "does not drop ALL capabilities", "cap_drop")


def _security_opts(resource: Resource) -> list[tuple[int, str]]:
    return [(i, str(o).replace("=", ":", 1)) for i, o in _items(_spec(resource).get("security_opt"))]


@service_check(
    "SW-DC-013",
    "Seccomp disabled",
    HIGH,
    description="security_opt seccomp:unconfined removes system-call filtering.",
    remediation="Remove seccomp:unconfined (Docker's default profile applies).",
    controls=(f"{CIS_DOCKER}:5.21", f"{NIST}:4.4.3"),
)
def _seccomp(resource: Resource) -> Iterator[Hit]:
    for index, opt in _security_opts(resource):
        if opt.lower() == "seccomp:unconfined":
            yield _item_at(resource, "security_opt", index, "seccomp is unconfined", opt)


@service_check(
    "SW-DC-014",
    "AppArmor disabled",
    MEDIUM,
    description="security_opt apparmor:unconfined removes the AppArmor profile.",
    remediation="Remove apparmor:unconfined.",
    controls=(f"{CIS_DOCKER}:5.1", f"{NIST}:4.4.3"),
)
def _apparmor(resource: Resource) -> Iterator[Hit]:
    for index, opt in _security_opts(resource):
        if opt.lower() == "apparmor:unconfined":
            yield _item_at(resource, "security_opt", index, "AppArmor is unconfined", opt)


@service_check(
    "SW-DC-015",
    "SELinux labelling disabled",
    MEDIUM,
    description="security_opt label:disable turns off SELinux separation for the container.",
    remediation="Remove label:disable.",
    controls=(f"{CIS_DOCKER}:5.2", f"{NIST}:4.4.3"),
)
def _selinux(resource: Resource) -> Iterator[Hit]:
    for index, opt in _security_opts(resource):
        if opt.lower() in ("label:disable", "label:type:unconfined_t", "label:type:spc_t"):
            yield _item_at(resource, "security_opt", index, f"SELinux separation off ({opt})", opt)


@service_check(
    "SW-DC-016",
    "no-new-privileges not set",
    LOW,
    description="Without no-new-privileges, setuid binaries in the container can raise a process's privileges.",
    remediation="Add 'security_opt: [\"no-new-privileges:true\"]'.",
    controls=(f"{CIS_DOCKER}:5.25", f"{NIST}:4.4.3"),
)
def _no_new_privileges(resource: Resource) -> Iterator[Hit]:
    if not any(o.lower() in ("no-new-privileges:true", "no-new-privileges") for _, o in _security_opts(resource)):
        yield _at(resource, "does not set no-new-privileges", "security_opt")


@service_check(
    "SW-DC-017",
    "Service runs as root",
    MEDIUM,
    description="user: root (or 0) runs the service's processes as root.",
    remediation="Run as an unprivileged user: 'user: \"10001:10001\"'.",
    controls=(f"{CIS_DOCKER}:4.1", f"{NIST}:4.4.3"),
)
def _root_user(resource: Resource) -> Iterator[Hit]:
    user = _spec(resource).get("user")
    if user is not None and str(user).split(":", 1)[0] in ("root", "0"):
        yield _at(resource, f"runs as {user}", "user")


@service_check(
    "SW-DC-018",
    "Root filesystem is writable",
    LOW,
    description="A writable root filesystem lets an intruder modify binaries and drop tools.",
    remediation="Set 'read_only: true' and mount tmpfs or volumes where writes are needed.",
    controls=(f"{CIS_DOCKER}:5.12", f"{NIST}:4.4.3"),
)
def _read_only(resource: Resource) -> Iterator[Hit]:
    if not _truthy(_spec(resource).get("read_only")):
        yield _at(resource, "root filesystem is writable", "read_only")


def _ports(resource: Resource) -> Iterator[tuple[int, str, str, str]]:
    """(index, host ip, published, target) of published ports."""
    for index, item in _items(_spec(resource).get("ports")):
        if isinstance(item, YamlMap):
            yield index, str(item.get("host_ip", "")), str(item.get("published", "")), str(item.get("target", ""))
            continue
        text = str(item).split("/", 1)[0]
        if text.startswith("["):
            host, _, rest = text[1:].partition("]:")
            published, _, target = rest.partition(":")
            yield index, host, published, target
            continue
        parts = text.split(":")
        if len(parts) == 3:
            yield index, parts[0], parts[1], parts[2]
        elif len(parts) == 2:
            yield index, "", parts[0], parts[1]
        else:
            yield index, "", "", parts[0]


@service_check(
    "SW-DC-019",
    "Port published on all interfaces",
    LOW,
    description="A port published without a host IP listens on every interface of the host, bypassing host "
    "firewall rules (Docker inserts its own).",
    remediation="Bind to a specific address: '127.0.0.1:8080:80'.",
    controls=(f"{CIS_DOCKER}:5.13", f"{NIST}:4.4.2"),
)
def _all_interfaces(resource: Resource) -> Iterator[Hit]:
    for index, host, published, target in _ports(resource):
        if published and host in ("", "0.0.0.0", "::"):  # noqa: S104 - detecting it, not binding
            yield _item_at(resource, "ports", index, f"publishes {published}->{target} on all interfaces", published)


@service_check(
    "SW-DC-020",
    "SSH port published",
    MEDIUM,
    description="Publishing port 22 exposes an SSH daemon in the container.",
    remediation="Remove the SSH server and the port; use 'docker exec'.",
    controls=(f"{CIS_DOCKER}:5.6", f"{NIST}:4.4.2"),
)
def _ssh(resource: Resource) -> Iterator[Hit]:
    for index, _, published, target in _ports(resource):
        numbers = {int(x) for x in (published, target) if x.isdigit()}
        if numbers & SSH_PORTS and (22 in numbers):
            yield _item_at(resource, "ports", index, "publishes the SSH port", f"{published}:{target}")


@service_check(
    "SW-DC-021",
    "Host devices exposed",
    MEDIUM,
    description="devices: maps host devices into the container, giving it direct hardware access.",
    remediation="Remove devices unless the workload needs them.",
    controls=(f"{CIS_DOCKER}:5.17", f"{NIST}:4.4.3"),
)
def _devices(resource: Resource) -> Iterator[Hit]:
    for index, device in _items(_spec(resource).get("devices")):
        yield _item_at(resource, "devices", index, f"maps device {device}", str(device))


@service_check(
    "SW-DC-022",
    "Service shares the host user namespace",
    MEDIUM,
    description="userns_mode: host disables user-namespace remapping for the container.",
    remediation="Remove userns_mode: host.",
    controls=(f"{CIS_DOCKER}:5.30", f"{NIST}:4.4.3"),
)
def _userns(resource: Resource) -> Iterator[Hit]:
    yield from _mode_host(resource, "userns_mode", "user")


@service_check(
    "SW-DC-023",
    "Service shares the host UTS namespace",
    LOW,
    description="uts: host lets the container change the host's hostname.",
    remediation="Remove uts: host.",
    controls=(f"{CIS_DOCKER}:5.20",),
)
def _uts(resource: Resource) -> Iterator[Hit]:
    yield from _mode_host(resource, "uts", "UTS")


def _limit(resource: Resource, legacy: str, key: str) -> bool:
    spec = _spec(resource)
    deploy = spec.get("deploy")
    limits = deploy.get("resources", {}).get("limits", {}) if isinstance(deploy, YamlMap) else {}
    return legacy in spec or (isinstance(limits, dict) and key in limits)


@service_check(
    "SW-DC-024",
    "No memory limit",
    LOW,
    description="Without a memory limit one container can exhaust the host's memory.",
    remediation="Set deploy.resources.limits.memory (or mem_limit).",
    controls=(f"{CIS_DOCKER}:5.10",),
)
def _memory(resource: Resource) -> Iterator[Hit]:
    if not _limit(resource, "mem_limit", "memory"):
        yield Hit("has no memory limit", resource.line, resource.line)


@service_check(
    "SW-DC-025",
    "No CPU limit",
    LOW,
    description="Without a CPU limit or shares one container can starve the others.",
    remediation="Set deploy.resources.limits.cpus (or cpus / cpu_shares).",
    controls=(f"{CIS_DOCKER}:5.11",),
)
def _cpu(resource: Resource) -> Iterator[Hit]:
    spec = _spec(resource)
    if not (_limit(resource, "cpus", "cpus") or "cpu_shares" in spec or "cpu_quota" in spec):
        yield Hit("has no CPU limit", resource.line, resource.line)


@service_check(
    "SW-DC-026",
    "No PIDs limit",
    LOW,
    description="Without pids_limit a fork bomb in the container can exhaust the host's process table.",
    remediation="Set pids_limit (or deploy.resources.limits.pids).",
    controls=(f"{CIS_DOCKER}:5.28",),
)
def _pids(resource: Resource) -> Iterator[Hit]:
    if not _limit(resource, "pids_limit", "pids"):
        yield Hit("has no pids limit", resource.line, resource.line)


@service_check(
    "SW-DC-027",
    "Health check disabled",
    LOW,
    description="healthcheck: disable: true (or test: NONE) turns off the image's health check.",
    remediation="Keep a health check so failures are detected.",
    controls=(f"{CIS_DOCKER}:5.26",),
)
def _healthcheck(resource: Resource) -> Iterator[Hit]:
    health = _spec(resource).get("healthcheck")
    if isinstance(health, YamlMap):
        test = health.get("test")
        if _truthy(health.get("disable")) or test == "NONE" or (isinstance(test, list) and test[:1] == ["NONE"]):
            yield _at(resource, "health check is disabled", "healthcheck")


@service_check(
    "SW-DC-028",
    "Secret passed as a build argument",
    MEDIUM,
    description="Build args are recorded in the image history; a secret passed this way ships with the image.",
    remediation="Use build secrets (build.secrets) instead of args.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4"),
)
def _build_args(resource: Resource) -> Iterator[Hit]:
    build = _spec(resource).get("build")
    args = build.get("args") if isinstance(build, YamlMap) else None
    pairs: list[tuple[str, Any, tuple[int, int]]] = []
    if isinstance(args, YamlMap):
        pairs = [(str(k), v, args.lines_of(k)) for k, v in args.items()]
    elif isinstance(args, YamlList):
        pairs = [(str(a).partition("=")[0], str(a).partition("=")[2], args.lines_of(i)) for i, a in enumerate(args)]
    for name, value, (start, end) in pairs:
        if secret_like_name(name) and literal_secret(value):
            yield Hit(f"build arg {name} holds a literal secret", start, end, key=name, found=name)


@service_check(
    "SW-DC-029",
    "Mount propagation set to shared",
    MEDIUM,
    description="Shared mount propagation lets mounts made in the container appear on the host.",
    remediation="Use the default (private) propagation.",
    controls=(f"{CIS_DOCKER}:5.19",),
)
def _propagation(resource: Resource) -> Iterator[Hit]:
    for index, item in _items(_spec(resource).get("volumes")):
        text = ""
        if isinstance(item, str):
            text = item.rsplit(":", 1)[-1] if item.count(":") >= 2 else ""
        elif isinstance(item, YamlMap):
            text = str(item.get("bind", {}).get("propagation", "")) if isinstance(item.get("bind"), dict) else ""
        if any(opt in ("shared", "rshared") for opt in text.split(",")):
            yield _item_at(resource, "volumes", index, "mount propagation is shared", found=str(item))


@service_check(
    "SW-DC-030",
    "Unsafe sysctls",
    MEDIUM,
    description="Kernel parameters outside the namespaced-safe set affect the whole host.",
    remediation="Remove the sysctl or set it on the host.",
    controls=(f"{NIST}:4.4.3",),
)
def _sysctls(resource: Resource) -> Iterator[Hit]:
    from shieldwall.misconfig.checks.k8s_workload import SAFE_SYSCTLS

    sysctls = _spec(resource).get("sysctls")
    names: list[tuple[str, tuple[int, int]]] = []
    if isinstance(sysctls, YamlMap):
        names = [(str(k), sysctls.lines_of(k)) for k in sysctls]
    elif isinstance(sysctls, YamlList):
        names = [(str(v).partition("=")[0], sysctls.lines_of(i)) for i, v in enumerate(sysctls)]
    for name, (start, end) in names:
        if (
            name not in SAFE_SYSCTLS
            and not name.startswith("net.ipv4.conf.")
            and not name.startswith("net.core.somaxconn")
        ):
            yield Hit(f"sets sysctl {name}", start, end, key=name, found=name)


CHECKS: tuple[Check, ...] = (
    _privileged, _host_network, _host_pid, _host_ipc, _socket, _sensitive_mount, _env_secret, _latest, _digest,
    _dangerous_caps, _added_caps, _no_cap_drop, _seccomp, _apparmor, _selinux, _no_new_privileges, _root_user,
    _read_only, _all_interfaces, _ssh, _devices, _userns, _uts, _memory, _cpu, _pids, _healthcheck, _build_args,
    _propagation, _sysctls,
)  # fmt: skip
