"""The Kubernetes objects that register the webhook: Service, ValidatingWebhookConfiguration, TLS Secret.

With ``cert_manager``, the Secret is left to cert-manager (a ``Certificate``
from a self-signed ``Issuer``) and the webhook configuration carries the
``cert-manager.io/inject-ca-from`` annotation instead of a ``caBundle``.
``sideEffects: NoneOnDryRun``: dry-run requests are answered without an
audit record or a scan; ``failurePolicy: Fail``: if the webhook cannot be
reached at all, the API server refuses (the webhook itself answers within
``timeoutSeconds`` by its own failure action).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import yaml

RULE_RESOURCES = {
    "": ["pods", "pods/ephemeralcontainers", "replicationcontrollers"],
    "apps": ["deployments", "statefulsets", "daemonsets", "replicasets"],
    "batch": ["jobs", "cronjobs"],
}


@dataclass(frozen=True, slots=True)
class ManifestOptions:
    """Names and knobs of the generated objects."""

    name: str = "shieldwall-admission"
    namespace: str = "shieldwall"
    port: int = 8443
    timeout_seconds: int = 5
    exclude_namespaces: tuple[str, ...] = ("kube-system", "shieldwall")
    cert_manager: bool = False
    mutating: bool = False


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [group],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": resources,
            "scope": "Namespaced",
        }
        for group, resources in RULE_RESOURCES.items()
    ]


def _webhook(options: ManifestOptions, path: str, ca_bundle: bytes | None) -> dict[str, Any]:
    client: dict[str, Any] = {
        "service": {"name": options.name, "namespace": options.namespace, "path": path, "port": 443}
    }
    if ca_bundle is not None:
        client["caBundle"] = base64.b64encode(ca_bundle).decode("ascii")
    return {
        "name": f"{path.strip('/')}.{options.name}.shieldwall.io",
        "admissionReviewVersions": ["v1"],
        "clientConfig": client,
        "rules": _rules(),
        "failurePolicy": "Fail",
        "sideEffects": "NoneOnDryRun",
        "timeoutSeconds": options.timeout_seconds,
        "matchPolicy": "Equivalent",
        "namespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(options.exclude_namespaces)}
            ]
        },
    }


def manifest_documents(
    options: ManifestOptions, *, ca_bundle: bytes | None = None, tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The objects, in apply order."""
    if not options.cert_manager and (ca_bundle is None or tls_cert is None or tls_key is None):
        raise ValueError("certificate material is required unless cert-manager issues it")
    secret_name = f"{options.name}-tls"
    labels = {"app.kubernetes.io/name": options.name, "app.kubernetes.io/part-of": "shieldwall"}
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": options.name, "namespace": options.namespace, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "targetPort": options.port}]},
        }
    ]
    annotations: dict[str, str] = {}
    if options.cert_manager:
        docs.append({
            "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": {"name": f"{options.name}-selfsigned", "namespace": options.namespace},
            "spec": {"selfSigned": {}},
        })  # fmt: skip
        host = f"{options.name}.{options.namespace}.svc"
        docs.append({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": options.name, "namespace": options.namespace},
            "spec": {
                "secretName": secret_name, "dnsNames": [host, f"{host}.cluster.local"],
                "issuerRef": {"name": f"{options.name}-selfsigned", "kind": "Issuer"},
                "privateKey": {"algorithm": "ECDSA", "size": 256},
            },
        })  # fmt: skip
        annotations["cert-manager.io/inject-ca-from"] = f"{options.namespace}/{options.name}"
    else:
        assert tls_cert is not None and tls_key is not None
        docs.append({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": secret_name, "namespace": options.namespace, "labels": labels},
            "data": {"tls.crt": base64.b64encode(tls_cert).decode(), "tls.key": base64.b64encode(tls_key).decode()},
        })  # fmt: skip
    bundle = None if options.cert_manager else ca_bundle
    docs.append({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": options.name, "labels": labels, **({"annotations": annotations} if annotations else {})},
        "webhooks": [_webhook(options, "/validate", bundle)],
    })  # fmt: skip
    if options.mutating:
        docs.append({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": options.name, "labels": labels,
                         **({"annotations": annotations} if annotations else {})},
            "webhooks": [{**_webhook(options, "/mutate", bundle), "reinvocationPolicy": "Never"}],
        })  # fmt: skip
    return docs


def render(documents: list[dict[str, Any]]) -> str:
    """Multi-document YAML."""
    return yaml.safe_dump_all(documents, sort_keys=False)
