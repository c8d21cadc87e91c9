"""Kubernetes RBAC checks (input ``kubernetes``): Roles, ClusterRoles and their bindings.

A role's rules are a latent risk (they reach whoever gets bound to the role), so role checks are at
most MEDIUM; a binding that hands out cluster-wide power or reaches anonymous users is HIGH/CRITICAL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from shieldwall.misconfig.check import Check, Evaluate, Hit, InputKind, Resource, ResourceRef, check
from shieldwall.misconfig.checks._common import CIS_K8S, NIST, NSA, PCI
from shieldwall.misconfig.checks._k8s import doc, mapping, path_lines, sequence
from shieldwall.misconfig.yamlload import YamlMap
from shieldwall.model import Severity

K8S = InputKind.KUBERNETES
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
ROLES = ("Role", "ClusterRole")
BINDINGS = ("RoleBinding", "ClusterRoleBinding")
RBAC_DOC = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch")


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of a role's ``rules`` with its line range."""

    index: int
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    start: int
    end: int

    def has_verb(self, verbs: Iterable[str]) -> bool:
        """True when the rule grants any of ``verbs`` (or ``*``)."""
        return "*" in self.verbs or any(v in self.verbs for v in verbs)

    def has_resource(self, resource: str) -> bool:
        """True when the rule covers ``resource`` (``pods/exec``...), wildcards included."""
        base, _, sub = resource.partition("/")
        for item in self.resources:
            if item in ("*", resource):
                return True
            item_base, _, item_sub = item.partition("/")
            if sub and ((item_base == base and item_sub == "*") or (item_base == "*" and item_sub == sub)):
                return True
        return False

    def has_group(self, groups: Iterable[str]) -> bool:
        """True when the rule applies to any of the API ``groups`` (``""`` is core)."""
        return "*" in self.groups or any(g in self.groups for g in groups)

    def grants(self, verbs: Iterable[str], resources: Iterable[str], groups: Iterable[str] = ("",)) -> str:
        """The first of ``resources`` this rule grants one of ``verbs`` on, or ''."""
        if not self.has_verb(verbs) or not self.has_group(groups):
            return ""
        return next((r for r in resources if self.has_resource(r)), "")


def rules(resource: Resource) -> Iterator[Rule]:
    """The rules of a Role or ClusterRole."""
    items = sequence(doc(resource).get("rules"))
    for index, item in enumerate(items):
        if not isinstance(item, YamlMap):
            continue

        def strings(key: str, item: YamlMap = item) -> tuple[str, ...]:
            return tuple(str(v) for v in sequence(item.get(key)))

        start, end = items.lines_of(index)
        yield Rule(index, strings("apiGroups"), strings("resources"), strings("verbs"), start, end)


def _rule_hit(rule: Rule, message: str) -> Hit:
    return Hit(message, rule.start, rule.end, ResourceRef("rule", str(rule.index)), str(rule.index))


def role_check(
    id: str, title: str, severity: Severity, *, description: str, remediation: str, controls: Iterable[str] = ()
) -> Callable[[Evaluate], Check]:
    """``check`` for Roles and ClusterRoles."""
    return check(
        id, title, severity, K8S, description=description, remediation=remediation, kinds=ROLES,
        controls=controls, references=(RBAC_DOC,),
    )  # fmt: skip


def _grant_check(
    id: str,
    title: str,
    severity: Severity,
    verbs: tuple[str, ...],
    resources: tuple[str, ...],
    groups: tuple[str, ...],
    description: str,
    remediation: str,
    controls: Iterable[str],
) -> Check:
    @role_check(id, title, severity, description=description, remediation=remediation, controls=controls)
    def evaluate(resource: Resource) -> Iterator[Hit]:
        for rule in rules(resource):
            found = rule.grants(verbs, resources, groups)
            if found:
                granted = sorted(set(rule.verbs) & set(verbs)) or ["*"]
                yield _rule_hit(rule, f"grants {'/'.join(granted)} on {found}")

    return evaluate


@role_check(
    "SW-K8S-101",
    "Role grants wildcard verbs",
    MEDIUM,
    description="verbs: ['*'] grants every current and future verb, including escalate, bind and impersonate "
    "where they apply.",
    remediation="List the verbs the subject needs.",
    controls=(f"{CIS_K8S}:5.1.3", f"{NIST}:4.3.1", f"{PCI}:7.2.2"),
)
def _wildcard_verbs(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        if "*" in rule.verbs:
            yield _rule_hit(rule, "verbs include '*'")


@role_check(
    "SW-K8S-102",
    "Role grants wildcard resources",
    MEDIUM,
    description="resources: ['*'] covers every resource of the API groups, including secrets and future ones.",
    remediation="List the resources the subject needs.",
    controls=(f"{CIS_K8S}:5.1.3", f"{NIST}:4.3.1", f"{PCI}:7.2.2"),
)
def _wildcard_resources(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        wild = [r for r in rule.resources if "*" in r]
        if wild:
            yield _rule_hit(rule, f"resources include {wild[0]!r}")


@role_check(
    "SW-K8S-103",
    "Role grants wildcard API groups",
    LOW,
    description="apiGroups: ['*'] extends the rule to every API group, including custom resources added later.",
    remediation="List the API groups explicitly.",
    controls=(f"{CIS_K8S}:5.1.3", f"{NIST}:4.3.1"),
)
def _wildcard_groups(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        if "*" in rule.groups:
            yield _rule_hit(rule, "apiGroups include '*'")


@role_check(
    "SW-K8S-104",
    "Role grants full access to everything",
    MEDIUM,
    description="A rule with '*' verbs on '*' resources is equivalent to cluster-admin within its scope.",
    remediation="Replace the rule with the specific permissions needed.",
    controls=(f"{CIS_K8S}:5.1.1", f"{CIS_K8S}:5.1.3", f"{NSA}:C-0035", f"{NIST}:4.3.1", f"{PCI}:7.2.2"),
)
def _full_access(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        if "*" in rule.verbs and "*" in rule.resources:
            yield _rule_hit(rule, "grants '*' on '*'")


_secrets = _grant_check(
    "SW-K8S-105", "Role can read secrets", MEDIUM, READ, ("secrets",), ("",),
    "get/list/watch on secrets returns every credential of the namespace (or cluster), service account "
    "tokens included.",
    "Grant access to specific secrets with resourceNames, or mount secrets into the pods that need them.",
    (f"{CIS_K8S}:5.1.2", f"{NIST}:4.3.2", f"{PCI}:7.2.2"),
)  # fmt: skip
_exec = _grant_check(
    "SW-K8S-106", "Role can exec or attach into pods", MEDIUM, ("create", "get"), ("pods/exec", "pods/attach"), ("",),
    "pods/exec runs arbitrary commands in any pod the role covers, with that pod's identity and secrets.",
    "Remove pods/exec and pods/attach; use audited break-glass access instead.",
    (f"{NIST}:4.3.2", f"{PCI}:7.2.2"),
)  # fmt: skip


@role_check(
    "SW-K8S-107",
    "Role can escalate or bind roles",
    MEDIUM,
    description="The escalate and bind verbs on roles let a subject grant itself permissions it does not have.",
    remediation="Remove escalate/bind on roles and clusterroles.",
    controls=(f"{CIS_K8S}:5.1.8", f"{NIST}:4.3.1", f"{PCI}:7.2.2", f"{NSA}:C-0002"),
)
def _escalate_bind(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        if not rule.has_group(("rbac.authorization.k8s.io",)):
            continue
        verbs = {v for v in rule.verbs if v in ("escalate", "bind", "*")}
        target = next((r for r in ("roles", "clusterroles") if rule.has_resource(r)), "")
        if verbs and target:
            yield _rule_hit(rule, f"grants {'/'.join(sorted(verbs))} on {target}")


_impersonate = _grant_check(
    "SW-K8S-108", "Role can impersonate users, groups or service accounts", MEDIUM, ("impersonate",),
    ("users", "groups", "serviceaccounts", "userextras/*", "uids"), ("", "authentication.k8s.io"),
    "impersonate lets the subject act as any other identity, including cluster administrators.",
    "Remove the impersonate verb.",
    (f"{CIS_K8S}:5.1.8", f"{NIST}:4.3.1"),
)  # fmt: skip
_node_proxy = _grant_check(
    "SW-K8S-109", "Role can use the nodes/proxy subresource", MEDIUM, ("get", "create", "update", "patch"),
    ("nodes/proxy",), ("",),
    "nodes/proxy reaches the kubelet API directly: exec into any pod of the node, bypassing audit and admission.",
    "Remove nodes/proxy access.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_create_pods = _grant_check(
    "SW-K8S-110", "Role can create workloads", MEDIUM, ("create",),
    ("pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers"),
    ("", "apps", "batch"),
    "Creating pods means running any image with any service account of the namespace, and mounting its secrets.",
    "Limit pod creation to deployment pipelines; enforce Pod Security Admission in the namespace.",
    (f"{CIS_K8S}:5.1.4", f"{NIST}:4.3.1"),
)  # fmt: skip
_port_forward = _grant_check(
    "SW-K8S-111", "Role can port-forward to pods", MEDIUM, ("create", "get"), ("pods/portforward",), ("",),
    "pods/portforward opens a tunnel into any pod the role covers, bypassing network policies.",
    "Remove pods/portforward.",
    (f"{NIST}:4.3.3",),
)  # fmt: skip
_sa_token = _grant_check(
    "SW-K8S-112", "Role can create service account tokens", MEDIUM, ("create",), ("serviceaccounts/token",), ("",),
    "Creating tokens for a service account lets the subject act as it.",
    "Remove create on serviceaccounts/token.",
    (f"{CIS_K8S}:5.1.8", f"{NIST}:4.3.1"),
)  # fmt: skip


@role_check(
    "SW-K8S-113",
    "Role can approve certificate signing requests",
    MEDIUM,
    description="Approving CSRs (update on certificatesigningrequests/approval plus approve on signers) lets a "
    "subject mint client certificates for any identity, system:masters included.",
    remediation="Remove CSR approval permissions.",
    controls=(f"{NIST}:4.3.1",),
)
def _csr_approve(resource: Resource) -> Iterator[Hit]:
    for rule in rules(resource):
        if rule.grants(("update", "patch"), ("certificatesigningrequests/approval",), ("certificates.k8s.io",)):
            yield _rule_hit(rule, "can approve certificate signing requests")
        elif rule.grants(("approve",), ("signers",), ("certificates.k8s.io",)):
            yield _rule_hit(rule, "can approve for signers")


_webhooks = _grant_check(
    "SW-K8S-114", "Role can modify admission webhooks", MEDIUM, ("create", "update", "patch", "delete"),
    ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"), ("admissionregistration.k8s.io",),
    "Control of admission webhooks lets a subject read or rewrite every object sent to the API server.",
    "Remove write access to webhook configurations.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_delete_events = _grant_check(
    "SW-K8S-115", "Role can delete events", LOW, ("delete", "deletecollection"), ("events",), ("", "events.k8s.io"),
    "Deleting events hides an attacker's activity from operators.",
    "Remove delete on events.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_delete_workloads = _grant_check(
    "SW-K8S-116", "Role has broad delete rights", MEDIUM, ("delete", "deletecollection"),
    ("pods", "deployments", "daemonsets", "statefulsets", "replicasets", "services", "namespaces",
     "persistentvolumeclaims", "persistentvolumes", "secrets", "configmaps"),
    ("", "apps"),
    "Delete rights on workloads, namespaces and volumes allow denial of service and data loss.",
    "Grant delete only on the resources the subject manages.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_configmaps = _grant_check(
    "SW-K8S-117", "Role can modify configmaps", LOW, ("update", "patch"), ("configmaps",), ("",),
    "Changing configmaps (CoreDNS, kube-proxy, application settings) can redirect traffic or change behaviour.",
    "Limit configmap updates with resourceNames.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_persistent_volumes = _grant_check(
    "SW-K8S-118", "Role can create persistent volumes", MEDIUM, ("create",), ("persistentvolumes",), ("",),
    "A persistent volume can point at a host path, mounting the node's filesystem into a pod.",
    "Let only storage administrators create persistent volumes.",
    (f"{NIST}:4.3.1",),
)  # fmt: skip
_service_status = _grant_check(
    "SW-K8S-119", "Role can modify services/status (CVE-2020-8554)", MEDIUM, ("update", "patch"),
    ("services/status",), ("",),
    "Setting status.loadBalancer.ingress.ip lets a subject intercept traffic of other services.",
    "Remove update/patch on services/status.",
    (f"{NIST}:4.3.3",),
)  # fmt: skip
_bindings = _grant_check(
    "SW-K8S-120", "Role can create or change role bindings", MEDIUM, WRITE, ("rolebindings", "clusterrolebindings"),
    ("rbac.authorization.k8s.io",),
    "Together with bind (or an existing powerful role) this lets a subject grant permissions to itself.",
    "Limit binding management to administrators.",
    (f"{CIS_K8S}:5.1.8", f"{NIST}:4.3.1"),
)  # fmt: skip
_proxy = _grant_check(
    "SW-K8S-121", "Role can use the proxy subresource of pods or services", MEDIUM, ("get", "create"),
    ("pods/proxy", "services/proxy"), ("",),
    "The proxy subresource sends requests to pods and services through the API server, bypassing network "
    "policies.",
    "Remove pods/proxy and services/proxy.",
    (f"{NIST}:4.3.3",),
)  # fmt: skip


# ---------------------------------------------------------------- bindings


def _subjects(resource: Resource) -> Iterator[tuple[YamlMap, tuple[int, int]]]:
    items = sequence(doc(resource).get("subjects"))
    for index, item in enumerate(items):
        if isinstance(item, YamlMap):
            yield item, items.lines_of(index)


def binding_check(
    id: str, title: str, severity: Severity, *, description: str, remediation: str, controls: Iterable[str] = ()
) -> Callable[[Evaluate], Check]:
    """``check`` for RoleBindings and ClusterRoleBindings."""
    return check(
        id, title, severity, K8S, description=description, remediation=remediation, kinds=BINDINGS,
        controls=controls, references=(RBAC_DOC,),
    )  # fmt: skip


def _subject_name(subject: YamlMap) -> str:
    return f"{subject.get('kind', '')}:{subject.get('name', '')}"


@binding_check(
    "SW-K8S-130",
    "Cluster-wide binding to cluster-admin",
    HIGH,
    description="A ClusterRoleBinding to cluster-admin allows everything on every resource of the cluster; few "
    "subjects should hold it.",
    remediation="Bind a role with only the permissions needed.",
    controls=(f"{CIS_K8S}:5.1.1", f"{NSA}:C-0035", f"{NIST}:4.3.1", f"{PCI}:7.2.2"),
)
def _cluster_admin(resource: Resource) -> Iterator[Hit]:
    ref = mapping(doc(resource).get("roleRef"))
    if resource.kind != "ClusterRoleBinding":
        return
    if ref.get("name") == "cluster-admin" and ref.get("kind", "ClusterRole") == "ClusterRole":
        start, end = path_lines(doc(resource), "roleRef")
        subjects = ", ".join(_subject_name(s) for s, _ in _subjects(resource))
        yield Hit(f"binds cluster-admin to {subjects or 'no subject'}", start, end, found=subjects)


@binding_check(
    "SW-K8S-131",
    "Binding grants access to anonymous users",
    CRITICAL,
    description="Subjects system:anonymous or system:unauthenticated give the role to anyone who can reach the "
    "API server.",
    remediation="Remove the anonymous subjects.",
    controls=(f"{NIST}:4.3.2", f"{PCI}:7.2.2"),
)
def _anonymous(resource: Resource) -> Iterator[Hit]:
    for subject, (start, end) in _subjects(resource):
        if subject.get("name") in ("system:anonymous", "system:unauthenticated"):
            yield Hit(f"grants {_subject_name(subject)}", start, end, ResourceRef("subject", str(subject.get("name"))))


@binding_check(
    "SW-K8S-132",
    "Binding grants access to all authenticated users",
    MEDIUM,
    description="system:authenticated includes every user and service account of the cluster (and, on some "
    "managed clusters, any cloud account).",
    remediation="Bind to specific users, groups or service accounts.",
    controls=(f"{NIST}:4.3.2",),
)
def _authenticated(resource: Resource) -> Iterator[Hit]:
    for subject, (start, end) in _subjects(resource):
        if subject.get("name") == "system:authenticated":
            yield Hit("grants system:authenticated", start, end, ResourceRef("subject", "system:authenticated"))


@binding_check(
    "SW-K8S-133",
    "Binding grants a role to a default service account",
    LOW,
    description="Every pod that does not name a service account runs as 'default'; rights given to it are "
    "given to all of them.",
    remediation="Create a dedicated service account for the workload and bind that.",
    controls=(f"{CIS_K8S}:5.1.5", f"{NIST}:4.3.2"),
)
def _default_sa_binding(resource: Resource) -> Iterator[Hit]:
    for subject, (start, end) in _subjects(resource):
        if subject.get("kind") == "ServiceAccount" and subject.get("name") == "default":
            yield Hit("binds the default service account", start, end, ResourceRef("subject", "default"))


@binding_check(
    "SW-K8S-134",
    "Binding to the system:masters group",
    HIGH,
    description="system:masters bypasses RBAC entirely and cannot be revoked by removing bindings.",
    remediation="Do not use system:masters; bind a scoped role instead.",
    controls=(f"{CIS_K8S}:5.1.7", f"{NIST}:4.3.1"),
)
def _masters(resource: Resource) -> Iterator[Hit]:
    for subject, (start, end) in _subjects(resource):
        if subject.get("name") == "system:masters":
            yield Hit("grants system:masters", start, end, ResourceRef("subject", "system:masters"))


@check(
    "SW-K8S-135",
    "Service account mounts its token automatically",
    LOW,
    K8S,
    description="A service account without automountServiceAccountToken: false hands its API token to every "
    "pod that uses it.",
    remediation="Set 'automountServiceAccountToken: false' on the service account; opt in per pod.",
    kinds=("ServiceAccount",),
    controls=(f"{CIS_K8S}:5.1.5", f"{CIS_K8S}:5.1.6", f"{NSA}:C-0034", f"{NIST}:4.3.2"),
    references=("https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",),
)
def _sa_automount(resource: Resource) -> Iterator[Hit]:
    value = doc(resource).get("automountServiceAccountToken")
    if value is not False:
        yield Hit("automounts its token", resource.line, resource.end_line)


@binding_check(
    "SW-K8S-136",
    "Namespace binding to cluster-admin",
    MEDIUM,
    description="A RoleBinding to cluster-admin makes its subjects administrators of the namespace, secrets "
    "and service accounts included (in kube-system, that reaches the whole cluster).",
    remediation="Bind a role with only the permissions needed in the namespace.",
    controls=(f"{CIS_K8S}:5.1.1", f"{NSA}:C-0035", f"{NIST}:4.3.1"),
)
def _namespace_admin(resource: Resource) -> Iterator[Hit]:
    ref = mapping(doc(resource).get("roleRef"))
    if resource.kind == "RoleBinding" and ref.get("name") == "cluster-admin" and ref.get("kind") == "ClusterRole":
        start, end = path_lines(doc(resource), "roleRef")
        subjects = ", ".join(_subject_name(s) for s, _ in _subjects(resource))
        yield Hit(f"binds cluster-admin in {resource.namespace or 'default'} to {subjects or 'no subject'}", start,
                  end, found=subjects)  # fmt: skip


CHECKS: tuple[Check, ...] = (
    _wildcard_verbs, _wildcard_resources, _wildcard_groups, _full_access, _secrets, _exec, _escalate_bind,
    _impersonate, _node_proxy, _create_pods, _port_forward, _sa_token, _csr_approve, _webhooks, _delete_events,
    _delete_workloads, _configmaps, _persistent_volumes, _service_status, _bindings, _proxy, _cluster_admin,
    _anonymous, _authenticated, _default_sa_binding, _masters, _sa_automount, _namespace_admin,
)  # fmt: skip
