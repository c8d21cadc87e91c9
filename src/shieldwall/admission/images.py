"""The container images of a Kubernetes object: Pods and the pod templates of every workload kind.

Each image comes with the JSON Pointer of its ``image`` field, so the
mutating mode can pin exactly that field to a digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"})
MAX_CONTAINERS = 512


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """One container's image as written in the object, with where it sits."""

    group: str
    name: str
    image: str
    pointer: str


def pod_spec_path(obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(JSON Pointer, PodSpec)`` of a Pod or a workload's pod template; None for other kinds."""
    kind = obj.get("kind")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if kind == "Pod":
        return "/spec", spec
    base = "/spec"
    if kind == "CronJob":
        job = spec.get("jobTemplate")
        spec = job.get("spec") if isinstance(job, dict) else None
        if not isinstance(spec, dict):
            return None
        base = "/spec/jobTemplate/spec"
    elif kind not in TEMPLATE_KINDS:
        return None
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    return (f"{base}/template/spec", pod) if isinstance(pod, dict) else None


def container_images(obj: dict[str, Any]) -> list[ContainerImage]:
    """Every container image of ``obj`` (init, regular, ephemeral), at most ``MAX_CONTAINERS``."""
    found = pod_spec_path(obj)
    if found is None:
        return []
    base, spec = found
    out: list[ContainerImage] = []
    for group in CONTAINER_GROUPS:
        items = spec.get(group)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            image = item.get("image")
            name = item.get("name")
            out.append(
                ContainerImage(
                    group=group,
                    name=name if isinstance(name, str) else f"{group}[{index}]",
                    image=image if isinstance(image, str) else "",
                    pointer=f"{base}/{group}/{index}/image",
                )
            )
            if len(out) >= MAX_CONTAINERS:
                return out
    return out
