"""Control-plane manifests (input ``kubernetes``): flags of the kube-apiserver, kube-controller-manager,
kube-scheduler and etcd static pods (CIS Kubernetes Benchmark sections 1.2-1.4 and 2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, ResourceRef, check
from shieldwall.misconfig.checks._common import CIS_K8S, NIST, NSA
from shieldwall.misconfig.checks._k8s import all_containers, sequence
from shieldwall.misconfig.inputs.kubernetes import WORKLOAD_KINDS, Container
from shieldwall.model import Severity

K8S = InputKind.KUBERNETES
LOW, MEDIUM, HIGH = Severity.LOW, Severity.MEDIUM, Severity.HIGH
APISERVER, CONTROLLER, SCHEDULER, ETCD = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"
DOCS = {
    APISERVER: "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
    CONTROLLER: "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/",
    SCHEDULER: "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/",
    ETCD: "https://etcd.io/docs/latest/op-guide/configuration/",
}


@dataclass(frozen=True, slots=True)
class Component:
    """A control-plane container and its parsed ``--flag=value`` arguments."""

    container: Container
    flags: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        """Value of ``--name`` (the last one wins, as for the binaries), ``None`` when absent."""
        found = self.flags.get(name)
        return found[-1] if found else None

    def every(self, name: str) -> list[str]:
        """Every value given for ``--name`` (a flag repeated with a dangerous value is still reported)."""
        return self.flags.get(name, [])

    def values(self, name: str) -> list[str]:
        """Comma-separated values of a flag (all occurrences)."""
        return [v.strip() for raw in self.every(name) for v in raw.split(",") if v.strip()]


def components(resource: Resource, program: str) -> Iterator[Component]:
    """Containers of ``resource`` that run ``program``, with their flags."""
    for c in all_containers(resource):
        words = [str(w) for key in ("command", "args") for w in sequence(c.spec.get(key))]
        if not words:
            continue
        names = [w.rsplit("/", 1)[-1] for w in words[:3] if not w.startswith("-")]
        if program not in names:
            continue
        flags: dict[str, list[str]] = {}
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if not word.startswith("--"):
                continue
            name, sep, value = word[2:].partition("=")
            if not sep and index < len(words) and not words[index].startswith("-"):
                value = words[index]
                index += 1
            flags.setdefault(name, []).append(value)
        yield Component(c, flags)


def _hit(comp: Component, message: str, flag: str) -> Hit:
    start, end = comp.container.lines("command") if "command" in comp.container.spec else comp.container.lines("args")
    return Hit(message, start, end, ResourceRef("container", comp.container.name), f"{comp.container.name}/{flag}")


Predicate = Callable[[Component], str]


def flag_check(
    id: str,
    program: str,
    title: str,
    severity: Severity,
    cis: str,
    flag: str,
    problem: Predicate,
    remediation: str,
    extra_controls: tuple[str, ...] = (),
) -> Check:
    """A check that reports ``problem(component)`` (a message, '' when fine) for every ``program`` container."""

    @check(
        id,
        title,
        severity,
        K8S,
        description=f"{program}: {title[0].lower() + title[1:]}. CIS Kubernetes Benchmark {cis}.",
        remediation=remediation,
        kinds=WORKLOAD_KINDS,
        controls=(f"{CIS_K8S}:{cis}", f"{NIST}:4.3.5", *extra_controls),
        references=(DOCS[program],),
    )  # fmt: skip
    def evaluate(resource: Resource) -> Iterator[Hit]:
        for comp in components(resource, program):
            message = problem(comp)
            if message:
                yield _hit(comp, message, flag)

    return evaluate


def _usable(value: str | None) -> bool:
    """A file or value argument that is set and is one word (``"a.key --other=x"`` is two flags run together)."""
    return bool(value) and not any(ch.isspace() for ch in str(value))


def missing(flag: str) -> Predicate:
    """Problem when ``--flag`` is absent, empty or malformed."""

    def problem(comp: Component) -> str:
        value = comp.get(flag)
        if _usable(value):
            return ""
        return f"--{flag} is not set" if not value else f"--{flag} has a malformed value {value!r}"

    return problem


def not_value(flag: str, wanted: str, default_ok: bool = False) -> Predicate:
    """Problem when ``--flag`` is not ``wanted`` (absent passes when the default is safe)."""

    def problem(comp: Component) -> str:
        value = comp.get(flag)
        if value is None:
            return "" if default_ok else f"--{flag} is not set to {wanted}"
        return "" if value.lower() == wanted else f"--{flag}={value}"

    return problem


def is_value(flag: str, bad: str) -> Predicate:
    """Problem when any ``--flag`` equals ``bad``."""
    return lambda comp: f"--{flag}={bad}" if any(v.lower() == bad for v in comp.every(flag)) else ""


def present(flag: str) -> Predicate:
    """Problem when ``--flag`` is set at all."""
    return lambda comp: f"--{flag} is set" if comp.get(flag) is not None else ""


def list_lacks(flag: str, item: str) -> Predicate:
    """Problem when the comma list ``--flag`` does not include ``item``."""
    return lambda comp: "" if item in comp.values(flag) else f"--{flag} does not include {item}"


def list_has(flag: str, item: str) -> Predicate:
    """Problem when the comma list ``--flag`` includes ``item``."""
    return lambda comp: f"--{flag} includes {item}" if item in comp.values(flag) else ""


def plugin_disabled(item: str) -> Predicate:
    """Problem when an admission plugin on by default is listed in --disable-admission-plugins."""
    return list_has("disable-admission-plugins", item)


def at_least(flag: str, minimum: int) -> Predicate:
    """Problem when the numeric ``--flag`` is absent or below ``minimum``."""

    def problem(comp: Component) -> str:
        value = comp.get(flag)
        if value is None:
            return f"--{flag} is not set"
        return "" if value.isdigit() and int(value) >= minimum else f"--{flag}={value} (below {minimum})"

    return problem


def both(first: str, second: str) -> Predicate:
    """Problem unless both flags are set to usable values."""

    def problem(comp: Component) -> str:
        if _usable(comp.get(first)) and _usable(comp.get(second)):
            return ""
        return f"--{first} and --{second} must both be set (one word each)"

    return problem


def pod_security_plugin(comp: Component) -> str:
    """CIS 1.2.13: SecurityContextDeny when PodSecurityPolicy is not used (PodSecurity, its successor, counts)."""
    enabled = set(comp.values("enable-admission-plugins"))
    if enabled & {"PodSecurityPolicy", "SecurityContextDeny", "PodSecurity"}:
        return ""
    return "neither SecurityContextDeny, PodSecurityPolicy nor PodSecurity is in --enable-admission-plugins"


def pod_security_admission(comp: Component) -> str:
    """No pod security admission plugin (PodSecurityPolicy or PodSecurity) is explicitly enabled."""
    enabled = set(comp.values("enable-admission-plugins"))
    if enabled & {"PodSecurityPolicy", "PodSecurity"} and "PodSecurity" not in comp.values("disable-admission-plugins"):
        return ""
    return "--enable-admission-plugins names neither PodSecurity nor PodSecurityPolicy"


def insecure_port(comp: Component) -> str:
    """--insecure-port other than 0, or an insecure bind address."""
    port = comp.get("insecure-port")
    if port not in (None, "0"):
        return f"--insecure-port={port}"
    return "--insecure-bind-address is set" if comp.get("insecure-bind-address") else ""


A, C, S, E = APISERVER, CONTROLLER, SCHEDULER, ETCD
_flags = [
    flag_check("SW-K8S-300", A, "Anonymous requests are allowed", MEDIUM, "1.2.1", "anonymous-auth",
               not_value("anonymous-auth", "false"), "Start kube-apiserver with --anonymous-auth=false."),
    flag_check("SW-K8S-301", A, "Static token authentication is enabled", MEDIUM, "1.2.2", "token-auth-file",
               present("token-auth-file"), "Remove --token-auth-file; use certificates or OIDC."),
    flag_check("SW-K8S-302", A, "Kubelet connections do not use HTTPS", MEDIUM, "1.2.4", "kubelet-https",
               is_value("kubelet-https", "false"), "Remove --kubelet-https=false."),
    flag_check("SW-K8S-303", A, "Kubelet client certificate not configured", MEDIUM, "1.2.5",
               "kubelet-client-certificate", both("kubelet-client-certificate", "kubelet-client-key"),
               "Set --kubelet-client-certificate and --kubelet-client-key."),
    flag_check("SW-K8S-304", A, "Kubelet certificate authority not configured", MEDIUM, "1.2.6",
               "kubelet-certificate-authority", missing("kubelet-certificate-authority"),
               "Set --kubelet-certificate-authority."),
    flag_check("SW-K8S-305", A, "Authorization mode AlwaysAllow", HIGH, "1.2.7", "authorization-mode",
               list_has("authorization-mode", "AlwaysAllow"), "Use --authorization-mode=Node,RBAC."),
    flag_check("SW-K8S-306", A, "Authorization mode lacks Node", MEDIUM, "1.2.8", "authorization-mode",
               list_lacks("authorization-mode", "Node"), "Include Node in --authorization-mode."),
    flag_check("SW-K8S-307", A, "Authorization mode lacks RBAC", MEDIUM, "1.2.9", "authorization-mode",
               list_lacks("authorization-mode", "RBAC"), "Include RBAC in --authorization-mode."),
    flag_check("SW-K8S-308", A, "EventRateLimit admission plugin not enabled", LOW, "1.2.10",
               "enable-admission-plugins", list_lacks("enable-admission-plugins", "EventRateLimit"),
               "Enable EventRateLimit with a configuration file."),
    flag_check("SW-K8S-309", A, "AlwaysAdmit admission plugin enabled", HIGH, "1.2.11", "enable-admission-plugins",
               list_has("enable-admission-plugins", "AlwaysAdmit"), "Remove AlwaysAdmit."),
    flag_check("SW-K8S-310", A, "AlwaysPullImages admission plugin not enabled", LOW, "1.2.12",
               "enable-admission-plugins", list_lacks("enable-admission-plugins", "AlwaysPullImages"),
               "Enable AlwaysPullImages."),
    flag_check("SW-K8S-311", A, "No pod security admission plugin", LOW, "1.2.13", "enable-admission-plugins",
               pod_security_plugin,
               "Enable PodSecurity (or SecurityContextDeny where PodSecurityPolicy is not used).", (f"{NSA}:C-0068",)),
    flag_check("SW-K8S-312", A, "ServiceAccount admission plugin disabled", MEDIUM, "1.2.14",
               "disable-admission-plugins", plugin_disabled("ServiceAccount"), "Do not disable ServiceAccount."),
    flag_check("SW-K8S-313", A, "NamespaceLifecycle admission plugin disabled", MEDIUM, "1.2.15",
               "disable-admission-plugins", plugin_disabled("NamespaceLifecycle"),
               "Do not disable NamespaceLifecycle."),
    flag_check("SW-K8S-314", A, "NodeRestriction admission plugin not enabled", MEDIUM, "1.2.16",
               "enable-admission-plugins", list_lacks("enable-admission-plugins", "NodeRestriction"),
               "Enable NodeRestriction."),
    flag_check("SW-K8S-315", A, "Secure port disabled", HIGH, "1.2.17", "secure-port", is_value("secure-port", "0"),
               "Do not set --secure-port=0."),
    flag_check("SW-K8S-316", A, "API server profiling enabled", LOW, "1.2.18", "profiling",
               not_value("profiling", "false"), "Set --profiling=false."),
    flag_check("SW-K8S-317", A, "API server audit log path not set", MEDIUM, "1.2.19", "audit-log-path",
               missing("audit-log-path"), "Set --audit-log-path.", (f"{NSA}:C-0067",)),
    flag_check("SW-K8S-318", A, "Audit log retention below 30 days", LOW, "1.2.20", "audit-log-maxage",
               at_least("audit-log-maxage", 30), "Set --audit-log-maxage=30 or more."),
    flag_check("SW-K8S-319", A, "Fewer than 10 audit log backups", LOW, "1.2.21", "audit-log-maxbackup",
               at_least("audit-log-maxbackup", 10), "Set --audit-log-maxbackup=10 or more."),
    flag_check("SW-K8S-320", A, "Audit log files smaller than 100 MB", LOW, "1.2.22", "audit-log-maxsize",
               at_least("audit-log-maxsize", 100), "Set --audit-log-maxsize=100 or more."),
    flag_check("SW-K8S-321", A, "Service account lookup disabled", MEDIUM, "1.2.24", "service-account-lookup",
               is_value("service-account-lookup", "false"), "Remove --service-account-lookup=false."),
    flag_check("SW-K8S-322", A, "Service account key file not set", MEDIUM, "1.2.25", "service-account-key-file",
               missing("service-account-key-file"), "Set --service-account-key-file."),
    flag_check("SW-K8S-323", A, "etcd client certificate not configured", MEDIUM, "1.2.26", "etcd-certfile",
               both("etcd-certfile", "etcd-keyfile"), "Set --etcd-certfile and --etcd-keyfile."),
    flag_check("SW-K8S-324", A, "API server TLS certificate not configured", MEDIUM, "1.2.27", "tls-cert-file",
               both("tls-cert-file", "tls-private-key-file"), "Set --tls-cert-file and --tls-private-key-file."),
    flag_check("SW-K8S-325", A, "Client CA file not set", MEDIUM, "1.2.28", "client-ca-file",
               missing("client-ca-file"), "Set --client-ca-file."),
    flag_check("SW-K8S-326", A, "etcd CA file not set", MEDIUM, "1.2.29", "etcd-cafile", missing("etcd-cafile"),
               "Set --etcd-cafile."),
    flag_check("SW-K8S-327", A, "Encryption at rest not configured", MEDIUM, "1.2.30", "encryption-provider-config",
               missing("encryption-provider-config"), "Set --encryption-provider-config.", (f"{NSA}:C-0066",)),
    flag_check("SW-K8S-328", A, "Insecure API server port enabled", HIGH, "1.2.17", "insecure-port", insecure_port,
               "Set --insecure-port=0 and remove --insecure-bind-address.", (f"{NSA}:C-0005",)),
    flag_check("SW-K8S-329", A, "Basic authentication file configured", HIGH, "1.2.2", "basic-auth-file",
               present("basic-auth-file"), "Remove --basic-auth-file."),
    flag_check("SW-K8S-330", A, "Pod security admission plugin not explicitly enabled", LOW, "5.2.1",
               "enable-admission-plugins", pod_security_admission,
               "Add PodSecurity to --enable-admission-plugins and label namespaces with an enforce level.",
               (f"{NSA}:C-0068",)),
    flag_check("SW-K8S-331", A, "Insecure port not explicitly disabled", LOW, "1.2.17", "insecure-port",
               lambda c: "" if c.get("insecure-port") == "0" else "--insecure-port is not set to 0",
               "Set --insecure-port=0 (Kubernetes before 1.24; the flag was removed in 1.24, where this finding can "
               "be suppressed)."),
    flag_check("SW-K8S-332", A, "Service account lookup not explicitly enabled", LOW, "1.2.24",
               "service-account-lookup", lambda c: "" if c.get("service-account-lookup") is not None else
               "--service-account-lookup is not set", "Set --service-account-lookup=true explicitly."),
    flag_check("SW-K8S-340", C, "Terminated pod garbage collection threshold not set", LOW, "1.3.1",
               "terminated-pod-gc-threshold", missing("terminated-pod-gc-threshold"),
               "Set --terminated-pod-gc-threshold."),
    flag_check("SW-K8S-341", C, "Controller manager profiling enabled", LOW, "1.3.2", "profiling",
               not_value("profiling", "false"), "Set --profiling=false."),
    flag_check("SW-K8S-342", C, "Service account credentials not used per controller", MEDIUM, "1.3.3",
               "use-service-account-credentials", not_value("use-service-account-credentials", "true"),
               "Set --use-service-account-credentials=true."),
    flag_check("SW-K8S-343", C, "Service account private key file not set", MEDIUM, "1.3.4",
               "service-account-private-key-file", missing("service-account-private-key-file"),
               "Set --service-account-private-key-file."),
    flag_check("SW-K8S-344", C, "Root CA file not set", MEDIUM, "1.3.5", "root-ca-file", missing("root-ca-file"),
               "Set --root-ca-file."),
    flag_check("SW-K8S-345", C, "Kubelet server certificate rotation disabled", MEDIUM, "1.3.6", "feature-gates",
               lambda c: "RotateKubeletServerCertificate=false" if "RotateKubeletServerCertificate=false"
               in c.values("feature-gates") else "", "Do not disable RotateKubeletServerCertificate."),
    flag_check("SW-K8S-346", C, "Controller manager not bound to localhost", LOW, "1.3.7", "bind-address",
               not_value("bind-address", "127.0.0.1"), "Set --bind-address=127.0.0.1."),
    flag_check("SW-K8S-350", S, "Scheduler profiling enabled", LOW, "1.4.1", "profiling",
               not_value("profiling", "false"), "Set --profiling=false."),
    flag_check("SW-K8S-351", S, "Scheduler not bound to localhost", LOW, "1.4.2", "bind-address",
               not_value("bind-address", "127.0.0.1"), "Set --bind-address=127.0.0.1."),
    flag_check("SW-K8S-360", E, "etcd serves clients without TLS", MEDIUM, "2.1", "cert-file",
               both("cert-file", "key-file"), "Set --cert-file and --key-file."),
    flag_check("SW-K8S-361", E, "etcd does not require client certificates", MEDIUM, "2.2", "client-cert-auth",
               not_value("client-cert-auth", "true"), "Set --client-cert-auth=true."),
    flag_check("SW-K8S-362", E, "etcd uses self-signed client certificates", MEDIUM, "2.3", "auto-tls",
               is_value("auto-tls", "true"), "Remove --auto-tls=true."),
    flag_check("SW-K8S-363", E, "etcd peers communicate without TLS", MEDIUM, "2.4", "peer-cert-file",
               both("peer-cert-file", "peer-key-file"), "Set --peer-cert-file and --peer-key-file."),
    flag_check("SW-K8S-364", E, "etcd does not require peer certificates", MEDIUM, "2.5", "peer-client-cert-auth",
               not_value("peer-client-cert-auth", "true"), "Set --peer-client-cert-auth=true."),
    flag_check("SW-K8S-365", E, "etcd uses self-signed peer certificates", MEDIUM, "2.6", "peer-auto-tls",
               is_value("peer-auto-tls", "true"), "Remove --peer-auto-tls=true."),
]  # fmt: skip

CHECKS: tuple[Check, ...] = tuple(_flags)
