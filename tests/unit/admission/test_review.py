"""Hostile AdmissionReview bodies become ReviewError with the UID when readable; responses are well formed."""

from __future__ import annotations

import base64
import json

import pytest

from shieldwall.admission.review import ReviewError, parse_review, response_document

UID = "705ab4f5-6393-11e8-b7cc-42010a800002"


def review(**request: object) -> bytes:
    base = {"uid": UID, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": {}}
    base.update(request)
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": base}).encode()


def test_valid_review_parses_with_nulls() -> None:
    parsed = parse_review(review(namespace=None, dryRun=None, name=None))
    assert parsed.request.uid == UID
    assert parsed.request.effective_namespace == "default"
    assert parsed.request.dryRun is False


@pytest.mark.parametrize(
    ("body", "uid", "words"),
    [
        (b"{not json", "", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "", "not JSON"),
        (review(operation="EXPLODE"), UID, "operation"),
        (review(kind="Pod"), UID, "kind"),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": UID}}
            ).encode(),
            UID,
            "apiVersion",
        ),
        (json.dumps({"request": {"uid": "x" * 500}}).encode(), "", "apiVersion"),
        (b"null", "", "(root)"),
    ],
)
def test_malformed_reviews_are_errors_with_the_uid(body: bytes, uid: str, words: str) -> None:
    with pytest.raises(ReviewError, match=words.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse_review(body)
    assert caught.value.uid == uid


def test_oversized_review_is_refused_before_parsing() -> None:
    with pytest.raises(ReviewError, match="over the 1024-byte limit"):
        parse_review(b" " * 2048, max_bytes=1024)


def test_response_document_shapes() -> None:
    denied = response_document(UID, False, message="m" * 10_000, warnings=["w" * 500] * 50)
    response = denied["response"]
    assert denied["apiVersion"] == "admission.k8s.io/v1" and denied["kind"] == "AdmissionReview"
    assert response["uid"] == UID and response["allowed"] is False
    assert response["status"]["code"] == 403 and len(response["status"]["message"]) <= 4000
    assert len(response["warnings"]) == 20 and all(len(w) <= 200 for w in response["warnings"])
    patched = response_document(UID, True, patch=b'[{"op":"replace"}]')["response"]
    assert patched["patchType"] == "JSONPatch"
    assert base64.b64decode(patched["patch"]) == b'[{"op":"replace"}]'
