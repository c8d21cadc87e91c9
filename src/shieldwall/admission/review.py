"""AdmissionReview documents (``admission.k8s.io/v1``): parsing hostile bytes, building responses.

A request body is untrusted: it is size-limited before parsing, JSON nesting
is bounded by the parser, and the document must match the schema below. A
review that fails any of these is a ``ReviewError`` that carries the request
UID when one could be read, so the webhook answers the API server with a
clear denial (or the policy's failure action) instead of an error page.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
DEFAULT_MAX_BYTES = 3 * 1024 * 1024
MAX_WARNINGS = 20
MAX_WARNING_CHARS = 200
MAX_MESSAGE_CHARS = 4000


class ReviewError(ValueError):
    """A body that is not a usable AdmissionReview; ``uid`` is the request UID when it could be read."""

    def __init__(self, message: str, uid: str = "") -> None:
        super().__init__(message)
        self.uid = uid


class GroupVersionKind(BaseModel):
    """``kind`` / ``requestKind`` of a request."""

    model_config = ConfigDict(extra="ignore")

    group: str = ""
    version: str = ""
    kind: str = Field(min_length=1, max_length=256)


class AdmissionRequest(BaseModel):
    """The ``request`` member: what the API server asks about."""

    model_config = ConfigDict(extra="ignore")

    uid: str = Field(min_length=1, max_length=128)
    kind: GroupVersionKind
    name: str = Field(default="", max_length=512)
    namespace: str = Field(default="", max_length=253)
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
    userInfo: dict[str, Any] = Field(default_factory=dict)
    object: dict[str, Any] | None = None
    oldObject: dict[str, Any] | None = None
    dryRun: bool = False

    @field_validator("name", "namespace", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("dryRun", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def user(self) -> str:
        """The requesting user's name ('' when absent)."""
        name = self.userInfo.get("username", "")
        return name if isinstance(name, str) else ""

    @property
    def effective_namespace(self) -> str:
        """The request's namespace, else the object's, else ``default``."""
        if self.namespace:
            return self.namespace
        for obj in (self.object, self.oldObject):
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            value = meta.get("namespace") if isinstance(meta, dict) else None
            if isinstance(value, str) and value:
                return value[:253]
        return "default"


class AdmissionReview(BaseModel):
    """The whole document the API server POSTs."""

    model_config = ConfigDict(extra="ignore")

    apiVersion: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


def _uid_of(doc: Any) -> str:
    request = doc.get("request") if isinstance(doc, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) and 0 < len(uid) <= 128 else ""


def parse_review(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> AdmissionReview:
    """Parse and validate one AdmissionReview body; anything unusable raises ``ReviewError``."""
    if len(body) > max_bytes:
        raise ReviewError(f"admission review is {len(body)} bytes, over the {max_bytes}-byte limit")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReviewError(f"admission review is not JSON: {str(exc)[:200]}") from None
    try:
        return AdmissionReview.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ReviewError(f"admission review does not match admission.k8s.io/v1: {problems}", _uid_of(doc)) from None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def response_document(
    uid: str,
    allowed: bool,
    *,
    message: str = "",
    code: int = 403,
    warnings: list[str] | tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
    patch: bytes | None = None,
) -> dict[str, Any]:
    """The AdmissionReview the webhook answers with (``response`` only, as the API server expects)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"code": code, "reason": "Forbidden", "message": _clip(message, MAX_MESSAGE_CHARS)}
    elif message:
        response["status"] = {"code": 200, "message": _clip(message, MAX_MESSAGE_CHARS)}
    if warnings:
        response["warnings"] = [_clip(w, MAX_WARNING_CHARS) for w in list(warnings)[:MAX_WARNINGS]]
    if annotations:
        response["auditAnnotations"] = {k: _clip(v, 1000) for k, v in annotations.items()}
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(patch).decode("ascii")
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}
