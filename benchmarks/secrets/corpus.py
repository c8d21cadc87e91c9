"""Labelled secret corpus: live-looking tokens planted in realistic files, plus decoys.

Every planted secret and every decoy sits on lines recorded in
``labels.json`` (file, first line, last line, kind), so any tool's findings
can be scored by location: a finding inside a planted range is a true
positive, any other finding is a false positive. Tokens are random (seeded)
in each provider's public format; private keys are real keys made with
``cryptography``. Decoys are what real trees are full of: placeholders,
``${VAR}`` references, lock-file integrity hashes, UUIDs, git SHAs, data
URIs, public keys and certificates, documented example keys and test-mode
keys.

    python benchmarks/secrets/corpus.py benchmarks/work/secrets-corpus [--seed 7] [--files 240]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import random
import shutil
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
BASE32 = string.ascii_uppercase + "234567"


class Gen:
    """Seeded random strings in the alphabets tokens use."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        while True:
            out = "".join(self.rng.choice(alphabet) for _ in range(n))
            classes = [
                c for c in (string.digits, string.ascii_uppercase, string.ascii_lowercase) if set(c) & set(alphabet)
            ]
            if n < 8 or all(any(ch in cls for ch in out) for cls in classes):
                return out

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def password(self) -> str:
        words = ["Tr0ub4dor", "Kestrel", "Quartz", "Mango", "Velvet", "Orbit", "Falcon", "Cobalt", "Nimbus", "Saffron"]
        return self.rng.choice(words) + self.rng.choice("!#%&*@^") + self.digits(2) + self.s(5)


@dataclass(frozen=True)
class Kind:
    """One kind of secret: its label, a token factory, and a realistic variable name."""

    name: str
    make: Callable[[Gen], str]
    var: str


KINDS: list[Kind] = [
    Kind("aws-access-key-id", lambda g: "AKIA" + g.s(16, BASE32), "AWS_ACCESS_KEY_ID"),
    Kind("aws-secret-access-key", lambda g: g.s(40, B64), "AWS_SECRET_ACCESS_KEY"),
    Kind("gcp-api-key", lambda g: "AIza" + g.s(35, URLSAFE), "GOOGLE_API_KEY"),
    Kind("gcp-oauth-client-secret", lambda g: "GOCSPX-" + g.s(28, URLSAFE), "GOOGLE_CLIENT_SECRET"),
    Kind("azure-storage-key", lambda g: g.s(86, B64) + "==", "AZURE_STORAGE_KEY"),
    Kind(
        "azure-ad-client-secret", lambda g: g.s(3) + g.digits(1) + "Q~" + g.s(34, ALNUM + "_~.-"), "AZURE_CLIENT_SECRET"
    ),
    Kind("github-pat", lambda g: "ghp_" + g.s(36), "GITHUB_TOKEN"),
    Kind("github-fine-grained-pat", lambda g: "github_pat_" + g.s(22) + "_" + g.s(59), "GH_PAT"),
    Kind("github-oauth", lambda g: "gho_" + g.s(36), "GITHUB_OAUTH_TOKEN"),
    Kind("github-app-token", lambda g: "ghs_" + g.s(36), "GITHUB_APP_TOKEN"),
    Kind("gitlab-pat", lambda g: "glpat-" + g.s(20, URLSAFE), "GITLAB_TOKEN"),
    Kind("gitlab-runner-token", lambda g: "glrt-" + g.s(20, URLSAFE), "RUNNER_TOKEN"),
    Kind("bitbucket-app-password", lambda g: "ATBB" + g.s(32), "BITBUCKET_APP_PASSWORD"),
    Kind("npm-token", lambda g: "npm_" + g.s(36), "NPM_TOKEN"),
    Kind("pypi-token", lambda g: "pypi-AgEIcHlwaS5vcmc" + g.s(120, URLSAFE), "PYPI_TOKEN"),
    Kind("rubygems-key", lambda g: "rubygems_" + g.s(48, HEX), "GEM_HOST_API_KEY"),
    Kind("nuget-key", lambda g: "oy2" + g.s(43, LOWER_ALNUM), "NUGET_API_KEY"),
    Kind("dockerhub-pat", lambda g: "dckr_pat_" + g.s(27, URLSAFE), "DOCKERHUB_TOKEN"),
    Kind("stripe-live-key", lambda g: "sk_live_" + g.s(99), "STRIPE_SECRET_KEY"),
    Kind("stripe-restricted-key", lambda g: "rk_live_" + g.s(99), "STRIPE_RESTRICTED_KEY"),
    Kind("stripe-webhook-secret", lambda g: "whsec_" + g.s(32), "STRIPE_WEBHOOK_SECRET"),
    Kind("square-token", lambda g: "EAAA" + g.s(60, URLSAFE), "SQUARE_ACCESS_TOKEN"),
    Kind("square-oauth-secret", lambda g: "sq0csp-" + g.s(43, URLSAFE), "SQUARE_APP_SECRET"),
    Kind(
        "paypal-braintree-token", lambda g: f"access_token$production${g.s(16, LOWER_ALNUM)}${g.s(32, HEX)}", "BT_TOKEN"
    ),
    Kind("slack-bot-token", lambda g: f"xoxb-{g.digits(12)}-{g.digits(13)}-{g.s(24)}", "SLACK_BOT_TOKEN"),
    Kind(
        "slack-user-token", lambda g: f"xoxp-{g.digits(12)}-{g.digits(12)}-{g.digits(13)}-{g.s(32, HEX)}", "SLACK_TOKEN"
    ),
    Kind(
        "slack-webhook",
        lambda g: f"https://hooks.slack.com/services/T{g.s(10, UPPER_ALNUM)}/B{g.s(10, UPPER_ALNUM)}/{g.s(24)}",
        "SLACK_WEBHOOK_URL",
    ),
    Kind("twilio-api-key", lambda g: "SK" + g.s(32, HEX), "TWILIO_API_KEY"),
    Kind("sendgrid-key", lambda g: f"SG.{g.s(22, URLSAFE)}.{g.s(43, URLSAFE)}", "SENDGRID_API_KEY"),
    Kind("mailgun-key", lambda g: "key-" + g.s(32, HEX), "MAILGUN_API_KEY"),
    Kind("mailchimp-key", lambda g: g.s(32, HEX) + "-us" + g.digits(2), "MAILCHIMP_API_KEY"),
    Kind("telegram-bot-token", lambda g: f"{g.digits(10)}:AA{g.s(33, URLSAFE)}", "TELEGRAM_BOT_TOKEN"),
    Kind(
        "discord-webhook",
        lambda g: f"https://discord.com/api/webhooks/{g.digits(19)}/{g.s(68, URLSAFE)}",
        "DISCORD_WEBHOOK_URL",
    ),
    Kind("openai-key", lambda g: "sk-proj-" + g.s(74, URLSAFE) + "T3BlbkFJ" + g.s(74, URLSAFE), "OPENAI_API_KEY"),
    Kind("anthropic-key", lambda g: "sk-ant-api03-" + g.s(93, URLSAFE) + "AA", "ANTHROPIC_API_KEY"),
    Kind("huggingface-token", lambda g: "hf_" + g.s(34), "HF_TOKEN"),
    Kind("groq-key", lambda g: "gsk_" + g.s(52), "GROQ_API_KEY"),
    Kind("replicate-token", lambda g: "r8_" + g.s(37), "REPLICATE_API_TOKEN"),
    Kind("perplexity-key", lambda g: "pplx-" + g.s(48), "PERPLEXITY_API_KEY"),
    Kind("vault-token", lambda g: "hvs.CAESI" + g.s(95, URLSAFE), "VAULT_TOKEN"),
    Kind("digitalocean-token", lambda g: "dop_v1_" + g.s(64, HEX), "DIGITALOCEAN_TOKEN"),
    Kind("shopify-token", lambda g: "shpat_" + g.s(32, HEX), "SHOPIFY_ACCESS_TOKEN"),
    Kind("atlassian-token", lambda g: "ATATT3xFfGF0" + g.s(180, URLSAFE), "JIRA_API_TOKEN"),
    Kind("newrelic-key", lambda g: "NRAK-" + g.s(27, UPPER_ALNUM), "NEW_RELIC_API_KEY"),
    Kind("sentry-token", lambda g: "sntryu_" + g.s(64, HEX), "SENTRY_AUTH_TOKEN"),
    Kind("postman-key", lambda g: f"PMAK-{g.s(24, HEX)}-{g.s(34, HEX)}", "POSTMAN_API_KEY"),
    Kind("databricks-token", lambda g: "dapi" + g.s(32, HEX), "DATABRICKS_TOKEN"),
    Kind("pulumi-token", lambda g: "pul-" + g.s(40, HEX), "PULUMI_ACCESS_TOKEN"),
    Kind("age-secret-key", lambda g: "AGE-SECRET-KEY-1" + g.s(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"), "SOPS_AGE_KEY"),
    Kind("linear-key", lambda g: "lin_api_" + g.s(40), "LINEAR_API_KEY"),
    Kind("grafana-sa-token", lambda g: f"glsa_{g.s(32)}_{g.s(8, HEX)}", "GRAFANA_TOKEN"),
    Kind(
        "jwt",
        lambda g: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + g.s(60, URLSAFE) + "." + g.s(43, URLSAFE),
        "SESSION_JWT",
    ),
    Kind(
        "postgres-url",
        lambda g: f"postgresql://app_user:{g.s(20)}@db-{g.s(6, LOWER_ALNUM)}.internal:5432/orders",
        "DATABASE_URL",
    ),
    Kind("mysql-url", lambda g: f"mysql://root:{g.s(18)}@mysql.prod.svc:3306/shop", "MYSQL_URL"),
    Kind(
        "mongodb-url",
        lambda g: f"mongodb+srv://admin:{g.s(20)}@cluster0.{g.s(5, LOWER_ALNUM)}.mongodb.net/prod",
        "MONGO_URI",
    ),
    Kind("redis-url", lambda g: f"redis://:{g.s(24)}@cache.internal:6379/0", "REDIS_URL"),
    Kind("amqp-url", lambda g: f"amqp://worker:{g.s(20)}@rabbitmq:5672/", "BROKER_URL"),
    Kind("generic-password", lambda g: g.password(), "DB_PASSWORD"),
    Kind("generic-api-secret", lambda g: g.s(40), "CLIENT_SECRET"),
    Kind("generic-api-key", lambda g: g.s(32), "PAYMENTS_API_KEY"),
]

PEM_KINDS = ["rsa", "ec", "dsa", "pkcs8", "openssh", "pgp", "putty"]


def private_key_text(kind: str, g: Gen) -> str:
    """A real private key (or, for PGP and PuTTY, a well-formed block with random content)."""
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
    if kind == "ec":
        key_ec = ec.generate_private_key(ec.SECP256R1())
        return key_ec.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
    if kind == "dsa":
        key_dsa = dsa.generate_private_key(key_size=2048)
        return key_dsa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
    if kind == "pkcs8":
        key_p8 = ec.generate_private_key(ec.SECP384R1())
        return key_p8.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    if kind == "openssh":
        key_ed = ed25519.Ed25519PrivateKey.generate()
        return key_ed.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
    body = base64.b64encode(g.rng.randbytes(600)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    if kind == "pgp":
        return (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
            + "\n".join(lines)
            + "\n="
            + g.s(4, B64)
            + "\n-----END PGP PRIVATE KEY BLOCK-----\n"
        )
    public = base64.b64encode(g.rng.randbytes(51)).decode()
    return (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\n"
        f"{public[:64]}\n{public[64:]}\nPrivate-Lines: {len(lines[:3])}\n"
        + "\n".join(lines[:3])
        + f"\nPrivate-MAC: {g.s(64, HEX)}\n"
    )


# --- file formats: how an assignment of NAME to VALUE looks in each --------------------------------------------


def _camel(name: str) -> str:
    parts = name.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


FORMATS: dict[str, Callable[[str, str], str]] = {
    "py": lambda n, v: f'{n} = "{v}"',
    "js": lambda n, v: f"const {_camel(n)} = '{v}';",
    "ts": lambda n, v: f'export const {n}: string = "{v}";',
    "go": lambda n, v: f'\t{_camel(n)} := "{v}"',
    "java": lambda n, v: f'    private static final String {n} = "{v}";',
    "rb": lambda n, v: f"{n} = '{v}'",
    "php": lambda n, v: f"define('{n}', '{v}');",
    "cs": lambda n, v: f'        private const string {_camel(n).title()} = "{v}";',
    "yaml": lambda n, v: f"  {n.lower()}: {v}",
    "json": lambda n, v: f'  "{_camel(n)}": "{v}",',
    "env": lambda n, v: f"{n}={v}",
    "properties": lambda n, v: f"{n.lower().replace('_', '.')}={v}",
    "ini": lambda n, v: f"{n.lower()} = {v}",
    "toml": lambda n, v: f'{n.lower()} = "{v}"',
    "sh": lambda n, v: f'export {n}="{v}"',
    "dockerfile": lambda n, v: f"ENV {n}={v}",
    "tf": lambda n, v: f'  {n.lower()} = "{v}"',
    "xml": lambda n, v: f"    <{_camel(n)}>{v}</{_camel(n)}>",
    "md": lambda n, v: f"    export {n}={v}",
}

FILE_NAMES: dict[str, list[str]] = {
    "py": ["settings.py", "config.py", "app/client.py", "scripts/deploy.py", "tests/conftest.py"],
    "js": ["src/config.js", "server/index.js", "lib/client.js"],
    "ts": ["src/env.ts", "src/services/api.ts"],
    "go": ["cmd/server/main.go", "internal/config/config.go"],
    "java": ["src/main/java/com/acme/Config.java", "src/main/java/com/acme/Client.java"],
    "rb": ["config/initializers/keys.rb", "lib/acme/client.rb"],
    "php": ["config/app.php", "wp-config.php"],
    "cs": ["src/Acme/Settings.cs"],
    "yaml": ["config/application.yml", "deploy/values.yaml", ".github/workflows/release.yml", "docker-compose.yml"],
    "json": ["config/default.json", "appsettings.json", ".vscode/settings.json"],
    "env": [".env", ".env.production", "deploy/.env.staging"],
    "properties": ["src/main/resources/application.properties", "gradle.properties"],
    "ini": ["setup.cfg", "config/app.ini"],
    "toml": ["config.toml", "pyproject.toml"],
    "sh": ["scripts/release.sh", "ci/bootstrap.sh"],
    "dockerfile": ["Dockerfile", "docker/Dockerfile.worker"],
    "tf": ["infra/main.tf", "infra/providers.tf"],
    "xml": ["pom.xml", "conf/settings.xml"],
    "md": ["docs/SETUP.md", "README.md"],
}

FILLER: dict[str, list[str]] = {
    "py": [
        "import os",
        "import logging",
        "",
        "log = logging.getLogger(__name__)",
        "def handler(event, context):",
        "    return {'status': 200}",
        "TIMEOUT = 30",
        "RETRIES = 3",
        "class Client:",
        "    pass",
    ],
    "js": [
        "'use strict';",
        "const express = require('express');",
        "const app = express();",
        "",
        "app.get('/health', (req, res) => res.send('ok'));",
        "module.exports = app;",
    ],
    "ts": [
        "import { z } from 'zod';",
        "",
        "export const TIMEOUT_MS = 5000;",
        "export type Env = Record<string, string>;",
    ],
    "go": ["package config", "", 'import "os"', "", "func Load() error {", "\treturn nil", "}"],
    "java": ["package com.acme;", "", "public final class Config {", "    private Config() {}", "}"],
    "rb": ["require 'json'", "", "module Acme", "  VERSION = '1.4.2'", "end"],
    "php": ["<?php", "", "return [", "    'debug' => false,", "];"],
    "cs": ["namespace Acme", "{", "    public static class Settings", "    {", "    }", "}"],
    "yaml": ["version: '3.9'", "services:", "  web:", "    image: acme/web:1.4.2", "    ports: ['8080:8080']"],
    "json": ["{", '  "name": "acme-service",', '  "version": "1.4.2",', '  "private": true', "}"],
    "env": ["NODE_ENV=production", "PORT=8080", "LOG_LEVEL=info", "# secrets below"],
    "properties": ["server.port=8080", "spring.application.name=orders", "logging.level.root=INFO"],
    "ini": ["[metadata]", "name = acme", "[options]", "zip_safe = False"],
    "toml": ["[tool.black]", "line-length = 100", "[server]", "port = 8080"],
    "sh": ["#!/bin/sh", "set -eu", 'cd "$(dirname "$0")/.."', "echo building"],
    "dockerfile": [
        "FROM python:3.12-slim",
        "WORKDIR /app",
        "COPY . .",
        "RUN pip install -r requirements.txt",
        'CMD ["python", "-m", "app"]',
    ],
    "tf": ['provider "aws" {', '  region = "eu-west-1"', "}", 'resource "aws_s3_bucket" "logs" {', "}"],
    "xml": ['<?xml version="1.0"?>', "<settings>", "  <servers>", "  </servers>", "</settings>"],
    "md": ["# Setup", "", "Install the dependencies, then configure the service:", "", "```sh"],
}


def decoys(g: Gen) -> list[tuple[str, str, str]]:
    """(decoy type, variable name, value) triples that must not be reported as secrets."""
    integrity = "sha512-" + base64.b64encode(g.rng.randbytes(64)).decode()
    data_uri = "data:image/png;base64," + base64.b64encode(g.rng.randbytes(120)).decode()
    return [
        ("placeholder", "API_KEY", "your-api-key-here"),
        ("placeholder", "DB_PASSWORD", "changeme"),
        ("placeholder", "GITHUB_TOKEN", "<YOUR_GITHUB_TOKEN>"),
        ("placeholder", "SECRET_KEY", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "STRIPE_SECRET_KEY", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "CLIENT_SECRET", "REPLACE_ME"),
        ("var-ref", "DB_PASSWORD", "${DB_PASSWORD}"),
        ("var-ref", "GITHUB_TOKEN", "${{ secrets.GITHUB_TOKEN }}"),
        ("var-ref", "AWS_SECRET_ACCESS_KEY", "$AWS_SECRET_ACCESS_KEY"),
        ("var-ref", "API_TOKEN", "{{ .Values.apiToken }}"),
        ("integrity", "integrity", integrity),
        ("uuid", "REQUEST_ID", g.uuid()),
        ("uuid", "TENANT_ID", g.uuid()),
        ("git-sha", "GIT_COMMIT", g.s(40, HEX)),
        ("git-sha", "resolved", f"git+https://github.com/acme/lib.git#{g.s(40, HEX)}"),
        ("checksum", "SHA256_CHECKSUM", g.s(64, HEX)),
        ("data-uri", "LOGO", data_uri),
        ("example-key", "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("example-key", "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        (
            "example-key",
            "JWT_EXAMPLE",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        ),
        ("test-mode", "STRIPE_SECRET_KEY", "sk_test_" + g.s(24)),
        ("test-mode", "STRIPE_PUBLISHABLE_KEY", "pk_test_" + g.s(24)),
        ("test-mode", "RAZORPAY_KEY_ID", "rzp_test_" + g.s(14)),
        ("test-mode", "FLW_SECRET_KEY", f"FLWSECK_TEST-{g.s(32, HEX)}-X"),
        ("public-key", "SSH_PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(43, B64) + " deploy@ci"),
        ("identifier", "TOKEN_TYPE", "refresh_token"),
        ("identifier", "PASSWORD_RESET_URL", "/account/password/reset"),
        ("version", "AUTH_LIB_VERSION", "4.12.3"),
    ]


@dataclass
class Label:
    file: str
    line: int
    end_line: int
    kind: str
    label: str  # "secret" or "decoy"


class Writer:
    """Accumulates files and labels."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.labels: list[Label] = []

    def write(self, rel: str, lines: list[tuple[str, str, str]]) -> None:
        """``lines``: (text, label, kind); label "" for filler. Multi-line texts are split."""
        out: list[str] = []
        for text, label, kind in lines:
            parts = text.split("\n")
            if label:
                self.labels.append(Label(rel, len(out) + 1, len(out) + len(parts), kind, label))
            out.extend(parts)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(out) + "\n")


def _public_material(g: Gen) -> list[tuple[str, str, str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"svc-{g.s(5, LOWER_ALNUM)}.internal")])
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(g.rng.getrandbits(64))
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return [
        (public.decode().rstrip("\n"), "decoy", "public-key"),
        (cert.public_bytes(serialization.Encoding.PEM).decode().rstrip("\n"), "decoy", "certificate"),
    ]


def build(root: Path, seed: int = 7, files: int = 240) -> dict[str, int]:
    """Write the corpus under ``root`` (replaced) and its ``labels.json``; return counts."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    g = Gen(seed)
    w = Writer(root / "tree")
    formats = list(FORMATS)
    kind_cycle = 0
    for index in range(files):
        fmt = formats[index % len(formats)]
        name = FILE_NAMES[fmt][(index // len(formats)) % len(FILE_NAMES[fmt])]
        rel = f"svc{index:03d}/{name}"
        filler = FILLER[fmt]
        lines: list[tuple[str, str, str]] = [(filler[0], "", "")]
        for slot in range(4):
            kind = KINDS[kind_cycle % len(KINDS)]
            kind_cycle += 1
            lines.append((FORMATS[fmt](kind.var, kind.make(g)), "secret", kind.name))
            lines.append((g.rng.choice(filler), "", ""))
            dtype, var, value = g.rng.choice(decoys(g))
            lines.append((FORMATS[fmt](var, value), "decoy", dtype))
            lines.append((g.rng.choice(filler), "", ""))
            del slot
        w.write(rel, lines)
    for index, kind in enumerate(PEM_KINDS * 3):
        ext = {"openssh": "id_ed25519", "putty": "deploy.ppk", "pgp": "signing.asc"}.get(kind, f"{kind}.key")
        w.write(f"keys{index:02d}/{ext}", [(private_key_text(kind, g).rstrip("\n"), "secret", f"private-key-{kind}")])
    for index in range(8):
        pem = private_key_text("rsa", g).rstrip("\n").replace("\n", "\\n")
        doc_lines = [
            ("{", "", ""),
            ('  "type": "service_account",', "", ""),
            (f'  "project_id": "acme-{g.s(6, LOWER_ALNUM)}",', "", ""),
            (f'  "private_key": "{pem}\\n",', "secret", "private-key-json"),
            (f'  "client_email": "ci@acme-{g.s(4, LOWER_ALNUM)}.iam.gserviceaccount.com"', "", ""),
            ("}", "", ""),
        ]
        w.write(f"gcp{index:02d}/service-account.json", doc_lines)
    for index in range(12):
        w.write(f"pub{index:02d}/tls/public.pem", _public_material(g))
    for index in range(6):  # lock files: integrity hashes and git SHAs only
        entries: list[tuple[str, str, str]] = [
            ("{", "", ""),
            ('  "lockfileVersion": 3,', "", ""),
            ('  "packages": {', "", ""),
        ]
        for dep in range(25):
            digest = base64.b64encode(g.rng.randbytes(64)).decode()
            entries.append((f'    "node_modules/dep{dep}": {{"version": "1.{dep}.0",', "", ""))
            entries.append((f'      "integrity": "sha512-{digest}"}},', "decoy", "integrity"))
        entries.append(("  }", "", ""))
        entries.append(("}", "", ""))
        w.write(f"web{index:02d}/package-lock.json", entries)
    (root / "labels.json").write_text(json.dumps([vars(label) for label in w.labels], indent=1))
    secrets = sum(1 for label in w.labels if label.label == "secret")
    return {"secrets": secrets, "decoys": len(w.labels) - secrets, "kinds": len(KINDS) + len(PEM_KINDS) + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--files", type=int, default=240)
    args = parser.parse_args()
    print(json.dumps(build(args.root, args.seed, args.files)))


if __name__ == "__main__":
    main()
