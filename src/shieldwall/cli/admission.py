"""``shieldwall admission serve`` (the validating webhook) and ``shieldwall admission manifest``.

FastAPI and uvicorn are imported inside ``serve`` so that ``shieldwall --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shieldwall.cli.api_cmds import DebugOpt, _guarded

admission_app = typer.Typer(help="Kubernetes admission control from the store's scan results.", no_args_is_help=True)


@admission_app.command("serve")
def serve(
    cert: Annotated[Path, typer.Option("--cert", help="Serving certificate (PEM); the API server only speaks TLS.")],
    key: Annotated[Path, typer.Option("--key", help="Private key of the serving certificate (PEM).")],
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Admission policy YAML (default: the built-in policy).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)] = 8443,
    workers: Annotated[int, typer.Option("--workers", help="Decision threads per process.", min=1, max=64)] = 8,
    processes: Annotated[int, typer.Option("--processes", help="Server processes.", min=1, max=32)] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", help="Largest AdmissionReview accepted.", min=1024)
    ] = 3 * 1024 * 1024,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "warning",
    debug: DebugOpt = False,
) -> None:
    """Answer AdmissionReview requests on POST /validate (and /mutate) over TLS until SIGTERM.

    The store is SHIELDWALL_DATABASE_URL (PostgreSQL) or the SQLite file in the data directory.
    An `unknown_image: scan` policy queues registry scans in this process (SHIELDWALL_API_WORKERS threads).
    """
    import os

    import uvicorn

    from shieldwall.admission.factory import ServeConfig, build_app
    from shieldwall.admission.policy import load_policy
    from shieldwall.store import Store

    if log_level not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("--log-level must be debug, info, warning or error")
    for path in (cert, key):
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such file")
    _guarded(lambda: load_policy(policy_file), debug)  # an invalid policy stops here, before any process starts
    _guarded(Store.open, debug).close()  # migrations run once, here
    config = ServeConfig(policy_file.resolve() if policy_file else None, max_body_bytes, workers)
    tls_options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    common = {"host": host, "port": port, "log_level": log_level, "proxy_headers": False, "server_header": False,
              "timeout_graceful_shutdown": 10, **tls_options}  # fmt: skip
    if processes == 1:
        uvicorn.run(_guarded(lambda: build_app(config), debug), **common)  # type: ignore[arg-type]
        return
    os.environ.update(config.to_environ())
    uvicorn.run("shieldwall.admission.factory:app_from_environ", factory=True, workers=processes, **common)  # type: ignore[arg-type]


@admission_app.command("manifest")
def manifest(
    out: Annotated[Path, typer.Option("--out", help="Directory for the manifest and the certificate files.")],
    name: Annotated[
        str, typer.Option("--name", help="Service and webhook configuration name.")
    ] = "shieldwall-admission",
    namespace: Annotated[str, typer.Option("--namespace", help="Namespace the webhook runs in.")] = "shieldwall",
    port: Annotated[int, typer.Option("--port", help="Container port of the webhook.")] = 8443,
    timeout: Annotated[int, typer.Option("--timeout", help="timeoutSeconds of the webhook (1-30).", min=1, max=30)] = 5,
    cert_manager: Annotated[
        bool, typer.Option("--cert-manager", help="Let cert-manager issue the certificate (no key material written).")
    ] = False,
    mutating: Annotated[bool, typer.Option("--mutating", help="Also register /mutate (pin tags to digests).")] = False,
    extra_name: Annotated[
        list[str] | None, typer.Option("--san", help="Extra certificate name (DNS or IP), repeatable.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Write webhook.yaml (Service, Secret or cert-manager objects, webhook configuration) and certificates."""
    from shieldwall.admission import tls
    from shieldwall.admission.manifest import ManifestOptions, manifest_documents, render

    options = ManifestOptions(
        name=name, namespace=namespace, port=port, timeout_seconds=timeout, cert_manager=cert_manager,
        mutating=mutating, exclude_namespaces=("kube-system", namespace),
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    if cert_manager:
        documents = manifest_documents(options)
    else:
        names = tls.service_names(name, namespace) + list(extra_name or [])
        files = _guarded(lambda: tls.generate(out / "certs", names), debug)
        documents = manifest_documents(
            options, ca_bundle=files.ca_cert.read_bytes(), tls_cert=files.cert.read_bytes(),
            tls_key=files.key.read_bytes(),
        )  # fmt: skip
    target = out / "webhook.yaml"
    target.write_text(render(documents), encoding="utf-8")
    typer.echo(str(target))
