"""Host checks of the Docker daemon configuration ``/etc/docker/daemon.json`` (CIS Docker 1.6 section 2).

Only daemon.json is read: flags passed on the dockerd command line (systemd unit
overrides) are not seen, so a check of an absent key says "not set in
daemon.json".
"""

from __future__ import annotations

from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._host import CIS_DOCKER, NIST_53, NIST_190, PCI
from shieldwall.misconfig.inputs.host import HOST_DOCKER_DAEMON, DockerDaemon
from shieldwall.model import Severity

_DOCS = "https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file"


def _daemon(resource: Resource) -> DockerDaemon:
    data = resource.data
    assert isinstance(data, DockerDaemon)
    return data


def _at(daemon: DockerDaemon, key: str, message: str, found: str = "") -> Hit:
    line = daemon.line_of(key)
    return Hit(message, line=line, end_line=line, key=key, found=found)


def _missing(key: str, message: str) -> Hit:
    return Hit(f"{key} is not set in daemon.json: {message}", key=key)


@check(
    "SW-HOST-DOCKER-001",
    "Inter-container communication is not restricted",
    Severity.MEDIUM,
    HOST_DOCKER_DAEMON,
    description="With icc enabled (the default), every container on the default bridge can reach every other "
    "one on any port.",
    remediation='Set "icc": false and connect containers that must talk through user-defined networks.',
    controls=(f"{CIS_DOCKER}:2.2", f"{NIST_190}:4.3.3", f"{NIST_53}:SC-7"),
    references=(_DOCS,),
)
def _icc(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("icc")
    if value is None:
        yield _missing("icc", "containers on the default bridge can reach each other")
    elif value is not False:
        yield _at(daemon, "icc", f"icc is {value}")


@check(
    "SW-HOST-DOCKER-002",
    "Docker daemon log level is debug",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="Debug logging records request bodies and can leak secrets; 'info' is what CIS asks for.",
    remediation='Set "log-level": "info".',
    controls=(f"{CIS_DOCKER}:2.3",),
    references=(_DOCS,),
)
def _log_level(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("log-level")
    if value is not None and str(value).lower() not in ("info", "warn"):
        yield _at(daemon, "log-level", f"log-level is {value}")
    if daemon.options.get("debug") is True:
        yield _at(daemon, "debug", "debug is true")


@check(
    "SW-HOST-DOCKER-003",
    "Docker may not manage iptables",
    Severity.MEDIUM,
    HOST_DOCKER_DAEMON,
    description="With iptables false, Docker cannot install the rules that isolate container networks, which "
    "tends to be replaced by looser hand-written rules.",
    remediation='Remove "iptables": false.',
    controls=(f"{CIS_DOCKER}:2.4", f"{NIST_53}:SC-7"),
    references=(_DOCS,),
)
def _iptables(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    if daemon.options.get("iptables") is False:
        yield _at(daemon, "iptables", "iptables is false")


@check(
    "SW-HOST-DOCKER-004",
    "Insecure registries are configured",
    Severity.HIGH,
    HOST_DOCKER_DAEMON,
    description="Images from an insecure registry are pulled over plain HTTP or unverified TLS, so anyone on "
    "the path can replace them.",
    remediation='Remove "insecure-registries"; give the registry a trusted certificate.',
    controls=(f"{CIS_DOCKER}:2.5", f"{NIST_190}:4.2.1", f"{PCI}:4.2.1", f"{NIST_53}:SC-8"),
    references=(_DOCS,),
)
def _insecure_registries(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("insecure-registries")
    if isinstance(value, list) and value:
        registries = ", ".join(str(v) for v in value)
        yield _at(daemon, "insecure-registries", f"insecure registries: {registries}", found=registries)


@check(
    "SW-HOST-DOCKER-005",
    "The aufs storage driver is used",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="aufs is deprecated and has had kernel crashes and security issues.",
    remediation='Use "storage-driver": "overlay2".',
    controls=(f"{CIS_DOCKER}:2.6",),
    references=(_DOCS,),
)
def _aufs(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    if str(daemon.options.get("storage-driver", "")).lower() == "aufs":
        yield _at(daemon, "storage-driver", "storage-driver is aufs")


@check(
    "SW-HOST-DOCKER-006",
    "Docker daemon listens on TCP without TLS client authentication",
    Severity.CRITICAL,
    HOST_DOCKER_DAEMON,
    description="The Docker API is root on the host. Listening on TCP without tlsverify and a CA lets anyone who "
    "reaches the port run privileged containers.",
    remediation='Remove the tcp:// host, or set "tlsverify": true with tlscacert, tlscert and tlskey.',
    controls=(f"{CIS_DOCKER}:2.7", f"{NIST_190}:4.3.1", f"{PCI}:2.2.7", f"{NIST_53}:IA-3"),
    references=("https://docs.docker.com/engine/security/protect-access/",),
)
def _tls(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    hosts = daemon.options.get("hosts")
    tcp = [str(h) for h in hosts if str(h).startswith("tcp://")] if isinstance(hosts, list) else []
    if not tcp:
        return
    options = daemon.options
    verified = options.get("tlsverify") is True and all(options.get(k) for k in ("tlscacert", "tlscert", "tlskey"))
    if not verified:
        yield _at(daemon, "hosts", f"{', '.join(tcp)} without TLS client verification", found=", ".join(tcp))


@check(
    "SW-HOST-DOCKER-007",
    "User namespace remapping is not enabled",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="Without userns-remap, root in a container is root on the host, so a container escape is a "
    "full host compromise.",
    remediation='Set "userns-remap": "default" (check volume ownership first).',
    controls=(f"{CIS_DOCKER}:2.9", f"{NIST_190}:4.4.3", f"{NIST_53}:AC-6"),
    references=("https://docs.docker.com/engine/security/userns-remap/",),
)
def _userns(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    if not daemon.options.get("userns-remap"):
        yield _missing("userns-remap", "container root is host root")


@check(
    "SW-HOST-DOCKER-008",
    "No authorization plugin for Docker client commands",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="Without an authorization plugin every user with access to the socket can do everything.",
    remediation='Configure "authorization-plugins".',
    controls=(f"{CIS_DOCKER}:2.12", f"{NIST_53}:AC-3"),
    references=("https://docs.docker.com/engine/extend/plugins_authorization/",),
)
def _authz(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    plugins = daemon.options.get("authorization-plugins")
    if not (isinstance(plugins, list) and plugins):
        yield _missing("authorization-plugins", "every socket user has full access")


@check(
    "SW-HOST-DOCKER-009",
    "Container logs are not sent to a central log service",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="With the json-file or local driver (the default), logs stay on the host and vanish with it.",
    remediation='Set "log-driver" to syslog, journald (forwarded), fluentd, gelf, awslogs, gcplogs or splunk.',
    controls=(f"{CIS_DOCKER}:2.13", f"{PCI}:10.3.3", f"{NIST_53}:AU-9"),
    references=("https://docs.docker.com/engine/logging/configure/",),
)
def _log_driver(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    driver = daemon.options.get("log-driver")
    if driver is None:
        yield _missing("log-driver", "logs stay on the host (json-file)")
    elif str(driver) in ("json-file", "local", "none"):
        yield _at(daemon, "log-driver", f"log-driver is {driver}")


@check(
    "SW-HOST-DOCKER-010",
    "Containers may acquire new privileges",
    Severity.MEDIUM,
    HOST_DOCKER_DAEMON,
    description="Without no-new-privileges, setuid binaries in a container can raise a process's privileges.",
    remediation='Set "no-new-privileges": true.',
    controls=(f"{CIS_DOCKER}:2.14", f"{NIST_190}:4.4.3", f"{NIST_53}:AC-6"),
    references=(_DOCS,),
)
def _no_new_privileges(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("no-new-privileges")
    if value is None:
        yield _missing("no-new-privileges", "setuid binaries can escalate")
    elif value is not True:
        yield _at(daemon, "no-new-privileges", f"no-new-privileges is {value}")


@check(
    "SW-HOST-DOCKER-011",
    "Live restore is not enabled",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="Without live-restore, restarting or upgrading the daemon stops every container.",
    remediation='Set "live-restore": true.',
    controls=(f"{CIS_DOCKER}:2.15", f"{NIST_53}:CP-10"),
    references=("https://docs.docker.com/engine/daemon/live-restore/",),
)
def _live_restore(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("live-restore")
    if value is None:
        yield _missing("live-restore", "containers stop when the daemon restarts")
    elif value is not True:
        yield _at(daemon, "live-restore", f"live-restore is {value}")


@check(
    "SW-HOST-DOCKER-012",
    "The userland proxy is enabled",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="docker-proxy adds a process per published port and a larger attack surface; hairpin NAT does "
    "the same job in the kernel.",
    remediation='Set "userland-proxy": false.',
    controls=(f"{CIS_DOCKER}:2.16", f"{NIST_53}:CM-7"),
    references=(_DOCS,),
)
def _userland_proxy(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    value = daemon.options.get("userland-proxy")
    if value is None:
        yield _missing("userland-proxy", "docker-proxy runs for each published port")
    elif value is not False:
        yield _at(daemon, "userland-proxy", f"userland-proxy is {value}")


@check(
    "SW-HOST-DOCKER-013",
    "The default seccomp profile is disabled",
    Severity.HIGH,
    HOST_DOCKER_DAEMON,
    description="seccomp-profile 'unconfined' lets every container make any system call, including the ones "
    "used in kernel exploits.",
    remediation='Remove "seccomp-profile": "unconfined" (or point it at a reviewed custom profile).',
    controls=(f"{CIS_DOCKER}:2.17", f"{NIST_190}:4.4.3", f"{NIST_53}:SC-39"),
    references=("https://docs.docker.com/engine/security/seccomp/",),
)
def _seccomp(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    if str(daemon.options.get("seccomp-profile", "")).lower() == "unconfined":
        yield _at(daemon, "seccomp-profile", "seccomp-profile is unconfined")


@check(
    "SW-HOST-DOCKER-014",
    "Experimental features are enabled",
    Severity.LOW,
    HOST_DOCKER_DAEMON,
    description="Experimental features are not supported and may change or have security gaps.",
    remediation='Remove "experimental": true on production hosts.',
    controls=(f"{CIS_DOCKER}:2.18", f"{NIST_53}:CM-6"),
    references=(_DOCS,),
)
def _experimental(resource: Resource) -> Iterator[Hit]:
    daemon = _daemon(resource)
    if daemon.options.get("experimental") is True:
        yield _at(daemon, "experimental", "experimental is true")


CHECKS: tuple[Check, ...] = (
    _icc,
    _log_level,
    _iptables,
    _insecure_registries,
    _aufs,
    _tls,
    _userns,
    _authz,
    _log_driver,
    _no_new_privileges,
    _live_restore,
    _userland_proxy,
    _seccomp,
    _experimental,
)
