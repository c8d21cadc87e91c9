"""The Terraform input: HCL and plan JSON parsing, addresses, line ranges, literal resolution."""

from __future__ import annotations

import json

import pytest

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.misconfig.check import ParsedFile
from shieldwall.misconfig.inputs.terraform import (
    MAX_HCL_BYTES,
    TerraformInput,
    TfResource,
    Unresolved,
    split_template,
)

PARSER = TerraformInput()

HCL = """\
# header comment
variable "open" {
  default = "0.0.0.0/0"
}

variable "no_default" {
  type = string
}

locals {
  port   = 22
  prefix = "app-${var.open}"
  mixed  = "app-${var.no_default}"
}

provider "aws" {
  region = "us-east-1"
  alias  = "east"
}

resource "aws_security_group" "web" {
  name = local.prefix
  ingress {
    from_port   = local.port
    to_port     = 22
    cidr_blocks = [var.open, var.no_default]
  }
  dynamic "egress" {
    for_each = var.rules
    content {
      from_port = egress.value.port
    }
  }
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "*", Resource = aws_s3_bucket.b.arn }]
  })
  label = local.mixed
}

data "aws_iam_policy_document" "doc" {
  statement {
    actions = ["s3:GetObject"]
  }
}

resource "aws_instance" "skipped" {
  count = 0
}
"""


def _parse(text: str, path: str = "main.tf") -> ParsedFile:
    parsed = PARSER.parse(path, text.encode())
    assert parsed is not None
    return parsed


def _item(parsed: ParsedFile, address: str) -> TfResource:
    resource = next(r for r in parsed.resources if r.name == address)
    assert isinstance(resource.data, TfResource)
    return resource.data


def test_resources_kinds_addresses_and_lines() -> None:
    parsed = _parse(HCL)
    assert [(r.kind, r.name) for r in parsed.resources] == [
        ("provider", "provider.aws.east"),
        ("aws_security_group", "aws_security_group.web"),
        ("data.aws_iam_policy_document", "data.aws_iam_policy_document.doc"),
    ]
    sg = next(r for r in parsed.resources if r.kind == "aws_security_group")
    lines = HCL.splitlines()
    start = lines.index('resource "aws_security_group" "web" {') + 1
    assert (sg.line, sg.end_line) == (start, lines.index('data "aws_iam_policy_document" "doc" {') - 1)
    assert parsed.header_end == 1
    block = _item(parsed, "aws_security_group.web").block
    assert block.lines("name") == (start + 1, start + 1)
    ingress = block.children("ingress")[0]
    assert (ingress.line, ingress.end_line) == (start + 2, start + 6)


def test_literal_variables_and_locals_are_resolved_others_stay_unresolved() -> None:
    block = _item(_parse(HCL), "aws_security_group.web").block
    assert block.get("name") == "app-0.0.0.0/0"
    ingress = block.children("ingress")[0]
    assert ingress.get("from_port") == 22
    open_, unknown = ingress.get("cidr_blocks")
    assert open_ == "0.0.0.0/0"
    assert isinstance(unknown, Unresolved) and unknown.expr == "${var.no_default}"
    assert isinstance(block.get("label"), Unresolved)


def test_jsonencode_becomes_the_json_terraform_would_write() -> None:
    block = _item(_parse(HCL), "aws_security_group.web").block
    policy = json.loads(block.get("policy"))
    statement = policy["Statement"][0]
    assert statement["Action"] == "*" and statement["Resource"] == "${aws_s3_bucket.b.arn}"


def test_dynamic_blocks_stand_for_their_content() -> None:
    block = _item(_parse(HCL), "aws_security_group.web").block
    (egress,) = block.children("egress")
    assert isinstance(egress.get("from_port"), Unresolved)


def test_count_zero_resources_are_not_created() -> None:
    assert all("skipped" not in r.name for r in _parse(HCL).resources)


def test_template_splitting_handles_nesting_and_escapes() -> None:
    assert split_template('a-${f({x = "}"})}-b $${literal}') == [
        ("text", "a-"),
        ("expr", 'f({x = "}"})'),
        ("text", "-b $${literal}"),
    ]
    assert split_template("${unclosed") is None


def test_malformed_hcl_is_an_analyzer_error() -> None:
    with pytest.raises(AnalyzerError, match="not valid HCL"):
        PARSER.parse("broken.tf", b'resource "x" "y" {\n')


def test_size_limit() -> None:
    assert not PARSER.claims("/big.tf", FileInfo("/big.tf", MAX_HCL_BYTES + 1))
    with pytest.raises(AnalyzerError, match="size limit"):
        PARSER.parse("big.tf", b"#" * (MAX_HCL_BYTES + 1))


def test_claims_names_only() -> None:
    info = FileInfo("/x", 100)
    assert PARSER.claims("/infra/main.tf", info)
    assert PARSER.claims("/infra/tfplan.json", info)
    assert PARSER.claims("/infra/prod.plan.json", info)
    assert not PARSER.claims("/app/package.json", info)
    assert not PARSER.claims("/infra/main.tf.bak", info)


def test_other_json_is_not_terraform() -> None:
    assert PARSER.parse("plan.json", b'{"name": "not a plan"}') is None


PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.7.0",
    "planned_values": {
        "root_module": {
            "resources": [
                {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs",
                 "values": {"bucket": "logs", "tags": {"a": "b"}}},
            ],
            "child_modules": [
                {
                    "address": "module.net",
                    "resources": [
                        {"address": "module.net.aws_security_group.web", "mode": "managed",
                         "type": "aws_security_group", "name": "web",
                         "values": {"ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp",
                                                 "cidr_blocks": ["0.0.0.0/0"]}]}},
                    ],
                }
            ],
        }
    },
    "configuration": {
        "root_module": {
            "resources": [
                {"address": "aws_s3_bucket_versioning.logs", "expressions": {
                    "bucket": {"references": ["aws_s3_bucket.logs.id", "aws_s3_bucket.logs"]}}},
            ]
        }
    },
}  # fmt: skip


def test_plan_resources_with_module_addresses_and_lines() -> None:
    text = json.dumps(PLAN, indent=1)
    parsed = PARSER.parse("tfplan.json", text.encode())
    assert parsed is not None
    assert [r.name for r in parsed.resources] == ["aws_s3_bucket.logs", "module.net.aws_security_group.web"]
    sg = _item(parsed, "module.net.aws_security_group.web")
    assert sg.module_path == "module.net"
    assert sg.block.children("ingress")[0].get("cidr_blocks") == ["0.0.0.0/0"]
    expected_line = text[: text.index('"address": "module.net.aws_security_group.web"')].count("\n") + 1
    assert parsed.resources[1].line == expected_line


def test_plan_references_fill_values_known_only_after_apply() -> None:
    plan = json.loads(json.dumps(PLAN))
    plan["planned_values"]["root_module"]["resources"].append(
        {"address": "aws_s3_bucket_versioning.logs", "mode": "managed", "type": "aws_s3_bucket_versioning",
         "name": "logs", "values": {"versioning_configuration": [{"status": "Enabled"}]}}
    )  # fmt: skip
    parsed = PARSER.parse("tfplan.json", json.dumps(plan).encode())
    assert parsed is not None
    bucket = _item(parsed, "aws_s3_bucket.logs")
    companions = bucket.module.referring("aws_s3_bucket_versioning", "bucket", bucket)
    assert [c.address for c in companions] == ["aws_s3_bucket_versioning.logs"]
