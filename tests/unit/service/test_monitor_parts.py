"""Monitor parts without a registry: notification payloads, configuration, logs, drift rules."""

from __future__ import annotations

import json
import logging

import pytest

from shieldwall.errors import ConfigError
from shieldwall.model import ImageConfig
from shieldwall.service.monitor import JsonFormatter, TextFormatter, _redacted
from shieldwall.service.monitor_config import parse_config, parse_duration
from shieldwall.service.webhooks import NotificationError, parse_notification
from shieldwall.store.drift import Snapshot, drift_findings

DIGEST = "sha256:" + "ab" * 32


def test_distribution_envelope_keeps_manifest_pushes_only() -> None:
    body = {
        "events": [
            {"action": "pull", "target": {"repository": "a", "digest": DIGEST}},
            {
                "action": "push",
                "target": {"mediaType": "application/octet-stream", "repository": "a", "digest": DIGEST},
            },
            {
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "repository": "team/app",
                    "digest": DIGEST,
                    "tag": "1.2",
                    "url": "https://reg.example:5000/v2/team/app/manifests/" + DIGEST,
                },
            },
            "junk",
        ]
    }
    [event] = parse_notification(json.dumps(body).encode())
    assert (event.host, event.repository, event.tag, event.digest) == ("reg.example:5000", "team/app", "1.2", DIGEST)
    assert event.source == "distribution"


def test_harbor_push_artifact() -> None:
    body = {
        "type": "PUSH_ARTIFACT",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": "v1", "resource_url": "harbor.example/lib/app:v1"}],
            "repository": {"name": "app", "namespace": "lib", "repo_full_name": "lib/app"},
        },
    }
    [event] = parse_notification(json.dumps(body).encode())
    assert (event.host, event.repository, event.tag, event.source) == ("harbor.example", "lib/app", "v1", "harbor")
    assert parse_notification(json.dumps({"type": "DELETE_ARTIFACT", "event_data": {}}).encode()) == []


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"hello": 1}', b'{"events": 3}', b'{"type": "PUSH_ARTIFACT"}'])
def test_malformed_notifications_are_errors(body: bytes) -> None:
    with pytest.raises(NotificationError):
        parse_notification(body)


def test_config_durations_and_errors() -> None:
    assert parse_duration("5m") == 300 and parse_duration(2) == 2 and parse_duration("500ms") == 0.5
    config = parse_config({"interval": "30s", "registries": [{"url": "r:5000", "name": "r"}]}, "x.yaml")
    assert config.interval == 30 and config.registry("R").url == "r:5000"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"x.yaml: registries.0.url"):
        parse_config({"registries": [{}]}, "x.yaml")
    with pytest.raises(ConfigError, match="interval"):
        parse_config({"interval": "soon"}, "x.yaml")
    with pytest.raises(ConfigError, match=r"unknown|Extra"):
        parse_config({"intervall": 3}, "x.yaml")


def test_config_changes_are_audited_without_secrets() -> None:
    raw = {"alerts": {"channels": [{"url": "https://hooks.slack.example/T000/B000/XXXX", "password": "p"}]}}
    shown = _redacted(raw)
    assert shown["alerts"]["channels"][0] == {"url": "https://hooks.slack.example/***", "password": "***"}


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("shieldwall.monitor", logging.INFO, __file__, 1, "scanned %s", ("x",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_and_text_logs() -> None:
    doc = json.loads(JsonFormatter().format(_record(event="scanned", packages=3)))
    assert doc["message"] == "scanned x" and doc["event"] == "scanned" and doc["packages"] == 3
    assert doc["level"] == "info" and doc["time"].endswith("+00:00")
    line = TextFormatter().format(_record(event="scanned", findings={"new": 1}))
    assert "scanned x" in line and 'findings={"new": 1}' in line and "event=scanned" in line


def test_drift_rules() -> None:
    old = Snapshot("sha256:old", {("deb", "bash"): "5.1", ("deb", "curl"): "7.0"}, ImageConfig(user="app"))
    new = Snapshot(
        "sha256:new",
        {("deb", "bash"): "5.2", ("npm", "left-pad"): "1.0"},
        ImageConfig(user="0", volumes=("/data",), labels=(("team", "a"),)),
    )
    found = {(f.rule_id, f.title) for f in drift_findings(old, new)}
    assert ("drift/package-changed", "package bash 5.1 -> 5.2") in found
    assert ("drift/package-removed", "package curl 7.0 removed") in found
    assert ("drift/package-added", "package left-pad 1.0 added") in found
    assert ("drift/config-changed", "volumes changed: (none) -> /data") in found
    assert ("drift/config-changed", "label team changed: (none) -> a") in found
    user = next(f for f in drift_findings(old, new) if f.rule_id == "drift/user-changed")
    assert user.severity == "HIGH"
    assert drift_findings(old, old) == []
    fingerprints = [f.fingerprint for f in drift_findings(old, new)]
    assert len(set(fingerprints)) == len(fingerprints)
