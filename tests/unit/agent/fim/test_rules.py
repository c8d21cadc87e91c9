"""The policy section: validation, rule groups, globs, depth, templates."""

from __future__ import annotations

import pytest

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.fim.rules import GROUPS, parse_policy
from shieldwall.agent.modules.fim.templates import load_template, template_names


def test_groups_and_single_attributes() -> None:
    policy = parse_policy(
        {"rules": [{"path": "/etc", "attributes": "perms"}, {"path": "/srv", "attributes": ["sha256"]}]}
    )
    by_path = {r.path: r for r in policy.rules}
    assert by_path["/etc"].attributes == frozenset(GROUPS["perms"])
    assert by_path["/srv"].attributes == {"sha256", "type"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({}, "no rules"),
        ({"rules": [{"path": "etc"}]}, "absolute"),
        ({"rules": [{"path": "/etc", "attributes": "everything"}]}, "unknown attribute group"),
        ({"rules": [{"path": "/etc", "attributes": ["sha1"]}]}, "unknown attributes"),
        ({"rules": [{"path": "/etc", "depth": -1}]}, "depth"),
        ({"rules": [{"path": "/etc"}], "surprise": 1}, "surprise"),
        ({"templates": ["windows-server"]}, "unknown template"),
    ],
)
def test_invalid_sections_are_policy_errors(section: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(section)


def test_rule_for_picks_the_most_specific_rule_and_honours_globs_and_depth() -> None:
    policy = parse_policy(
        {
            "rules": [
                {"path": "/etc", "exclude": ["*.swp", "cache/*"], "depth": 2},
                {"path": "/etc/ssh", "attributes": "full", "severity": "high"},
            ]
        }
    )
    assert policy.rule_for("/etc/hosts").path == "/etc"  # type: ignore[union-attr]
    assert policy.rule_for("/etc/ssh/sshd_config").path == "/etc/ssh"  # type: ignore[union-attr]
    assert policy.rule_for("/etc/.x.swp") is None
    assert policy.rule_for("/etc/cache/data") is None
    assert policy.rule_for("/etc/a/b") is not None
    assert policy.rule_for("/etc/a/b/c") is None  # deeper than depth 2
    assert policy.rule_for("/etcetera") is None
    assert policy.rule_for("/var/x") is None


def test_templates_parse_and_cover_what_the_issue_names() -> None:
    assert set(template_names()) >= {"linux-server", "docker-host", "kubernetes-node"}
    linux = {r.path for r in load_template("linux-server")}
    assert {"/etc", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib/systemd", "/etc/crontab", "/etc/ssh"} <= linux
    assert {"/etc/sudoers", "/etc/pam.d", "/root/.ssh", "/var/spool/cron"} <= linux
    docker = {r.path: r for r in load_template("docker-host")}
    assert "/etc/docker/daemon.json" in docker and "mode" in GROUPS[str(docker["/var/run/docker.sock"].attributes)]
    k8s = {r.path: r for r in load_template("kubernetes-node")}
    assert {"/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/var/lib/kubelet/config.yaml"} <= set(k8s)
    assert k8s["/etc/kubernetes/pki"].diff is False
    policy = parse_policy({"templates": ["linux-server", "docker-host", "kubernetes-node"]})
    assert len(policy.rules) == len({r.path for r in policy.rules})


def test_policy_rules_override_template_rules_for_the_same_path() -> None:
    policy = parse_policy({"templates": ["linux-server"], "rules": [{"path": "/etc/ssh", "attributes": "perms"}]})
    rule = next(r for r in policy.rules if r.path == "/etc/ssh")
    assert "sha256" not in rule.attributes
