"""Kubernetes checks of non-workload objects: Services, Ingresses, ConfigMaps, NetworkPolicies,
Namespaces, PodSecurityPolicies -- and the cross-file NetworkPolicy coverage checks."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, ResourceRef, check
from shieldwall.misconfig.checks._common import (
    CIS_K8S,
    NIST,
    NSA,
    PCI,
    SECRET_VALUE,
    SSH_PORTS,
    literal_secret,
    secret_like_name,
)
from shieldwall.misconfig.checks._k8s import (
    doc,
    falsy,
    int_or_none,
    mapping,
    path_lines,
    sequence,
    truthy,
)
from shieldwall.misconfig.inputs.kubernetes import WORKLOAD_KINDS, pod_metadata
from shieldwall.misconfig.yamlload import YamlMap
from shieldwall.model import Severity

K8S = InputKind.KUBERNETES
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
SERVICE_DOC = "https://kubernetes.io/docs/concepts/services-networking/service/"
NETPOL_DOC = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"


def _at(resource: Resource, message: str, *keys: str, found: str = "", key: str = "") -> Hit:
    start, end = path_lines(doc(resource), *keys) if keys else (resource.line or 0, resource.end_line or 0)
    return Hit(message, start, end, found=found, key=key)


# ---------------------------------------------------------------- Services


def _service_spec(resource: Resource) -> YamlMap:
    return mapping(doc(resource).get("spec"))


@check(
    "SW-K8S-150",
    "Service of type NodePort",
    LOW,
    K8S,
    description="A NodePort service opens the port on every node of the cluster, outside any ingress control.",
    remediation="Use a ClusterIP service behind an Ingress or a LoadBalancer with source ranges.",
    kinds=("Service",),
    controls=(f"{NIST}:4.3.3", f"{PCI}:1.3.1"),
    references=(SERVICE_DOC,),
)
def _node_port(resource: Resource) -> Iterator[Hit]:
    if _service_spec(resource).get("type") == "NodePort":
        yield _at(resource, "type NodePort exposes the service on every node", "spec", "type")


@check(
    "SW-K8S-151",
    "Service of type LoadBalancer open to any source",
    MEDIUM,
    K8S,
    description="A LoadBalancer service without loadBalancerSourceRanges is reachable from anywhere the load "
    "balancer is, usually the internet.",
    remediation="Restrict spec.loadBalancerSourceRanges, or use an internal load balancer.",
    kinds=("Service",),
    controls=(f"{NIST}:4.3.3", f"{PCI}:1.3.1"),
    references=(SERVICE_DOC,),
)
def _load_balancer(resource: Resource) -> Iterator[Hit]:
    spec = _service_spec(resource)
    if spec.get("type") != "LoadBalancer":
        return
    ranges = [str(r) for r in sequence(spec.get("loadBalancerSourceRanges"))]
    notes = mapping(mapping(doc(resource).get("metadata")).get("annotations"))
    internal = any(
        (str(k).endswith("load-balancer-internal") and str(v).lower() in ("true", "0.0.0.0/0"))
        or (str(k).endswith("load-balancer-scheme") and str(v).lower() == "internal")
        for k, v in notes.items()
    )
    if internal or (ranges and not any(r in ("0.0.0.0/0", "::/0") for r in ranges)):
        return
    yield _at(resource, "type LoadBalancer accepts traffic from any address", "spec", "type")


@check(
    "SW-K8S-152",
    "Service sets externalIPs",
    MEDIUM,
    K8S,
    description="externalIPs can claim any address, letting a service intercept traffic meant for others "
    "(CVE-2020-8554).",
    remediation="Remove externalIPs; enable the DenyServiceExternalIPs admission plugin.",
    kinds=("Service",),
    controls=(f"{NIST}:4.3.3",),
    references=(SERVICE_DOC,),
)
def _external_ips(resource: Resource) -> Iterator[Hit]:
    if sequence(_service_spec(resource).get("externalIPs")):
        yield _at(resource, "sets externalIPs", "spec", "externalIPs")


@check(
    "SW-K8S-153",
    "Service exposes an SSH port",
    MEDIUM,
    K8S,
    description="A service on port 22 exposes an SSH daemon inside the pods.",
    remediation="Remove the SSH port; use 'kubectl exec' for access.",
    kinds=("Service",),
    controls=(f"{NIST}:4.4.2",),
    references=(SERVICE_DOC,),
)
def _ssh_service(resource: Resource) -> Iterator[Hit]:
    ports = sequence(_service_spec(resource).get("ports"))
    for index, port in enumerate(ports):
        port = mapping(port)
        numbers = {int_or_none(port.get("port")), int_or_none(port.get("targetPort"))}
        if numbers & SSH_PORTS:
            start, end = ports.lines_of(index)
            number = sorted(n for n in numbers if n in SSH_PORTS)[0]
            yield Hit(f"exposes port {number}", start, end, key=str(number))


# ---------------------------------------------------------------- Ingress

_NGINX = "nginx.ingress.kubernetes.io/"
_NGINX_VALUE_KEYS = ("auth-url", "auth-tls-match-cn", "mirror-target", "mirror-host", "auth-signin",
                     "permanent-redirect", "temporal-redirect", "rewrite-target", "app-root")  # fmt: skip
_NGINX_SUSPICIOUS = re.compile(r"[|;`$#{}\n\r'\"\\]|\s")
_SNIPPETS = ("configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet")


def _annotations(resource: Resource) -> YamlMap:
    return mapping(mapping(doc(resource).get("metadata")).get("annotations"))


@check(
    "SW-K8S-160",
    "ingress-nginx annotation with injectable characters",
    HIGH,
    K8S,
    description="ingress-nginx copies annotation values such as auth-url or mirror-target into nginx.conf; "
    "characters like '|', ';', '#' or newlines inject configuration (CVE-2021-25742, CVE-2023-5043).",
    remediation="Use plain URLs and names in these annotations; upgrade ingress-nginx and enable its "
    "annotation validation.",
    kinds=("Ingress",),
    controls=(f"{NSA}:C-0059", f"{NIST}:4.4.1"),
    references=("https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/",),
)
def _nginx_injection(resource: Resource) -> Iterator[Hit]:
    notes = _annotations(resource)
    for key, value in notes.items():
        name = str(key).removeprefix(_NGINX)
        if str(key).startswith(_NGINX) and name in _NGINX_VALUE_KEYS and _NGINX_SUSPICIOUS.search(str(value)):
            start, end = notes.lines_of(key)
            yield Hit(f"annotation {key} contains characters that reach nginx.conf", start, end, key=str(key))


@check(
    "SW-K8S-161",
    "ingress-nginx snippet annotation",
    MEDIUM,
    K8S,
    description="Snippet annotations insert raw nginx configuration; anyone who can create an Ingress can read "
    "the controller's secrets (CVE-2021-25742).",
    remediation="Remove snippet annotations and set allow-snippet-annotations: 'false' on the controller.",
    kinds=("Ingress",),
    controls=(f"{NSA}:C-0059", f"{NIST}:4.4.1"),
    references=("https://github.com/kubernetes/ingress-nginx/issues/7837",),
)
def _nginx_snippet(resource: Resource) -> Iterator[Hit]:
    notes = _annotations(resource)
    for key in notes:
        if str(key).startswith(_NGINX) and str(key).removeprefix(_NGINX) in _SNIPPETS:
            start, end = notes.lines_of(key)
            yield Hit(f"uses {key}", start, end, key=str(key))


_DANGEROUS_SNIPPET = re.compile(r"\b(?:\w+_by_lua(?:_block|_file)?|lua_\w+|alias\s|root\s|include\s|load_module)")


@check(
    "SW-K8S-162",
    "ingress-nginx snippet runs Lua or reads files",
    HIGH,
    K8S,
    description="Lua blocks and alias/root/include directives in a snippet execute code in the controller or "
    "serve its files (service account token included).",
    remediation="Remove the snippet.",
    kinds=("Ingress",),
    controls=(f"{NSA}:C-0059", f"{NIST}:4.4.1"),
    references=("https://github.com/kubernetes/ingress-nginx/issues/7837",),
)
def _nginx_lua(resource: Resource) -> Iterator[Hit]:
    notes = _annotations(resource)
    for key, value in notes.items():
        if str(key).startswith(_NGINX) and "snippet" in str(key) and _DANGEROUS_SNIPPET.search(str(value)):
            start, end = notes.lines_of(key)
            yield Hit(f"{key} runs Lua or reads files", start, end, key=str(key))


@check(
    "SW-K8S-163",
    "Ingress without TLS",
    LOW,
    K8S,
    description="Without a tls section the ingress serves plain HTTP.",
    remediation="Add spec.tls with a certificate secret.",
    kinds=("Ingress",),
    controls=(f"{NIST}:4.3.3", f"{PCI}:4.2.1"),
    references=("https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",),
)
def _ingress_tls(resource: Resource) -> Iterator[Hit]:
    spec = mapping(doc(resource).get("spec"))
    if spec and not sequence(spec.get("tls")) and (spec.get("rules") or spec.get("defaultBackend")):
        yield _at(resource, "has no TLS section", "spec")


# ---------------------------------------------------------------- ConfigMaps

_ASSIGNMENT = re.compile(r"""^\s*(?:export\s+)?["']?([A-Za-z_][\w.-]*)["']?\s*[=:]\s*(.*?)\s*$""")


@check(
    "SW-K8S-170",
    "Secret stored in a ConfigMap",
    HIGH,
    K8S,
    description="ConfigMaps are not protected like Secrets (no encryption at rest by default, broad read "
    "access); a password or key in one is exposed.",
    remediation="Move the value to a Secret (or an external secret store) and reference it.",
    kinds=("ConfigMap",),
    controls=(f"{CIS_K8S}:5.4.1", f"{NSA}:C-0012", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
    references=("https://kubernetes.io/docs/concepts/configuration/secret/",),
)
def _configmap_secret(resource: Resource) -> Iterator[Hit]:
    data = mapping(doc(resource).get("data"))
    for key, value in data.items():
        start, end = data.lines_of(key)
        if (secret_like_name(str(key)) and literal_secret(value) and "\n" not in str(value)) or SECRET_VALUE.search(
            str(value)
        ):
            yield Hit(f"key {key} holds a literal secret", start, end, key=str(key))
            continue
        for line in str(value).splitlines()[:2000]:
            match = _ASSIGNMENT.match(line)
            if match and secret_like_name(match.group(1)) and literal_secret(match.group(2)):
                yield Hit(
                    f"key {key} sets {match.group(1)} to a literal secret", start, end, key=f"{key}/{match.group(1)}"
                )
                break


@check(
    "SW-K8S-171",
    "ingress-nginx allows snippet annotations",
    MEDIUM,
    K8S,
    description="allow-snippet-annotations: 'true' in the controller's ConfigMap lets every Ingress author inject "
    "nginx configuration (CVE-2021-25742).",
    remediation="Set allow-snippet-annotations: 'false'.",
    kinds=("ConfigMap",),
    controls=(f"{NSA}:C-0059", f"{NIST}:4.4.1"),
    references=("https://github.com/kubernetes/ingress-nginx/issues/7837",),
)
def _allow_snippets(resource: Resource) -> Iterator[Hit]:
    data = mapping(doc(resource).get("data"))
    if truthy(data.get("allow-snippet-annotations")):
        start, end = data.lines_of("allow-snippet-annotations")
        yield Hit("allow-snippet-annotations is true", start, end)


# ---------------------------------------------------------------- NetworkPolicy, Namespace


@check(
    "SW-K8S-180",
    "NetworkPolicy without a pod selector",
    MEDIUM,
    K8S,
    description="A NetworkPolicy must say which pods it applies to with spec.podSelector ({} for all pods).",
    remediation="Add spec.podSelector.",
    kinds=("NetworkPolicy",),
    controls=(f"{NIST}:4.3.3",),
    references=(NETPOL_DOC,),
)
def _netpol_selector(resource: Resource) -> Iterator[Hit]:
    if "podSelector" not in mapping(doc(resource).get("spec")):
        yield _at(resource, "has no spec.podSelector", "spec")


_PSA = "pod-security.kubernetes.io/enforce"


@check(
    "SW-K8S-181",
    "Namespace without Pod Security Admission enforcement",
    LOW,
    K8S,
    description="Without the pod-security.kubernetes.io/enforce label, the namespace admits pods of any "
    "security profile (unless a cluster default says otherwise).",
    remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted (or baseline).",
    kinds=("Namespace",),
    controls=(f"{NSA}:C-0068", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-admission/",),
)
def _psa_missing(resource: Resource) -> Iterator[Hit]:
    if resource.name in ("kube-system", "kube-public", "kube-node-lease"):
        return
    labels = mapping(mapping(doc(resource).get("metadata")).get("labels"))
    if _PSA not in labels:
        yield _at(resource, "has no pod-security enforce label", "metadata")


@check(
    "SW-K8S-182",
    "Namespace enforces the privileged Pod Security profile",
    MEDIUM,
    K8S,
    description="enforce: privileged admits privileged pods, host namespaces and hostPath volumes.",
    remediation="Enforce baseline or restricted.",
    kinds=("Namespace",),
    controls=(f"{NIST}:4.3.4",),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-admission/",),
)
def _psa_privileged(resource: Resource) -> Iterator[Hit]:
    labels = mapping(mapping(doc(resource).get("metadata")).get("labels"))
    if labels.get(_PSA) == "privileged":
        start, end = labels.lines_of(_PSA)
        yield Hit("enforces the privileged profile", start, end)


# ---------------------------------------------------------------- PodSecurityPolicy (policy/v1beta1)


def _psp(resource: Resource) -> YamlMap:
    return mapping(doc(resource).get("spec"))


def _psp_flag(id: str, field: str, title: str, severity: Severity, cis: str) -> Check:
    @check(
        id,
        title,
        severity,
        K8S,
        description=f"The PodSecurityPolicy admits pods with {field}: true.",
        remediation=f"Set {field}: false (PodSecurityPolicy is removed in Kubernetes 1.25: move to Pod Security "
        "Admission).",
        kinds=("PodSecurityPolicy",),
        controls=(f"{CIS_K8S}:{cis}", f"{NIST}:4.3.4"),
        references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
    )
    def evaluate(resource: Resource) -> Iterator[Hit]:
        if truthy(_psp(resource).get(field)):
            yield _at(resource, f"allows {field}", "spec", field)

    return evaluate


_psp_privileged = _psp_flag(
    "SW-K8S-190", "privileged", "PodSecurityPolicy allows privileged containers", MEDIUM, "5.2.2"
)
_psp_host_pid = _psp_flag("SW-K8S-191", "hostPID", "PodSecurityPolicy allows the host PID namespace", MEDIUM, "5.2.3")
_psp_host_ipc = _psp_flag("SW-K8S-192", "hostIPC", "PodSecurityPolicy allows the host IPC namespace", MEDIUM, "5.2.4")
_psp_host_net = _psp_flag("SW-K8S-193", "hostNetwork", "PodSecurityPolicy allows the host network", MEDIUM, "5.2.5")


@check(
    "SW-K8S-194",
    "PodSecurityPolicy allows privilege escalation",
    MEDIUM,
    K8S,
    description="allowPrivilegeEscalation defaults to true in a PodSecurityPolicy.",
    remediation="Set allowPrivilegeEscalation: false.",
    kinds=("PodSecurityPolicy",),
    controls=(f"{CIS_K8S}:5.2.6", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
)
def _psp_escalation(resource: Resource) -> Iterator[Hit]:
    if not falsy(_psp(resource).get("allowPrivilegeEscalation")):
        yield _at(resource, "allows privilege escalation", "spec", "allowPrivilegeEscalation")


@check(
    "SW-K8S-195",
    "PodSecurityPolicy admits root containers",
    MEDIUM,
    K8S,
    description="runAsUser.rule other than MustRunAsNonRoot (or MustRunAs with ranges above 0) admits UID 0.",
    remediation="Set runAsUser.rule: MustRunAsNonRoot.",
    kinds=("PodSecurityPolicy",),
    controls=(f"{CIS_K8S}:5.2.7", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
)
def _psp_root(resource: Resource) -> Iterator[Hit]:
    run_as = mapping(_psp(resource).get("runAsUser"))
    rule = run_as.get("rule")
    if rule == "MustRunAsNonRoot":
        return
    if rule == "MustRunAs":
        ranges = [mapping(r) for r in sequence(run_as.get("ranges"))]
        if ranges and all((int_or_none(r.get("min")) or 0) > 0 for r in ranges):
            return
    yield _at(resource, f"runAsUser rule {rule or 'unset'} admits root", "spec", "runAsUser")


@check(
    "SW-K8S-196",
    "PodSecurityPolicy does not require dropping capabilities",
    LOW,
    K8S,
    description="Without requiredDropCapabilities: [ALL] (or at least NET_RAW) pods keep the runtime's default "
    "capabilities.",
    remediation="Set requiredDropCapabilities: [ALL].",
    kinds=("PodSecurityPolicy",),
    controls=(f"{CIS_K8S}:5.2.8", f"{CIS_K8S}:5.2.10", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
)
def _psp_drop(resource: Resource) -> Iterator[Hit]:
    dropped = {str(c).upper() for c in sequence(_psp(resource).get("requiredDropCapabilities"))}
    if not dropped & {"ALL", "NET_RAW"}:
        yield _at(resource, "does not require dropping ALL capabilities", "spec")


@check(
    "SW-K8S-197",
    "PodSecurityPolicy allows added capabilities",
    MEDIUM,
    K8S,
    description="allowedCapabilities or defaultAddCapabilities let pods add capabilities ('*' allows all).",
    remediation="Remove allowedCapabilities and defaultAddCapabilities.",
    kinds=("PodSecurityPolicy",),
    controls=(f"{CIS_K8S}:5.2.9", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
)
def _psp_caps(resource: Resource) -> Iterator[Hit]:
    spec = _psp(resource)
    for field in ("allowedCapabilities", "defaultAddCapabilities"):
        caps = [str(c) for c in sequence(spec.get(field))]
        if caps:
            yield _at(resource, f"{field}: {', '.join(caps)}", "spec", field, key=field)


@check(
    "SW-K8S-198",
    "PodSecurityPolicy sets no default seccomp profile",
    LOW,
    K8S,
    description="Without the seccomp defaultProfileName annotation pods admitted by the policy run unconfined.",
    remediation="Annotate the policy with seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default.",
    kinds=("PodSecurityPolicy",),
    controls=(f"{CIS_K8S}:5.7.2", f"{NIST}:4.3.4"),
    references=("https://kubernetes.io/docs/concepts/security/pod-security-policy/",),
)
def _psp_seccomp(resource: Resource) -> Iterator[Hit]:
    value = _annotations(resource).get("seccomp.security.alpha.kubernetes.io/defaultProfileName")
    if value not in ("runtime/default", "docker/default") and not str(value or "").startswith("localhost/"):
        yield _at(resource, "sets no default seccomp profile", "metadata")


# ---------------------------------------------------------------- across files: NetworkPolicy coverage


def _selects(selector: YamlMap, labels: YamlMap) -> bool:
    """Label-selector match (matchLabels and the In/NotIn/Exists/DoesNotExist expressions)."""
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in sequence(selector.get("matchExpressions")):
        expr = mapping(expr)
        key, op = expr.get("key"), expr.get("operator")
        values = [str(v) for v in sequence(expr.get("values"))]
        present = key in labels
        if op == "In" and (not present or str(labels.get(key)) not in values):
            return False
        if op == "NotIn" and present and str(labels.get(key)) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _namespace_of(resource: Resource) -> str:
    return resource.namespace or "default"


def _all(resource: Resource) -> tuple[Resource, ...]:
    data = resource.data
    assert isinstance(data, tuple)
    return data


POLICY_KINDS = frozenset({"NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"})


def _policy_selectors(policy: Resource) -> tuple[str | None, list[YamlMap]]:
    """(namespace, or None for cluster-wide; the pod selectors) of a NetworkPolicy or Cilium policy.

    A NetworkPolicy without podSelector selects every pod of its namespace, like ``{}``.
    """
    body = doc(policy)
    if policy.kind == "NetworkPolicy":
        spec = mapping(body.get("spec"))
        return _namespace_of(policy), [mapping(spec.get("podSelector"))]
    specs = [mapping(body.get("spec"))] if "spec" in body else []
    specs += [mapping(s) for s in sequence(body.get("specs"))]
    selectors = [
        mapping(s.get("endpointSelector")) for s in specs if "endpointSelector" in s or "nodeSelector" not in s
    ]
    scope = None if policy.kind == "CiliumClusterwideNetworkPolicy" else _namespace_of(policy)
    return scope, selectors


def _selects_all(selector: YamlMap) -> bool:
    return not mapping(selector.get("matchLabels")) and not sequence(selector.get("matchExpressions"))


def _plain_labels(labels: YamlMap) -> YamlMap:
    """Pod labels as Cilium selectors may name them (``k8s:app`` or ``app``)."""
    out = YamlMap()
    for key, value in labels.items():
        out[key] = value
        out[f"k8s:{key}"] = value
        out[f"any:{key}"] = value
    return out


@check(
    "SW-K8S-200",
    "Namespace without a NetworkPolicy",
    MEDIUM,
    K8S,
    description="Workloads in a namespace without any NetworkPolicy accept traffic from every pod of the "
    "cluster and can reach all of them.",
    remediation="Add a default-deny NetworkPolicy to the namespace and allow the flows that are needed.",
    controls=(f"{CIS_K8S}:5.3.2", f"{NSA}:C-0054", f"{NIST}:4.3.3", f"{PCI}:1.2.1"),
    references=(NETPOL_DOC,),
    scope="set",
)
def _namespace_netpol(resource: Resource) -> Iterator[Hit]:
    resources = _all(resource)
    policies = [_policy_selectors(r) for r in resources if r.kind in POLICY_KINDS]
    cluster_wide = any(scope is None and any(_selects_all(s) for s in sel) for scope, sel in policies)
    covered = {scope for scope, _ in policies if scope is not None}
    if cluster_wide:
        return
    reported: set[str] = set()
    for r in resources:
        namespace = _namespace_of(r)
        if r.kind in WORKLOAD_KINDS and namespace not in covered and namespace not in reported:
            reported.add(namespace)
            yield Hit(
                f"namespace {namespace} has workloads but no NetworkPolicy", r.line, r.line,
                ResourceRef("Namespace", namespace), namespace, path=r.path,
            )  # fmt: skip
    for r in resources:
        if r.kind == "Namespace" and r.name not in covered and r.name not in reported and r.name not in (
            "kube-system", "kube-public", "kube-node-lease"
        ):  # fmt: skip
            reported.add(r.name)
            yield Hit(
                f"namespace {r.name} has no NetworkPolicy", r.line, r.line, ResourceRef("Namespace", r.name),
                r.name, path=r.path,
            )  # fmt: skip


@check(
    "SW-K8S-201",
    "Workload not selected by any NetworkPolicy",
    LOW,
    K8S,
    description="No NetworkPolicy (or Cilium policy) selects the workload's pods, so their traffic is unrestricted.",
    remediation="Add a NetworkPolicy whose podSelector matches the workload's pod labels.",
    controls=(f"{CIS_K8S}:5.3.2", f"{NSA}:C-0030", f"{NIST}:4.3.3"),
    references=(NETPOL_DOC,),
    scope="set",
)
def _workload_netpol(resource: Resource) -> Iterator[Hit]:
    resources = _all(resource)
    policies = [_policy_selectors(r) for r in resources if r.kind in POLICY_KINDS]
    for r in resources:
        if r.kind not in WORKLOAD_KINDS:
            continue
        labels = _plain_labels(mapping(pod_metadata(doc(r)).get("labels")))
        namespace = _namespace_of(r)
        selected = any(
            (scope is None or scope == namespace) and any(_selects(s, labels) for s in selectors)
            for scope, selectors in policies
        )
        if not selected:
            yield Hit(
                "not selected by any NetworkPolicy", r.line, r.line, None, f"{namespace}/{r.kind}/{r.name}",
                path=r.path,
            )  # fmt: skip


def _ingress_services(ingress: Resource) -> set[str]:
    """Names of the services an Ingress routes to (networking.k8s.io/v1 and the older serviceName form)."""
    names: set[str] = set()
    spec = mapping(doc(ingress).get("spec"))
    backends = [mapping(spec.get("defaultBackend")), mapping(spec.get("backend"))]
    for rule in sequence(spec.get("rules")):
        for item in sequence(mapping(mapping(rule).get("http")).get("paths")):
            backends.append(mapping(mapping(item).get("backend")))
    for backend in backends:
        name = mapping(backend.get("service")).get("name") or backend.get("serviceName")
        if name:
            names.add(str(name))
    return names


@check(
    "SW-K8S-202",
    "Workload reachable from outside the cluster",
    LOW,
    K8S,
    description="A NodePort or LoadBalancer Service, or an Ingress through a Service, selects the workload's "
    "pods: they take traffic from outside the cluster and deserve the strictest review.",
    remediation="Expose only what must be public; put authentication and TLS in front of it.",
    controls=(f"{NIST}:4.3.3", f"{PCI}:1.3.1"),
    references=(SERVICE_DOC,),
    scope="set",
)
def _exposed_workloads(resource: Resource) -> Iterator[Hit]:
    resources = _all(resource)
    routed = {(_namespace_of(i), name) for i in resources if i.kind == "Ingress" for name in _ingress_services(i)}
    exposing: list[tuple[Resource, YamlMap, str]] = []
    for svc in resources:
        if svc.kind != "Service":
            continue
        spec = _service_spec(svc)
        selector = mapping(spec.get("selector"))
        kind = str(spec.get("type") or "ClusterIP")
        if not selector:
            continue
        if kind in ("NodePort", "LoadBalancer"):
            exposing.append((svc, selector, f"Service {svc.name} ({kind})"))
        elif (_namespace_of(svc), svc.name) in routed:
            exposing.append((svc, selector, f"Ingress through Service {svc.name}"))
    for r in resources:
        if r.kind not in WORKLOAD_KINDS:
            continue
        labels = mapping(pod_metadata(doc(r)).get("labels"))
        for svc, selector, how in exposing:
            if _namespace_of(svc) == _namespace_of(r) and all(labels.get(k) == v for k, v in selector.items()):
                yield Hit(
                    f"exposed by {how}", r.line, r.line, None, f"{_namespace_of(r)}/{r.kind}/{r.name}", path=r.path
                )
                break


CHECKS: tuple[Check, ...] = (
    _node_port, _load_balancer, _external_ips, _ssh_service, _nginx_injection, _nginx_snippet, _nginx_lua,
    _ingress_tls, _configmap_secret, _allow_snippets, _netpol_selector, _psa_missing, _psa_privileged,
    _psp_privileged, _psp_host_pid, _psp_host_ipc, _psp_host_net, _psp_escalation, _psp_root, _psp_drop,
    _psp_caps, _psp_seccomp, _namespace_netpol, _workload_netpol, _exposed_workloads,
)  # fmt: skip
