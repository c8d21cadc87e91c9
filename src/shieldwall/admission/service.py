"""One admission request end to end, synchronously: images -> store facts -> pod-spec checks -> decision.

This is what the webhook runs in a worker thread under its deadline; it is
also the function the tests and the benchmark call directly.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shieldwall.admission.decide import Decision, decide
from shieldwall.admission.images import ContainerImage, container_images, pod_spec_path
from shieldwall.admission.lookup import ImageFacts, image_facts
from shieldwall.admission.podspec import PodSpecResult, check_object, selected_checks
from shieldwall.admission.policy import AdmissionPolicy
from shieldwall.admission.readpath import read_sessions
from shieldwall.admission.review import AdmissionRequest
from shieldwall.store import Store


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A decision with what produced it (kept for the audit record and the mutating patch)."""

    decision: Decision
    images: tuple[ContainerImage, ...]
    facts: dict[str, ImageFacts]
    store_ms: float
    checks_ms: float


def _with_type(obj: dict[str, Any] | None, request: AdmissionRequest) -> dict[str, Any] | None:
    """The object with ``kind``/``apiVersion`` from the request when it omits them (trimmed captures do)."""
    if obj is None or (isinstance(obj.get("kind"), str) and isinstance(obj.get("apiVersion"), str)):
        return obj
    gvk = request.kind
    api_version = f"{gvk.group}/{gvk.version}" if gvk.group else (gvk.version or "v1")
    return {**obj, "kind": obj.get("kind") if isinstance(obj.get("kind"), str) else gvk.kind,
            "apiVersion": obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else api_version}  # fmt: skip


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class AdmissionService:
    """Decides admission requests against one store and one policy."""

    def __init__(self, store: Store, policy: AdmissionPolicy, *, today: Callable[[], dt.date] = _today) -> None:
        self.store = store
        self.policy = policy
        self._today = today
        self._read = read_sessions(store)
        selected_checks(policy.default.kubernetes)  # load the check registry now, not on the first request

    def evaluate(self, request: AdmissionRequest) -> Evaluation:
        """Judge ``request``; store errors propagate (the caller applies the failure action)."""
        namespace = request.effective_namespace
        rules = self.policy.for_namespace(namespace)
        obj = _with_type(request.object, request)
        judged = request.operation in ("CREATE", "UPDATE") and obj is not None and pod_spec_path(obj) is not None
        images = tuple(container_images(obj)) if judged and obj is not None else ()
        started = time.perf_counter()
        facts: dict[str, ImageFacts] = {}
        if images:
            with self._read() as session:
                for item in images:
                    if item.image and item.image not in facts:
                        facts[item.image] = image_facts(session, item.image)
        store_done = time.perf_counter()
        podspec: PodSpecResult | None = None
        if judged and obj is not None:
            label = f"admission:{namespace}/{request.kind.kind}/{request.name or 'unnamed'}"
            podspec = check_object(obj, selected_checks(rules.kubernetes), label)
        checks_done = time.perf_counter()
        decision = decide(
            namespace=namespace,
            operation=request.operation,
            policy=self.policy,
            images=images,
            facts=facts,
            podspec=podspec,
            today=self._today(),
        )
        return Evaluation(
            decision=decision,
            images=images,
            facts=facts,
            store_ms=(store_done - started) * 1000,
            checks_ms=(checks_done - store_done) * 1000,
        )
