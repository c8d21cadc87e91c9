"""Helpers for Kubernetes checks: workloads, containers, effective security settings, hits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shieldwall.misconfig.check import Hit, Resource, ResourceRef
from shieldwall.misconfig.inputs.kubernetes import Container, containers, pod_metadata, pod_spec
from shieldwall.misconfig.yamlload import YamlList, YamlMap

CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
        "CustomResourceDefinition", "PodSecurityPolicy", "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration", "APIService", "PriorityClass", "RuntimeClass", "CSIDriver",
        "CSINode", "VolumeAttachment", "IngressClass", "ClusterIssuer", "CertificateSigningRequest",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "List",
    }
)  # fmt: skip


def doc(resource: Resource) -> YamlMap:
    """The object's mapping."""
    data = resource.data
    assert isinstance(data, YamlMap)
    return data


def spec_of(resource: Resource) -> YamlMap | None:
    """The pod spec of a workload resource."""
    return pod_spec(doc(resource))


def mapping(value: Any) -> YamlMap:
    """``value`` when it is a mapping, else an empty one (absent or malformed fields)."""
    return value if isinstance(value, YamlMap) else YamlMap()


def sequence(value: Any) -> YamlList:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, YamlList) else YamlList()


def path_lines(node: YamlMap, *keys: str) -> tuple[int, int]:
    """Line range of the deepest existing key along ``keys``."""
    span = (node.start, node.end)
    current: Any = node
    for key in keys:
        if not isinstance(current, YamlMap) or key not in current:
            break
        span = current.lines_of(key)
        current = current[key]
    return span


def pod_hit(resource: Resource, message: str, *keys: str, found: str = "") -> Hit:
    """A hit on a pod-level field (``spec.hostPID``...), pointing at it when present."""
    spec = spec_of(resource)
    if spec is None:
        return Hit(message, found=found)
    start, end = path_lines(spec, *keys) if keys else (spec.start, spec.end)
    return Hit(message, start, end, found=found)


def container_hit(container: Container, message: str, *keys: str, found: str = "", key: str = "") -> Hit:
    """A hit on one container, pointing at ``keys`` under it when present."""
    start, end = container.lines(*keys)
    return Hit(message, start, end, ResourceRef("container", container.name), key or container.name, found)


def all_containers(resource: Resource) -> Iterator[Container]:
    """Every container (init, regular, ephemeral) of a workload."""
    spec = spec_of(resource)
    if spec is not None:
        yield from containers(spec)


def pod_security(resource: Resource) -> YamlMap:
    """The pod-level ``securityContext``."""
    spec = spec_of(resource)
    return mapping(spec.get("securityContext")) if spec is not None else YamlMap()


def effective(resource: Resource, container: Container, key: str) -> Any:
    """A security setting as it applies to ``container``: its own value, else the pod's."""
    own = container.security
    if key in own and own[key] is not None:
        return own[key]
    return pod_security(resource).get(key)


def pod_annotations(resource: Resource) -> YamlMap:
    """Annotations of the pod (template) -- where AppArmor and seccomp annotations live."""
    return mapping(pod_metadata(doc(resource)).get("annotations"))


def capabilities(container: Container) -> tuple[list[str], list[str]]:
    """(added, dropped) capability names, upper-cased and without a ``CAP_`` prefix."""
    caps = mapping(container.security.get("capabilities"))

    def names(value: Any) -> list[str]:
        return [str(v).upper().removeprefix("CAP_") for v in sequence(value)]

    return names(caps.get("add")), names(caps.get("drop"))


def truthy(value: Any) -> bool:
    """YAML true (also the strings 'true'/'True' that templating tends to produce)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def falsy(value: Any) -> bool:
    """YAML false (or the string 'false')."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def int_or_none(value: Any) -> int | None:
    """An integer field (also given as a numeric string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
