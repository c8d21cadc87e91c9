"""Kubernetes workload checks (input ``kubernetes``): every pod-bearing kind, CronJob jobTemplate included.

Severity policy: HIGH/CRITICAL only for a dangerous setting that is present
(privileged, host namespaces, the Docker socket, SYS_ADMIN...); a missing
hardening setting (no runAsNonRoot, no limits, no seccomp profile) is
MEDIUM or LOW.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from shieldwall.misconfig.check import Check, Evaluate, Hit, InputKind, Resource, ResourceRef, check
from shieldwall.misconfig.checks._common import (
    CIS_K8S,
    NIST,
    NSA,
    PCI,
    PSS_BASELINE,
    PSS_RESTRICTED,
    SECRET_VALUE,
    SSH_PORTS,
    literal_secret,
    parse_image,
    secret_like_name,
)
from shieldwall.misconfig.checks._k8s import (
    CLUSTER_SCOPED,
    all_containers,
    capabilities,
    container_hit,
    doc,
    effective,
    falsy,
    int_or_none,
    mapping,
    path_lines,
    pod_annotations,
    pod_hit,
    pod_security,
    sequence,
    spec_of,
    truthy,
)
from shieldwall.misconfig.checks._shell import commands
from shieldwall.misconfig.inputs.kubernetes import WORKLOAD_KINDS, Container, control_plane_component
from shieldwall.misconfig.yamlload import YamlMap
from shieldwall.model import Severity

K8S = InputKind.KUBERNETES
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
PSS_DOC = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SEC_CTX_DOC = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"


def workload(
    id: str,
    title: str,
    severity: Severity,
    *,
    description: str,
    remediation: str,
    controls: Iterable[str] = (),
    references: Iterable[str] = (PSS_DOC,),
) -> Callable[[Evaluate], Check]:
    """``check`` for every pod-bearing kind."""
    return check(
        id, title, severity, K8S, description=description, remediation=remediation, kinds=WORKLOAD_KINDS,
        controls=controls, references=references,
    )  # fmt: skip


# ---------------------------------------------------------------- privileges and host namespaces


@workload(
    "SW-K8S-001",
    "Privileged container",
    CRITICAL,
    description="A privileged container has every capability and access to all host devices: it is root on the node.",
    remediation="Remove 'securityContext.privileged: true'; grant only the capabilities the workload needs.",
    controls=(f"{CIS_K8S}:5.2.2", f"{PSS_BASELINE}:privileged", f"{NSA}:C-0057", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
)
def _privileged(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if truthy(c.security.get("privileged")):
            yield container_hit(c, "runs privileged", "securityContext", "privileged")


def _host_namespace(resource: Resource, field: str, what: str) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is not None and truthy(spec.get(field)):
        yield pod_hit(resource, f"shares the host's {what} namespace ({field}: true)", field)


@workload(
    "SW-K8S-002",
    "Pod shares the host PID namespace",
    HIGH,
    description="With hostPID the pod sees and can signal every process on the node, and read their "
    "environment through /proc.",
    remediation="Remove 'hostPID: true'.",
    controls=(f"{CIS_K8S}:5.2.3", f"{PSS_BASELINE}:host-namespaces", f"{NSA}:C-0038", f"{NIST}:4.4.3"),
)
def _host_pid(resource: Resource) -> Iterator[Hit]:
    yield from _host_namespace(resource, "hostPID", "process ID")


@workload(
    "SW-K8S-003",
    "Pod shares the host IPC namespace",
    HIGH,
    description="With hostIPC the pod can read and write shared memory of every process on the node.",
    remediation="Remove 'hostIPC: true'.",
    controls=(f"{CIS_K8S}:5.2.4", f"{PSS_BASELINE}:host-namespaces", f"{NSA}:C-0038", f"{NIST}:4.4.3"),
)
def _host_ipc(resource: Resource) -> Iterator[Hit]:
    yield from _host_namespace(resource, "hostIPC", "IPC")


@workload(
    "SW-K8S-004",
    "Pod uses the host network",
    HIGH,
    description="With hostNetwork the pod binds to the node's interfaces, sees all its traffic and bypasses "
    "network policies.",
    remediation="Remove 'hostNetwork: true'; expose the workload through a Service.",
    controls=(f"{CIS_K8S}:5.2.5", f"{PSS_BASELINE}:host-namespaces", f"{NSA}:C-0041", f"{NIST}:4.4.2"),
)
def _host_network(resource: Resource) -> Iterator[Hit]:
    if not control_plane_component(doc(resource)):
        yield from _host_namespace(resource, "hostNetwork", "network")


@workload(
    "SW-K8S-005",
    "Container allows privilege escalation",
    MEDIUM,
    description="Unless allowPrivilegeEscalation is false, a process can gain more privileges than its parent "
    "(setuid binaries, file capabilities).",
    remediation="Set 'securityContext.allowPrivilegeEscalation: false' on every container.",
    controls=(f"{CIS_K8S}:5.2.6", f"{PSS_RESTRICTED}:privilege-escalation", f"{NSA}:C-0016", f"{NIST}:4.4.3"),
    references=(PSS_DOC, SEC_CTX_DOC),
)
def _privilege_escalation(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        value = c.security.get("allowPrivilegeEscalation")
        if not falsy(value):
            message = "allows privilege escalation" if truthy(value) else "does not set allowPrivilegeEscalation: false"
            yield container_hit(c, message, "securityContext", "allowPrivilegeEscalation")


def _non_root(resource: Resource, c: Container) -> bool:
    user = int_or_none(effective(resource, c, "runAsUser"))
    return truthy(effective(resource, c, "runAsNonRoot")) or (user is not None and user > 0)


@workload(
    "SW-K8S-006",
    "Container may run as root",
    MEDIUM,
    description="Neither runAsNonRoot: true nor a non-zero runAsUser is set, so the container runs as "
    "whatever user the image names -- often root.",
    remediation="Set 'runAsNonRoot: true' (and a 'runAsUser' above 10000) in the pod or container "
    "securityContext.",
    controls=(f"{CIS_K8S}:5.2.7", f"{PSS_RESTRICTED}:running-as-non-root", f"{NSA}:C-0013", f"{NIST}:4.4.3",
              f"{PCI}:2.2.1"),
    references=(PSS_DOC, SEC_CTX_DOC),
)  # fmt: skip
def _may_run_as_root(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        user = int_or_none(effective(resource, c, "runAsUser"))
        if user == 0:
            continue  # SW-K8S-007 reports the explicit root user
        if not _non_root(resource, c):
            yield container_hit(c, "may run as root (no runAsNonRoot: true)", "securityContext")


@workload(
    "SW-K8S-007",
    "Container runs as UID 0",
    HIGH,
    description="runAsUser: 0 runs the container's processes as root.",
    remediation="Use a non-zero runAsUser and set runAsNonRoot: true.",
    controls=(f"{CIS_K8S}:5.2.7", f"{PSS_RESTRICTED}:running-as-non-root-user", f"{NSA}:C-0013", f"{NIST}:4.4.3"),
    references=(PSS_DOC, SEC_CTX_DOC),
)
def _run_as_root(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if int_or_none(c.security.get("runAsUser")) == 0:
            yield container_hit(c, "runs as UID 0", "securityContext", "runAsUser")
        elif "runAsUser" not in c.security and int_or_none(pod_security(resource).get("runAsUser")) == 0:
            yield pod_hit(resource, f"pod runAsUser 0 applies to container {c.name}", "securityContext", "runAsUser")


@workload(
    "SW-K8S-008",
    "Container runs with the root group",
    MEDIUM,
    description="runAsGroup, fsGroup or supplementalGroups of 0 give the processes root's group and its file access.",
    remediation="Use non-zero group IDs.",
    controls=(f"{NSA}:C-0013", f"{NIST}:4.4.3"),
    references=(SEC_CTX_DOC,),
)
def _root_group(resource: Resource) -> Iterator[Hit]:
    pod = pod_security(resource)
    for key in ("fsGroup", "runAsGroup"):
        if int_or_none(pod.get(key)) == 0:
            yield pod_hit(resource, f"pod {key} is 0", "securityContext", key)
    if any(int_or_none(g) == 0 for g in sequence(pod.get("supplementalGroups"))):
        yield pod_hit(resource, "supplementalGroups include 0", "securityContext", "supplementalGroups")
    for c in all_containers(resource):
        if int_or_none(c.security.get("runAsGroup")) == 0:
            yield container_hit(c, "runAsGroup is 0", "securityContext", "runAsGroup")


@workload(
    "SW-K8S-009",
    "Root filesystem is writable",
    LOW,
    description="A writable root filesystem lets an intruder modify binaries and drop tools.",
    remediation="Set 'readOnlyRootFilesystem: true' and mount emptyDir volumes where writes are needed.",
    controls=(f"{NSA}:C-0017", f"{NIST}:4.4.3", f"{CIS_K8S}:5.7.3"),
    references=(SEC_CTX_DOC,),
)
def _writable_root(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if not truthy(c.security.get("readOnlyRootFilesystem")):
            yield container_hit(c, "root filesystem is writable", "securityContext", "readOnlyRootFilesystem")


# ---------------------------------------------------------------- capabilities

BASELINE_CAPS = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
     "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)  # fmt: skip


@workload(
    "SW-K8S-010",
    "Container adds CAP_SYS_ADMIN",
    HIGH,
    description="SYS_ADMIN is close to full root: mount, namespaces, BPF and many container escapes.",
    remediation="Remove SYS_ADMIN from capabilities.add.",
    controls=(f"{CIS_K8S}:5.2.9", f"{PSS_BASELINE}:capabilities", f"{NIST}:4.4.3", f"{NSA}:C-0046"),
)
def _sys_admin(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if "SYS_ADMIN" in capabilities(c)[0]:
            yield container_hit(c, "adds SYS_ADMIN", "securityContext", "capabilities", "add")


@workload(
    "SW-K8S-011",
    "Container adds all capabilities",
    HIGH,
    description="capabilities.add: [ALL] grants every capability, as good as privileged.",
    remediation="Add only the specific capabilities needed, if any.",
    controls=(f"{CIS_K8S}:5.2.9", f"{PSS_BASELINE}:capabilities", f"{NIST}:4.4.3", f"{NSA}:C-0046"),
)
def _all_caps(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if "ALL" in capabilities(c)[0]:
            yield container_hit(c, "adds ALL capabilities", "securityContext", "capabilities", "add")


@workload(
    "SW-K8S-012",
    "Container adds a capability outside the baseline set",
    HIGH,
    description="Capabilities such as NET_ADMIN, SYS_PTRACE, SYS_MODULE, BPF or NET_RAW-beyond-default are "
    "not allowed by the Pod Security Standards baseline profile.",
    remediation="Drop the capability; if it is really needed, isolate the workload on dedicated nodes.",
    controls=(f"{CIS_K8S}:5.2.9", f"{PSS_BASELINE}:capabilities", f"{NIST}:4.4.3", f"{NSA}:C-0046"),
)
def _non_baseline_caps(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        extra = [cap for cap in capabilities(c)[0] if cap not in BASELINE_CAPS and cap not in ("SYS_ADMIN", "ALL")]
        if extra:
            yield container_hit(
                c, f"adds {', '.join(extra)}", "securityContext", "capabilities", "add", found=",".join(extra)
            )


@workload(
    "SW-K8S-013",
    "Container adds capabilities",
    LOW,
    description="The restricted profile allows adding only NET_BIND_SERVICE; every added capability widens "
    "what a compromised process can do.",
    remediation="Remove capabilities.add, or keep only NET_BIND_SERVICE.",
    controls=(f"{CIS_K8S}:5.2.10", f"{PSS_RESTRICTED}:capabilities-restricted", f"{NIST}:4.4.3"),
)
def _added_caps(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        added = capabilities(c)[0]
        if added:
            yield container_hit(
                c, f"adds {', '.join(added)}", "securityContext", "capabilities", "add", found=",".join(added)
            )


@workload(
    "SW-K8S-014",
    "Container does not drop all capabilities",
    LOW,
    description="The restricted profile requires capabilities.drop: [ALL]; the runtime's default set "
    "includes NET_RAW, SETUID, DAC_OVERRIDE and more.",
    remediation="Set 'capabilities: {drop: [ALL]}' and add back only what is needed.",
    controls=(f"{CIS_K8S}:5.2.10", f"{PSS_RESTRICTED}:capabilities-restricted", f"{NIST}:4.4.3", f"{NSA}:C-0055"),
)
def _no_drop_all(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if "ALL" not in capabilities(c)[1]:
            yield container_hit(c, "does not drop ALL capabilities", "securityContext", "capabilities")


@workload(
    "SW-K8S-015",
    "Container keeps CAP_NET_RAW",
    LOW,
    description="NET_RAW (in the default set) allows crafting packets: ARP and DNS spoofing inside the node.",
    remediation="Drop NET_RAW (or ALL).",
    controls=(f"{CIS_K8S}:5.2.8", f"{NIST}:4.4.2"),
)
def _net_raw(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        added, dropped = capabilities(c)
        if "NET_RAW" in added or not ({"ALL", "NET_RAW"} & set(dropped)):
            yield container_hit(c, "keeps NET_RAW", "securityContext", "capabilities")


# ---------------------------------------------------------------- volumes

_RUNTIME_SOCKETS = re.compile(
    r"^/(?:var/)?run/(?:docker\.sock|containerd/containerd\.sock|crio/crio\.sock|cri-dockerd\.sock|"
    r"dockershim\.sock|podman/podman\.sock|k3s/containerd/containerd\.sock)$|^/var/run/?$|^/run/?$|"
    r"^/var/run/docker/?$|^/run/containerd/?$|^/var/lib/docker/?$"
)
_SENSITIVE_HOST = re.compile(
    r"^/(?:|etc(?:/.*)?|proc(?:/.*)?|sys(?:/.*)?|dev(?:/.*)?|boot(?:/.*)?|root(?:/.*)?|home(?:/.*)?|"
    r"var/lib/kubelet(?:/.*)?|etc/kubernetes(?:/.*)?|var/lib/etcd(?:/.*)?|var/log(?:/.*)?|usr(?:/.*)?|"
    r"bin|sbin|lib|lib64|var/lib/docker(?:/.*)?|var/lib/containerd(?:/.*)?|var/run/secrets(?:/.*)?)$"
)


def _host_paths(resource: Resource) -> Iterator[tuple[str, str, tuple[int, int]]]:
    """(volume name, host path, lines) for every hostPath volume (none for control-plane static pods)."""
    spec = spec_of(resource)
    if spec is None or control_plane_component(doc(resource)):
        return
    volumes = sequence(spec.get("volumes"))
    for index, volume in enumerate(volumes):
        volume = mapping(volume)
        host = mapping(volume.get("hostPath"))
        if "hostPath" in volume:
            path = str(host.get("path", "")).rstrip("/") or "/"
            yield str(volume.get("name", "")), path, volumes.lines_of(index)


@workload(
    "SW-K8S-016",
    "hostPath volume",
    MEDIUM,
    description="A hostPath volume exposes a node directory to the pod; writes reach the node and reads "
    "can expose other workloads' data.",
    remediation="Use persistent volumes, configMaps, secrets or emptyDir instead of hostPath.",
    controls=(f"{CIS_K8S}:5.2.12", f"{PSS_BASELINE}:hostpath-volumes", f"{NIST}:4.4.3"),
)
def _host_path(resource: Resource) -> Iterator[Hit]:
    for name, path, (start, end) in _host_paths(resource):
        yield Hit(f"mounts host path {path} (volume {name})", start, end, ResourceRef("volume", name), name, path)


@workload(
    "SW-K8S-017",
    "Container runtime socket mounted",
    HIGH,
    description="Access to the Docker/containerd/CRI-O socket means control of every container on the node "
    "and, through a privileged container, of the node itself.",
    remediation="Do not mount the runtime socket; use a dedicated, audited API (e.g. a build service).",
    controls=(f"{CIS_K8S}:5.2.12", f"{PSS_BASELINE}:hostpath-volumes", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
)
def _runtime_socket(resource: Resource) -> Iterator[Hit]:
    for name, path, (start, end) in _host_paths(resource):
        if _RUNTIME_SOCKETS.match(path):
            yield Hit(
                f"mounts the container runtime socket {path}", start, end, ResourceRef("volume", name), name, path
            )


@workload(
    "SW-K8S-018",
    "Sensitive host directory mounted",
    HIGH,
    description="Mounting /, /etc, /proc, /sys, /root, /var/lib/kubelet, /etc/kubernetes and similar paths "
    "exposes node credentials and configuration to the pod.",
    remediation="Remove the hostPath volume or mount a narrow, non-sensitive directory read-only.",
    controls=(f"{CIS_K8S}:5.2.12", f"{PSS_BASELINE}:hostpath-volumes", f"{NIST}:4.4.3"),
)
def _sensitive_host_path(resource: Resource) -> Iterator[Hit]:
    for name, path, (start, end) in _host_paths(resource):
        if _SENSITIVE_HOST.match(path) and not _RUNTIME_SOCKETS.match(path):
            yield Hit(f"mounts sensitive host path {path}", start, end, ResourceRef("volume", name), name, path)


@workload(
    "SW-K8S-019",
    "hostPath volume mounted read-write",
    MEDIUM,
    description="A writable hostPath mount lets the container change files on the node.",
    remediation="Mount hostPath volumes with 'readOnly: true', or avoid them.",
    controls=(f"{CIS_K8S}:5.2.12", f"{NIST}:4.4.3"),
)
def _host_path_rw(resource: Resource) -> Iterator[Hit]:
    names = {name for name, _, _ in _host_paths(resource)}
    for c in all_containers(resource):
        mounts = sequence(c.spec.get("volumeMounts"))
        for index, mount in enumerate(mounts):
            mount = mapping(mount)
            name = str(mount.get("name", ""))
            if name in names and not truthy(mount.get("readOnly")):
                start, end = mounts.lines_of(index)
                yield Hit(
                    f"mounts hostPath volume {name} read-write",
                    start,
                    end,
                    ResourceRef("container", c.name),
                    f"{c.name}/{name}",
                    str(mount.get("mountPath", "")),
                )


_CORE_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
     "name", "image"}
)  # fmt: skip


@workload(
    "SW-K8S-020",
    "Volume type not allowed by the restricted profile",
    LOW,
    description="The restricted profile allows only configMap, csi, downwardAPI, emptyDir, ephemeral, "
    "persistentVolumeClaim, projected and secret volumes; other in-tree types reach node or storage "
    "credentials directly.",
    remediation="Use a PersistentVolumeClaim (with a CSI driver) instead of the in-tree volume type.",
    controls=(f"{PSS_RESTRICTED}:volume-types",),
)
def _volume_types(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is None:
        return
    volumes = sequence(spec.get("volumes"))
    for index, volume in enumerate(volumes):
        volume = mapping(volume)
        kinds = [k for k in volume if k not in _CORE_VOLUMES]
        if kinds:
            start, end = volumes.lines_of(index)
            name = str(volume.get("name", ""))
            yield Hit(f"volume {name} is of type {kinds[0]}", start, end, ResourceRef("volume", name), name, kinds[0])


# ---------------------------------------------------------------- seccomp, AppArmor, SELinux, proc, sysctls

_SECCOMP_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_type(resource: Resource, c: Container) -> str:
    profile = c.security.get("seccompProfile")
    if isinstance(profile, YamlMap):
        return str(profile.get("type", ""))
    notes = pod_annotations(resource)
    legacy = notes.get(_SECCOMP_CONTAINER_ANNOTATION + c.name) or None
    pod_profile = pod_security(resource).get("seccompProfile")
    if legacy is None and isinstance(pod_profile, YamlMap):
        return str(pod_profile.get("type", ""))
    legacy = legacy or notes.get(_SECCOMP_ANNOTATION)
    if isinstance(legacy, str):
        if legacy in ("runtime/default", "docker/default"):
            return "RuntimeDefault"
        if legacy.startswith("localhost/"):
            return "Localhost"
        if legacy == "unconfined":
            return "Unconfined"
        return legacy
    return ""


@workload(
    "SW-K8S-021",
    "Seccomp profile not set to RuntimeDefault or Localhost",
    LOW,
    description="Without a seccomp profile the container can call every system call, including the rarely "
    "needed ones most kernel exploits use.",
    remediation="Set 'securityContext.seccompProfile.type: RuntimeDefault' on the pod.",
    controls=(f"{CIS_K8S}:5.7.2", f"{PSS_RESTRICTED}:seccomp-restricted", f"{NSA}:C-0055", f"{NIST}:4.4.3"),
    references=("https://kubernetes.io/docs/tutorials/security/seccomp/",),
)
def _seccomp_missing(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        kind = _seccomp_type(resource, c)
        if kind not in ("RuntimeDefault", "Localhost", "Unconfined"):
            yield container_hit(c, f"seccomp profile is {kind or 'not set'}", "securityContext", "seccompProfile")


@workload(
    "SW-K8S-022",
    "Seccomp profile is Unconfined",
    MEDIUM,
    description="An Unconfined seccomp profile explicitly turns system-call filtering off.",
    remediation="Use the RuntimeDefault profile (or a Localhost profile).",
    controls=(f"{CIS_K8S}:5.7.2", f"{PSS_BASELINE}:seccomp", f"{NSA}:C-0055", f"{NIST}:4.4.3"),
    references=("https://kubernetes.io/docs/tutorials/security/seccomp/",),
)
def _seccomp_unconfined(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if _seccomp_type(resource, c) == "Unconfined":
            yield container_hit(c, "seccomp profile is Unconfined", "securityContext", "seccompProfile")


_APPARMOR = "container.apparmor.security.beta.kubernetes.io/"


@workload(
    "SW-K8S-023",
    "AppArmor profile disabled or overridden",
    MEDIUM,
    description="The baseline profile allows only the runtime default AppArmor profile or a localhost "
    "profile; 'unconfined' (or another value) removes the confinement.",
    remediation="Use 'runtime/default' or 'localhost/<profile>' (appArmorProfile.type RuntimeDefault or Localhost).",
    controls=(f"{PSS_BASELINE}:apparmor", f"{NSA}:C-0055", f"{NIST}:4.4.3"),
    references=("https://kubernetes.io/docs/tutorials/security/apparmor/",),
)
def _apparmor(resource: Resource) -> Iterator[Hit]:
    notes = pod_annotations(resource)
    for key, value in notes.items():
        if isinstance(key, str) and key.startswith(_APPARMOR):
            text = str(value)
            if text not in ("runtime/default",) and not text.startswith("localhost/"):
                start, end = notes.lines_of(key)
                name = key.removeprefix(_APPARMOR)
                yield Hit(f"AppArmor profile is {text!r}", start, end, ResourceRef("container", name), name, text)
    sources: list[tuple[YamlMap, Container | None]] = [(pod_security(resource), None)]
    sources += [(c.security, c) for c in all_containers(resource)]
    for ctx, c in sources:
        profile = mapping(ctx.get("appArmorProfile"))
        kind = str(profile.get("type", ""))
        if kind and kind not in ("RuntimeDefault", "Localhost"):
            if c is None:
                yield pod_hit(resource, f"pod AppArmor profile is {kind}", "securityContext", "appArmorProfile")
            else:
                yield container_hit(c, f"AppArmor profile is {kind}", "securityContext", "appArmorProfile")


_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _selinux_problem(options: YamlMap) -> str:
    kind = str(options.get("type") or "")
    if kind not in _SELINUX_TYPES:
        return f"SELinux type {kind}"
    for field in ("user", "role"):
        if options.get(field):
            return f"SELinux {field} {options.get(field)}"
    return ""


@workload(
    "SW-K8S-024",
    "Custom SELinux options",
    MEDIUM,
    description="Setting a custom SELinux type, user or role can lift the container's confinement.",
    remediation="Remove seLinuxOptions, or use a container_t type without user and role.",
    controls=(f"{PSS_BASELINE}:selinux", f"{NSA}:C-0055", f"{NIST}:4.4.3"),
)
def _selinux(resource: Resource) -> Iterator[Hit]:
    problem = _selinux_problem(mapping(pod_security(resource).get("seLinuxOptions")))
    if problem:
        yield pod_hit(resource, f"pod sets {problem}", "securityContext", "seLinuxOptions")
    for c in all_containers(resource):
        problem = _selinux_problem(mapping(c.security.get("seLinuxOptions")))
        if problem:
            yield container_hit(c, f"sets {problem}", "securityContext", "seLinuxOptions")


@workload(
    "SW-K8S-025",
    "Unmasked /proc mount",
    MEDIUM,
    description="procMount: Unmasked exposes kernel interfaces in /proc that the runtime normally hides.",
    remediation="Remove procMount or set it to Default.",
    controls=(f"{PSS_BASELINE}:proc-mount", f"{NIST}:4.4.3"),
)
def _proc_mount(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        value = c.security.get("procMount")
        if value is not None and str(value) != "Default":
            yield container_hit(c, f"procMount is {value}", "securityContext", "procMount")


SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
     "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
     "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
     "net.ipv4.tcp_keepalive_probes"}
)  # fmt: skip


@workload(
    "SW-K8S-026",
    "Unsafe sysctls",
    MEDIUM,
    description="Only a small set of namespaced sysctls is safe; others affect the whole node or other pods.",
    remediation="Remove the sysctl, or set it on dedicated nodes through the kubelet's allowed-unsafe-sysctls.",
    controls=(f"{PSS_BASELINE}:sysctls", f"{NIST}:4.4.3"),
)
def _sysctls(resource: Resource) -> Iterator[Hit]:
    items = sequence(pod_security(resource).get("sysctls"))
    for index, item in enumerate(items):
        name = str(mapping(item).get("name", ""))
        if name and name not in SAFE_SYSCTLS:
            start, end = items.lines_of(index)
            yield Hit(f"sets unsafe sysctl {name}", start, end, ResourceRef("sysctl", name), name, name)


@workload(
    "SW-K8S-027",
    "Container uses a host port",
    MEDIUM,
    description="hostPort binds the container to the node's address, bypassing Services and network policies "
    "and limiting scheduling.",
    remediation="Remove hostPort; expose the workload through a Service.",
    controls=(f"{CIS_K8S}:5.2.13", f"{PSS_BASELINE}:host-ports", f"{NIST}:4.4.2", f"{NSA}:C-0044"),
)
def _host_port(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        ports = sequence(c.spec.get("ports"))
        for index, port in enumerate(ports):
            value = int_or_none(mapping(port).get("hostPort"))
            if value:
                start, end = ports.lines_of(index)
                yield Hit(f"uses hostPort {value}", start, end, ResourceRef("container", c.name), f"{c.name}/{value}")


@workload(
    "SW-K8S-028",
    "Windows HostProcess container",
    HIGH,
    description="A HostProcess container runs directly on the Windows node with its privileges.",
    remediation="Remove windowsOptions.hostProcess.",
    controls=(f"{CIS_K8S}:5.2.11", f"{PSS_BASELINE}:hostprocess", f"{NIST}:4.4.3"),
)
def _host_process(resource: Resource) -> Iterator[Hit]:
    if truthy(mapping(pod_security(resource).get("windowsOptions")).get("hostProcess")):
        yield pod_hit(resource, "pod is a Windows HostProcess pod", "securityContext", "windowsOptions")
    for c in all_containers(resource):
        if truthy(mapping(c.security.get("windowsOptions")).get("hostProcess")):
            yield container_hit(c, "is a HostProcess container", "securityContext", "windowsOptions")


# ---------------------------------------------------------------- resources


def _resource_check(resource: Resource, section: str, kind: str) -> Iterator[Hit]:
    for c in all_containers(resource):
        if c.group == "ephemeralContainers":
            continue
        values = mapping(mapping(c.spec.get("resources")).get(section))
        if values.get(kind) in (None, ""):
            yield container_hit(c, f"has no {kind} {section[:-1] if section.endswith('s') else section}", "resources")


def _resources(id: str, section: str, kind: str, severity: Severity) -> Check:
    noun = "limit" if section == "limits" else "request"

    @workload(
        id,
        f"{kind.upper() if kind == 'cpu' else kind.capitalize()} {noun} not set",
        severity,
        description=f"Without a {kind} {noun} a container can "
        + ("starve its neighbours on the node (denial of service)." if section == "limits"
           else "be scheduled onto a node without room for it and be evicted first."),
        remediation=f"Set resources.{section}.{kind} on every container.",
        controls=(f"{NSA}:C-0009", f"{NIST}:4.4.3"),
        references=("https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",),
    )  # fmt: skip
    def evaluate(resource: Resource) -> Iterator[Hit]:
        yield from _resource_check(resource, section, kind)

    return evaluate


_cpu_limit = _resources("SW-K8S-029", "limits", "cpu", LOW)
_cpu_request = _resources("SW-K8S-030", "requests", "cpu", LOW)
_memory_limit = _resources("SW-K8S-031", "limits", "memory", LOW)
_memory_request = _resources("SW-K8S-032", "requests", "memory", LOW)


# ---------------------------------------------------------------- images


@workload(
    "SW-K8S-033",
    "Image uses the 'latest' tag or no tag",
    MEDIUM,
    description="A mutable tag means different nodes may run different code, and rollbacks are impossible.",
    remediation="Pin the image to a version tag (and digest).",
    controls=(f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
    references=("https://kubernetes.io/docs/concepts/containers/images/",),
)
def _image_latest(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        image = str(c.spec.get("image", ""))
        ref = parse_image(image)
        if image and not ref.variable and ref.unpinned:
            yield container_hit(c, f"image {image!r} is not pinned to a version", "image", found=image)


@workload(
    "SW-K8S-034",
    "Image not pinned by digest",
    LOW,
    description="A tag can be moved to another image; only a digest names exact content.",
    remediation="Reference images by digest: 'registry/app:1.2@sha256:...'.",
    controls=(f"{NIST}:4.1.5",),
    references=("https://kubernetes.io/docs/concepts/containers/images/",),
)
def _image_digest(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        image = str(c.spec.get("image", ""))
        ref = parse_image(image)
        if image and not ref.variable and not ref.pinned_digest:
            yield container_hit(c, f"image {image!r} has no digest", "image", found=image)


@workload(
    "SW-K8S-035",
    "imagePullPolicy is not Always",
    LOW,
    description="With IfNotPresent or Never a node reuses whatever image it cached under the tag, bypassing "
    "registry authorisation and any update.",
    remediation="Set 'imagePullPolicy: Always' (or pin images by digest).",
    controls=(f"{NIST}:4.1.5",),
    references=("https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy",),
)
def _pull_policy(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        policy = c.spec.get("imagePullPolicy")
        image = parse_image(str(c.spec.get("image", "")))
        if policy == "Always" or (policy is None and image.unpinned) or image.pinned_digest:
            continue
        yield container_hit(c, f"imagePullPolicy is {policy or 'IfNotPresent (default)'}", "imagePullPolicy")


# ---------------------------------------------------------------- secrets and service accounts


def _env_items(c: Container) -> Iterator[tuple[int, YamlMap, tuple[int, int]]]:
    env = sequence(c.spec.get("env"))
    for index, item in enumerate(env):
        if isinstance(item, YamlMap):
            yield index, item, env.lines_of(index)


@workload(
    "SW-K8S-036",
    "Secret in a container environment variable",
    HIGH,
    description="A literal password, token or key in 'env.value' is stored in the manifest, in etcd and in "
    "every tool that reads the pod spec.",
    remediation="Move the value to a Secret and mount it as a file (or reference it with secretKeyRef).",
    controls=(f"{CIS_K8S}:5.4.1", f"{NIST}:4.1.4", f"{PCI}:8.6.2", f"{NSA}:C-0012"),
    references=("https://kubernetes.io/docs/concepts/configuration/secret/",),
)
def _env_secret(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        for _, item, (start, end) in _env_items(c):
            name = str(item.get("name", ""))
            value = item.get("value")
            literal = isinstance(value, str) and literal_secret(value) and not value.startswith("/")
            if (secret_like_name(name) and literal) or (isinstance(value, str) and SECRET_VALUE.search(value)):
                yield Hit(
                    f"env {name} holds a literal secret", start, end, ResourceRef("container", c.name),
                    f"{c.name}/{name}", name,
                )  # fmt: skip


@workload(
    "SW-K8S-037",
    "Secret exposed as an environment variable",
    LOW,
    description="Secrets in environment variables leak through logs, crash dumps and child processes; files are safer.",
    remediation="Mount the Secret as a volume instead of secretKeyRef/envFrom.secretRef.",
    controls=(f"{CIS_K8S}:5.4.1", f"{NIST}:4.1.4"),
    references=("https://kubernetes.io/docs/concepts/configuration/secret/",),
)
def _secret_env_ref(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        for _, item, (start, end) in _env_items(c):
            if "secretKeyRef" in mapping(item.get("valueFrom")):
                name = str(item.get("name", ""))
                yield Hit(
                    f"env {name} comes from a Secret", start, end, ResourceRef("container", c.name), f"{c.name}/{name}"
                )
        sources = sequence(c.spec.get("envFrom"))
        for index, source in enumerate(sources):
            if "secretRef" in mapping(source):
                start, end = sources.lines_of(index)
                yield Hit(
                    "envFrom imports a whole Secret", start, end, ResourceRef("container", c.name), f"{c.name}/envFrom"
                )


@workload(
    "SW-K8S-038",
    "Service account token mounted automatically",
    LOW,
    description="Unless automountServiceAccountToken is false, every pod gets an API token it rarely needs; "
    "a compromised pod can use it against the API server.",
    remediation="Set 'automountServiceAccountToken: false' on the pod (or its service account).",
    controls=(f"{CIS_K8S}:5.1.6", f"{NSA}:C-0034", f"{NIST}:4.3.2"),
    references=("https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",),
)
def _automount(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is not None and not falsy(spec.get("automountServiceAccountToken")):
        yield pod_hit(resource, "mounts the service account token", "automountServiceAccountToken")


@workload(
    "SW-K8S-039",
    "Pod uses the default service account",
    LOW,
    description="Workloads on the namespace's default service account share its permissions with every other "
    "pod that forgot to set one.",
    remediation="Create a dedicated service account and set serviceAccountName.",
    controls=(f"{CIS_K8S}:5.1.5", f"{NIST}:4.3.2"),
)
def _default_sa(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is None:
        return
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if name == "default" and not falsy(spec.get("automountServiceAccountToken")):
        yield pod_hit(resource, "runs as the default service account", "serviceAccountName")


# ---------------------------------------------------------------- probes and hygiene


@workload(
    "SW-K8S-040",
    "Liveness probe not configured",
    LOW,
    description="Without a liveness probe a hung container is never restarted.",
    remediation="Add a livenessProbe to every long-running container.",
    references=(
        "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",
    ),
)
def _liveness(resource: Resource) -> Iterator[Hit]:
    if doc(resource).get("kind") in ("Job", "CronJob"):
        return
    for c in all_containers(resource):
        if c.group == "containers" and not c.spec.get("livenessProbe"):
            yield container_hit(c, "has no livenessProbe")


@workload(
    "SW-K8S-041",
    "Readiness probe not configured",
    LOW,
    description="Without a readiness probe traffic is sent to a container before it can serve it.",
    remediation="Add a readinessProbe to every container that serves traffic.",
    references=(
        "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",
    ),
)
def _readiness(resource: Resource) -> Iterator[Hit]:
    if doc(resource).get("kind") in ("Job", "CronJob"):
        return
    for c in all_containers(resource):
        if c.group == "containers" and not c.spec.get("readinessProbe"):
            yield container_hit(c, "has no readinessProbe")


@workload(
    "SW-K8S-042",
    "Container runs with a low UID",
    LOW,
    description="UIDs below 10000 may collide with users of the node; a container escape then acts as that user.",
    remediation="Set runAsUser to a value above 10000.",
    controls=(f"{CIS_K8S}:5.7.3", f"{NIST}:4.4.3"),
)
def _low_uid(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        user = int_or_none(effective(resource, c, "runAsUser"))
        if user is None or user <= 10000:
            yield container_hit(c, f"runAsUser is {user if user is not None else 'not set'}", "securityContext")


@workload(
    "SW-K8S-043",
    "Container runs with a low GID",
    LOW,
    description="GIDs below 10000 may collide with groups of the node.",
    remediation="Set runAsGroup to a value above 10000.",
    controls=(f"{CIS_K8S}:5.7.3", f"{NIST}:4.4.3"),
)
def _low_gid(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        group = int_or_none(effective(resource, c, "runAsGroup"))
        if group is None or group <= 10000:
            yield container_hit(c, f"runAsGroup is {group if group is not None else 'not set'}", "securityContext")


@workload(
    "SW-K8S-044",
    "No security context",
    LOW,
    description="The pod or a container sets no securityContext: its hardening options are at their "
    "permissive defaults.",
    remediation="Add pod and container securityContext settings (runAsNonRoot, seccompProfile, "
    "allowPrivilegeEscalation, capabilities).",
    controls=(f"{CIS_K8S}:5.7.3", f"{NIST}:4.4.3"),
    references=(SEC_CTX_DOC,),
)
def _no_security_context(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is None:
        return
    if not pod_security(resource):
        yield pod_hit(resource, "pod has no securityContext", "securityContext")
    for c in all_containers(resource):
        if not c.security:
            yield container_hit(c, "has no securityContext")


_TILLER = re.compile(r"(?:^|/)tiller(?::|@|$)")


@workload(
    "SW-K8S-045",
    "Tiller (Helm v2) deployed",
    MEDIUM,
    description="Tiller runs with broad cluster permissions and an unauthenticated gRPC port by default.",
    remediation="Migrate to Helm 3 and remove Tiller.",
    controls=(f"{NIST}:4.3.1",),
)
def _tiller(resource: Resource) -> Iterator[Hit]:
    meta = mapping(doc(resource).get("metadata"))
    labels = mapping(meta.get("labels"))
    for c in all_containers(resource):
        image = str(c.spec.get("image", ""))
        if _TILLER.search(parse_image(image).name) or (labels.get("app") == "helm" and labels.get("name") == "tiller"):
            yield container_hit(c, "runs Tiller", "image", found=image)


@workload(
    "SW-K8S-046",
    "Kubernetes dashboard deployed",
    LOW,
    description="The dashboard is a well-known target; exposed or over-privileged, it gives cluster control.",
    remediation="Remove the dashboard or restrict it to read-only RBAC behind authentication.",
    controls=(f"{NIST}:4.3.1",),
)
def _dashboard(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        image = parse_image(str(c.spec.get("image", ""))).name
        if image.endswith(("kubernetes-dashboard", "kubernetesui/dashboard")) or "kubernetes-dashboard-" in image:
            yield container_hit(c, "runs the Kubernetes dashboard", "image", found=image)


@workload(
    "SW-K8S-047",
    "sudo in container command",
    MEDIUM,
    description="A container that starts with sudo expects to gain root inside the container.",
    remediation="Run the process as the right user directly; remove sudo from the image.",
    controls=(f"{NIST}:4.4.3",),
)
def _sudo(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        words = [str(w) for key in ("command", "args") for w in sequence(c.spec.get(key))]
        texts = [" ".join(words), *words]
        if any("sudo" in t and any(cmd.raw_first == "sudo" for cmd in commands(t)) for t in texts):
            yield container_hit(c, "runs sudo", "command")


@workload(
    "SW-K8S-048",
    "Workload in the kube-system namespace",
    MEDIUM,
    description="kube-system holds the control plane's service accounts and secrets; user workloads there "
    "can reach them.",
    remediation="Deploy applications to their own namespaces.",
    controls=(f"{NIST}:4.3.4",),
)
def _kube_system(resource: Resource) -> Iterator[Hit]:
    if resource.namespace == "kube-system" and not control_plane_component(doc(resource)):
        start, end = path_lines(doc(resource), "metadata", "namespace")
        yield Hit("runs in kube-system", start, end)


@workload(
    "SW-K8S-049",
    "Pod not managed by a controller",
    LOW,
    description="A bare Pod is not rescheduled when its node fails and is easy to forget.",
    remediation="Run the pod from a Deployment, StatefulSet, DaemonSet or Job.",
)
def _naked_pod(resource: Resource) -> Iterator[Hit]:
    meta = mapping(doc(resource).get("metadata"))
    if resource.kind == "Pod" and not sequence(meta.get("ownerReferences")):
        yield Hit("bare Pod without a controller", resource.line, resource.line)


@workload(
    "SW-K8S-050",
    "Duplicate environment variable",
    LOW,
    description="When a name appears twice in env, only the last value applies: the first is misleading.",
    remediation="Remove the duplicate entry.",
)
def _duplicate_env(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        seen: set[str] = set()
        for _, item, (start, end) in _env_items(c):
            name = str(item.get("name", ""))
            if name in seen:
                yield Hit(f"env {name} is set twice", start, end, ResourceRef("container", c.name), f"{c.name}/{name}")
            seen.add(name)


@workload(
    "SW-K8S-051",
    "Deprecated serviceAccount field",
    LOW,
    description="spec.serviceAccount is a deprecated alias of serviceAccountName; set alone (or differently) it "
    "is easy to misread.",
    remediation="Use serviceAccountName.",
)
def _deprecated_sa(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is not None and spec.get("serviceAccount") and spec.get("serviceAccount") != spec.get("serviceAccountName"):
        yield pod_hit(resource, "uses the deprecated serviceAccount field", "serviceAccount")


@workload(
    "SW-K8S-052",
    "Pod shares its process namespace",
    LOW,
    description="shareProcessNamespace lets containers of the pod see and signal each other's processes and "
    "read their files through /proc.",
    remediation="Remove shareProcessNamespace unless a sidecar really needs it.",
    controls=(f"{NIST}:4.4.3",),
)
def _share_process(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is not None and truthy(spec.get("shareProcessNamespace")):
        yield pod_hit(resource, "shares the process namespace between containers", "shareProcessNamespace")


@workload(
    "SW-K8S-053",
    "Container exposes an SSH port",
    MEDIUM,
    description="An SSH port on a container suggests an SSH daemon: another way in, with its own credentials.",
    remediation="Remove the SSH server; use 'kubectl exec' for access.",
    controls=(f"{NIST}:4.4.2",),
)
def _ssh_container_port(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        ports = sequence(c.spec.get("ports"))
        for index, port in enumerate(ports):
            number = int_or_none(mapping(port).get("containerPort"))
            if number in SSH_PORTS:
                start, end = ports.lines_of(index)
                yield Hit(f"exposes port {number}", start, end, ResourceRef("container", c.name), f"{c.name}/{number}")


_CREDENTIAL_PATHS = re.compile(
    r"(?:^|/)\.(?:aws|azure|kube|docker)(?:/.*)?$|(?:^|/)\.config/gcloud(?:/.*)?$|^/etc/kubernetes(?:/.*)?$|"
    r"^/var/lib/kubelet(?:/.*)?$|^/etc/(?:shadow|gshadow|ssh|sudoers)(?:/.*)?$|^/root(?:/.*)?$"
)


@workload(
    "SW-K8S-054",
    "Host credentials path mounted",
    MEDIUM,
    description="hostPath mounts of cloud, kubelet or Kubernetes credential locations hand node identities to the pod.",
    remediation="Remove the mount; give the workload its own scoped identity (workload identity, IRSA).",
    controls=(f"{CIS_K8S}:5.2.12", f"{NIST}:4.3.2"),
)
def _credential_paths(resource: Resource) -> Iterator[Hit]:
    for name, path, (start, end) in _host_paths(resource):
        if _CREDENTIAL_PATHS.match(path):
            yield Hit(f"mounts credentials path {path}", start, end, ResourceRef("volume", name), name, path)


_READ_ONLY_VOLUMES = ("configMap", "secret", "projected", "downwardAPI")


@workload(
    "SW-K8S-055",
    "Writable volume mounted with subPath (CVE-2021-25741)",
    LOW,
    description="On kubelets before 1.22.2/1.21.5/1.20.11 a symlink planted in a subPath of a writable volume "
    "lets a container reach arbitrary files of the node.",
    remediation="Upgrade the kubelet; mount whole volumes instead of subPaths, or mount them read-only.",
    controls=(f"{NIST}:4.4.1", f"{NSA}:C-0058"),
    references=("https://github.com/kubernetes/kubernetes/issues/104980",),
)
def _subpath(resource: Resource) -> Iterator[Hit]:
    spec = spec_of(resource)
    if spec is None:
        return
    read_only = {
        str(mapping(v).get("name", ""))
        for v in sequence(spec.get("volumes"))
        if any(k in mapping(v) for k in _READ_ONLY_VOLUMES)
    }
    for c in all_containers(resource):
        mounts = sequence(c.spec.get("volumeMounts"))
        for index, mount in enumerate(mounts):
            mount = mapping(mount)
            name = str(mount.get("name", ""))
            if (
                (mount.get("subPath") or mount.get("subPathExpr"))
                and name not in read_only
                and not truthy(mount.get("readOnly"))
            ):
                start, end = mounts.lines_of(index)
                yield Hit(
                    f"mounts volume {name} with subPath",
                    start,
                    end,
                    ResourceRef("container", c.name),
                    f"{c.name}/{name}",
                )


def _namespaced(resource: Resource) -> bool:
    return resource.kind not in CLUSTER_SCOPED


def _is_kubernetes_service(resource: Resource) -> bool:
    """The API server's own ``kubernetes`` Service, Endpoints or EndpointSlice, which live in default."""
    if resource.kind in ("Service", "Endpoints"):
        return resource.name == "kubernetes"
    if resource.kind != "EndpointSlice":
        return False
    labels = mapping(mapping(doc(resource).get("metadata")).get("labels"))
    return (
        resource.name == "kubernetes"
        and labels.get("kubernetes.io/service-name") == "kubernetes"
        and labels.get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io"
    )


@check(
    "SW-K8S-056",
    "Resource in the default namespace",
    LOW,
    K8S,
    description="The default namespace mixes unrelated workloads under the same policies and RBAC.",
    remediation="Create a namespace per application or team and set metadata.namespace.",
    controls=(f"{CIS_K8S}:5.7.4", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",),
)
def _default_namespace(resource: Resource) -> Iterator[Hit]:
    if not _namespaced(resource) or resource.namespace not in ("", "default"):
        return
    if resource.kind in ("ServiceAccount",) and resource.name == "default":
        return
    if _is_kubernetes_service(resource):
        return
    start, end = path_lines(doc(resource), "metadata", "namespace")
    state = "is the default namespace" if resource.namespace else "is not set (default)"
    yield Hit(f"namespace {state}", start, end)


@workload(
    "SW-K8S-057",
    "Container has no Linux hardening",
    LOW,
    description="The container has none of a seccomp profile, an AppArmor profile, SELinux options or dropped "
    "capabilities: nothing limits what its processes can ask of the kernel.",
    remediation="Set a seccomp profile (RuntimeDefault) and drop capabilities; use AppArmor or SELinux where "
    "available.",
    controls=(f"{NSA}:C-0055", f"{NIST}:4.4.3"),
    references=(SEC_CTX_DOC,),
)
def _no_hardening(resource: Resource) -> Iterator[Hit]:
    pod = pod_security(resource)
    notes = pod_annotations(resource)
    pod_level = any(k in pod for k in ("seccompProfile", "seLinuxOptions", "appArmorProfile")) or any(
        str(k).startswith(_SECCOMP_ANNOTATION) for k in notes
    )
    for c in all_containers(resource):
        own = c.security
        hardened = (
            pod_level
            or any(k in own for k in ("seccompProfile", "seLinuxOptions", "appArmorProfile"))
            or bool(capabilities(c)[1])
            or (_APPARMOR + c.name) in notes
            or (_SECCOMP_CONTAINER_ANNOTATION + c.name) in notes
        )
        if not hardened:
            yield container_hit(c, "sets no seccomp, AppArmor, SELinux or capability drop", "securityContext")


@workload(
    "SW-K8S-058",
    "Seccomp profile is not the runtime default",
    LOW,
    description="A Localhost seccomp profile is only as strict as the file on each node; CIS asks for the "
    "runtime's default profile.",
    remediation="Use 'seccompProfile: {type: RuntimeDefault}' unless a reviewed custom profile is required.",
    controls=(f"{CIS_K8S}:5.7.2", f"{NIST}:4.4.3"),
    references=("https://kubernetes.io/docs/tutorials/security/seccomp/",),
)
def _seccomp_localhost(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        if _seccomp_type(resource, c) == "Localhost":
            yield container_hit(c, "uses a Localhost seccomp profile", "securityContext", "seccompProfile")


_NGINX_CONTROLLER = re.compile(r"(?:ingress-nginx|nginx-ingress-controller|nginx-controller)(?:/controller)?$")


def _version(tag: str) -> tuple[int, ...] | None:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag)
    return tuple(int(x) for x in match.groups()) if match else None


@workload(
    "SW-K8S-059",
    "ingress-nginx controller vulnerable to CVE-2021-25742",
    MEDIUM,
    description="ingress-nginx before v1.0.1 (and 0.49.1) lets anyone who can create an Ingress read the "
    "controller's service account token and every secret it can see through snippet annotations.",
    remediation="Upgrade the controller to v1.0.1 or later and set allow-snippet-annotations: 'false'.",
    controls=(f"{NSA}:C-0059", f"{NIST}:4.4.1"),
    references=("https://github.com/kubernetes/ingress-nginx/issues/7837",),
)
def _nginx_cve(resource: Resource) -> Iterator[Hit]:
    for c in all_containers(resource):
        image = parse_image(str(c.spec.get("image", "")))
        version = _version(image.tag)
        if not _NGINX_CONTROLLER.search(image.name) or version is None:
            continue
        if (version[0] == 0 and version < (0, 49, 1)) or version == (1, 0, 0):
            yield container_hit(c, f"runs ingress-nginx {image.tag}", "image", found=image.tag)


@workload(
    "SW-K8S-060",
    "Control-plane pod uses the host network",
    LOW,
    description="kube-apiserver, controller-manager, scheduler and etcd static pods run on the host network by "
    "design; the finding records it so the exception is reviewed, not forgotten.",
    remediation="Keep control-plane manifests under change control; restrict who can edit /etc/kubernetes/manifests.",
    controls=(f"{CIS_K8S}:5.2.5", f"{NIST}:4.3.5"),
)
def _control_plane_host_network(resource: Resource) -> Iterator[Hit]:
    component = control_plane_component(doc(resource))
    spec = spec_of(resource)
    if component and spec is not None and truthy(spec.get("hostNetwork")):
        yield pod_hit(resource, f"{component} uses the host network", "hostNetwork")


CHECKS: tuple[Check, ...] = (
    _privileged, _host_pid, _host_ipc, _host_network, _privilege_escalation, _may_run_as_root, _run_as_root,
    _root_group, _writable_root, _sys_admin, _all_caps, _non_baseline_caps, _added_caps, _no_drop_all, _net_raw,
    _host_path, _runtime_socket, _sensitive_host_path, _host_path_rw, _volume_types, _seccomp_missing,
    _seccomp_unconfined, _apparmor, _selinux, _proc_mount, _sysctls, _host_port, _host_process, _cpu_limit,
    _cpu_request, _memory_limit, _memory_request, _image_latest, _image_digest, _pull_policy, _env_secret,
    _secret_env_ref, _automount, _default_sa, _liveness, _readiness, _low_uid, _low_gid, _no_security_context,
    _tiller, _dashboard, _sudo, _kube_system, _naked_pod, _duplicate_env, _deprecated_sa, _share_process,
    _ssh_container_port, _credential_paths, _subpath, _default_namespace, _no_hardening, _seccomp_localhost,
    _nginx_cve, _control_plane_host_network,
)  # fmt: skip
