"""Input parsers: Dockerfiles (multi-stage, heredocs), Kubernetes YAML/JSON, compose files."""

from __future__ import annotations

import pytest

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.misconfig.inputs.compose import ComposeInput, ComposeService, is_compose_name
from shieldwall.misconfig.inputs.dockerfile import DockerfileInput, is_dockerfile_name, parse_dockerfile
from shieldwall.misconfig.inputs.kubernetes import KubernetesInput, control_plane_component, pod_spec


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/src/Dockerfile", True),
        ("/src/Containerfile", True),
        ("/src/Dockerfile.prod", True),
        ("/src/api.dockerfile", True),
        ("/src/Dockerfile.md", False),
        ("/src/dockerfile-parse.py", False),
    ],
)
def test_dockerfile_names(name: str, expected: bool) -> None:
    assert is_dockerfile_name(name) is expected


def test_stages_aliases_and_flags() -> None:
    df = parse_dockerfile(
        b"ARG BASE=debian:12\nFROM --platform=linux/amd64 golang:1.22 AS build\n"
        b"RUN --mount=type=cache,target=/c go build\n"
        b"FROM build AS test\nRUN go test\nFROM gcr.io/distroless/static\nCOPY --from=build /out /out\n",
        "Dockerfile",
    )
    assert [(s.base, s.alias, s.platform) for s in df.stages] == [
        ("golang:1.22", "build", "linux/amd64"),
        ("build", "test", ""),
        ("gcr.io/distroless/static", "", ""),
    ]
    assert df.is_stage_ref("build", 1) and not df.is_stage_ref("build", 0)
    run = df.stages[0].instructions[0]
    assert run.flags() == {"mount": "type=cache,target=/c"} and run.args() == "go build"
    assert df.instructions[0].cmd == "ARG"  # global ARG before the first FROM


def test_continuation_lines_keep_their_range() -> None:
    df = parse_dockerfile(b"FROM alpine:3.20\nRUN apk add \\\n    curl \\\n    git\nUSER 1000\n", "Dockerfile")
    run = df.stages[0].instructions[0]
    assert (run.line, run.end_line) == (2, 4)


def test_heredoc_body_belongs_to_its_instruction() -> None:
    df = parse_dockerfile(b"FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y x\nEOF\nUSER app\n", "D")
    assert [i.cmd for i in df.instructions] == ["FROM", "RUN", "USER"]
    assert df.instructions[1].end_line == 5 and "apt-get install" in df.instructions[1].value


def test_binary_content_is_not_a_dockerfile() -> None:
    with pytest.raises(AnalyzerError):
        DockerfileInput().parse("Dockerfile", b"\x00\x01ELF")


def test_kubernetes_sniff_lists_and_json() -> None:
    parser = KubernetesInput()
    assert parser.parse("values.yaml", b"replicaCount: 2\nimage: nginx\n") is None
    assert (
        parser.parse("chart/templates/d.yaml", b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n")
        is None
    )
    listed = parser.parse(
        "list.yaml",
        b"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a, namespace: n}\n",
    )
    assert listed is not None and [(r.kind, r.name, r.namespace) for r in listed.resources] == [("Service", "a", "n")]
    as_json = parser.parse("pod.json", b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}')
    assert as_json is not None and as_json.resources[0].kind == "Pod"
    assert parser.claims("/k8s/pod.json", FileInfo("/k8s/pod.json", 10))
    assert not parser.claims("/docker-compose.yml", FileInfo("/docker-compose.yml", 10))


def test_cronjob_pod_spec_and_control_plane() -> None:
    parsed = KubernetesInput().parse(
        "cj.yaml",
        b"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n"
        b"        spec:\n          containers: [{name: x, image: busybox:1.36}]\n---\n"
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver-n1, namespace: kube-system}\n"
        b"spec:\n  containers: [{name: a, command: [kube-apiserver, --secure-port=6443]}]\n",
    )
    assert parsed is not None
    cron, apiserver = parsed.resources
    spec = pod_spec(cron.data)
    assert spec is not None and spec["containers"][0]["name"] == "x"
    assert control_plane_component(apiserver.data) == "kube-apiserver"
    assert control_plane_component(cron.data) == ""


def test_compose_services_and_names() -> None:
    assert is_compose_name("/app/docker-compose.override.yml") and is_compose_name("/app/compose.yaml")
    assert not is_compose_name("/app/config.yml")
    parsed = ComposeInput().parse(
        "docker-compose.yml",
        b"x-common: &c {restart: always}\nservices:\n  web:\n    <<: *c\n    image: nginx\n"
        b"  db:\n    image: postgres:16\n",
    )
    assert parsed is not None
    web, db = parsed.resources
    assert (web.name, web.line, db.name) == ("web", 3, "db")
    assert isinstance(web.data, ComposeService) and web.data.spec["restart"] == "always"


def test_compose_that_is_not_a_mapping() -> None:
    with pytest.raises(AnalyzerError):
        ComposeInput().parse("compose.yml", b"- a\n- b\n")
