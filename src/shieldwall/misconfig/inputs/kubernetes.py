"""Kubernetes manifests: any YAML (or JSON) whose documents carry ``apiVersion`` and ``kind``.

Multi-document files, ``kind: List`` wrappers, Helm ``template`` output and
kustomize output are all plain YAML and load the same way. Unrendered Helm
templates (``{{ ... }}``) are not manifests and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shieldwall.analyze.base import FileInfo, basename
from shieldwall.misconfig.check import InputKind, ParsedFile, Resource
from shieldwall.misconfig.inputs.compose import is_compose_name
from shieldwall.misconfig.suppress import scan_lines
from shieldwall.misconfig.yamlload import YamlList, YamlMap, load_documents

MAX_BYTES = 4 * 1024 * 1024
_API_VERSION = re.compile(rb"^\s*(?:-\s+)?[\"']?apiVersion[\"']?\s*:", re.MULTILINE)
_KIND = re.compile(rb"^\s*(?:-\s+)?[\"']?kind[\"']?\s*:", re.MULTILINE)
_TEMPLATE = re.compile(rb"\{\{-?\s")

POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"})
WORKLOAD_KINDS = POD_TEMPLATE_KINDS | {"Pod", "CronJob", "PodTemplate"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def looks_like_manifest(content: bytes) -> bool:
    """Cheap sniff: both ``apiVersion:`` and ``kind:`` keys appear at the start of a line (anywhere for JSON)."""
    if content.lstrip()[:1] in (b"{", b"["):
        return b'"apiVersion"' in content and b'"kind"' in content
    return bool(_API_VERSION.search(content)) and bool(_KIND.search(content))


def pod_template(doc: YamlMap) -> YamlMap | None:
    """The pod template metadata+spec holder of a workload (``spec.template``, the pod itself...)."""
    kind = doc.get("kind")
    spec = doc.get("spec")
    if kind == "Pod":
        return doc
    if kind == "PodTemplate":
        template = doc.get("template")
        return template if isinstance(template, YamlMap) else None
    if not isinstance(spec, YamlMap):
        return None
    if kind == "CronJob":
        job = spec.get("jobTemplate")
        spec = job.get("spec") if isinstance(job, YamlMap) else None
        if not isinstance(spec, YamlMap):
            return None
    elif kind not in POD_TEMPLATE_KINDS:
        return None
    template = spec.get("template")
    return template if isinstance(template, YamlMap) else None


def pod_spec(doc: YamlMap) -> YamlMap | None:
    """The ``PodSpec`` of a workload of any kind, CronJob ``jobTemplate`` included."""
    template = pod_template(doc)
    if template is None:
        return None
    spec = template.get("spec")
    return spec if isinstance(spec, YamlMap) else None


def pod_metadata(doc: YamlMap) -> YamlMap:
    """Metadata of the pod (template): where pod annotations such as AppArmor live."""
    template = pod_template(doc)
    meta = template.get("metadata") if template is not None else None
    return meta if isinstance(meta, YamlMap) else YamlMap()


@dataclass(frozen=True, slots=True)
class Container:
    """A container of a pod spec, with the list it sits in (``containers``, ``initContainers``...)."""

    spec: YamlMap
    group: str
    index: int

    @property
    def name(self) -> str:
        """The container's name (or its position when unnamed)."""
        name = self.spec.get("name")
        return str(name) if name else f"{self.group}[{self.index}]"

    @property
    def security(self) -> YamlMap:
        """``securityContext`` (an empty map when absent)."""
        value = self.spec.get("securityContext")
        return value if isinstance(value, YamlMap) else YamlMap()

    def lines(self, *keys: str) -> tuple[int, int]:
        """Line range of a nested key path under the container (or of the container)."""
        node: Any = self.spec
        span = (self.spec.start, self.spec.end)
        for key in keys:
            if not isinstance(node, YamlMap) or key not in node:
                break
            span = node.lines_of(key)
            node = node[key]
        return span


def containers(spec: YamlMap) -> Iterator[Container]:
    """Every container of a pod spec: init, regular and ephemeral."""
    for group in CONTAINER_LISTS:
        items = spec.get(group)
        if not isinstance(items, YamlList):
            continue
        for index, item in enumerate(items):
            if isinstance(item, YamlMap):
                yield Container(item, group, index)


CONTROL_PLANE = frozenset({"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"})


def control_plane_component(doc: YamlMap) -> str:
    """The control-plane program a kube-system static pod runs (``kube-apiserver``...), or ''.

    Control-plane pods need the host network and host paths by design; host-access checks leave them
    to the component-flag checks and the host scan's file-permission checks.
    """
    if _metadata(doc)[1] != "kube-system":
        return ""
    spec = pod_spec(doc)
    if spec is None:
        return ""
    for container in containers(spec):
        for key in ("command", "args"):
            words = container.spec.get(key)
            if isinstance(words, YamlList):
                for word in list(words)[:3]:
                    program = str(word).rsplit("/", 1)[-1]
                    if program in CONTROL_PLANE:
                        return program
    return ""


def _metadata(doc: YamlMap) -> tuple[str, str]:
    meta = doc.get("metadata")
    if not isinstance(meta, YamlMap):
        return "", ""
    name = meta.get("name") or meta.get("generateName") or ""
    namespace = meta.get("namespace") or ""
    return str(name), str(namespace)


def _objects(doc: Any) -> Iterator[YamlMap]:
    if not isinstance(doc, YamlMap):
        return
    kind = doc.get("kind")
    if not isinstance(kind, str) or not isinstance(doc.get("apiVersion"), str):
        return
    if kind.endswith("List") and isinstance(doc.get("items"), YamlList):
        for item in doc["items"]:
            yield from _objects(item)
        return
    yield doc


def resources_of(documents: list[Any], path: str) -> list[Resource]:
    """A ``Resource`` per Kubernetes object in ``documents``."""
    out: list[Resource] = []
    for document in documents:
        for obj in _objects(document):
            name, namespace = _metadata(obj)
            out.append(
                Resource(
                    input=InputKind.KUBERNETES,
                    kind=str(obj["kind"]),
                    name=name,
                    path=path,
                    data=obj,
                    line=obj.start,
                    end_line=obj.end,
                    namespace=namespace,
                )
            )
    return out


class KubernetesInput:
    """Parser for the ``kubernetes`` input kind."""

    input = InputKind.KUBERNETES

    def claims(self, path: str, info: FileInfo) -> bool:
        """``*.yaml``/``*.yml``/``*.json`` up to 4 MiB that are not compose files (content is sniffed in ``parse``)."""
        name = basename(path).lower()
        return info.size <= MAX_BYTES and name.endswith((".yaml", ".yml", ".json")) and not is_compose_name(path)

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """Kubernetes objects of a YAML file, or ``None`` when it holds none."""
        if not looks_like_manifest(content) or _TEMPLATE.search(content):
            return None
        text = content.decode("utf-8", errors="replace")
        resources = resources_of(load_documents(text, path), path)
        if not resources:
            return None
        suppressions, quiet = scan_lines(text)
        header = min((r.line or 1) for r in resources) - 1
        return ParsedFile(path, self.input, tuple(resources), suppressions, _header_end(text, header), quiet)


def _header_end(text: str, first_line: int) -> int:
    """Header lines end at the first document marker or content line, whichever comes first."""
    for number, line in enumerate(text.splitlines()[:first_line], start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number - 1
    return first_line
