"""Terraform checks beyond their fixtures: unresolved values, references, suppressions, plans, and the
trivy-checks good/bad examples (when ../shared/data is present)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.inputs.terraform import TerraformInput
from shieldwall.misconfig.registry import CheckConfig, load_checks
from shieldwall.model import Finding

CHECKS = load_checks(CheckConfig(include_plugins=False)).for_input("terraform")
TRIVY = Path(__file__).parents[3] / ".." / "shared" / "data" / "misconfig" / "trivy-checks" / "checks" / "cloud"


def scan(text: str, path: str = "main.tf") -> list[Finding]:
    parsed = TerraformInput().parse(path, text.encode())
    if parsed is None:
        return []
    output = run_checks(parsed, CHECKS)
    assert not output.warnings, output.warnings
    return list(output.findings)


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings if not f.suppressed}


SG = """\
variable "cidr" {
  type = string
}

resource "aws_security_group" "web" {
  description = "web"
  ingress {
    description = "ssh"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [%s]
  }
}
"""


def test_unresolved_values_are_never_flagged() -> None:
    assert "SW-TF-AWS-011" not in rules(scan(SG % "var.cidr"))
    assert "SW-TF-AWS-011" not in rules(scan(SG % "aws_vpc.main.cidr_block"))
    assert "SW-TF-AWS-011" in rules(scan(SG % '"0.0.0.0/0"'))
    assert "SW-TF-AWS-011" in rules(scan(SG % '"::/0"'))


def test_finding_points_at_the_rule_and_names_the_address() -> None:
    (finding,) = [f for f in scan(SG % '"0.0.0.0/0"') if f.rule_id == "SW-TF-AWS-011"]
    assert finding.location is not None and (finding.location.line, finding.location.end_line) == (7, 13)
    assert finding.message.startswith("aws_security_group aws_security_group.web: ingress from 0.0.0.0/0")
    assert "cis-aws-foundations-1.4:5.2" in finding.references


def test_in_file_suppression_keeps_the_finding_with_its_reason() -> None:
    text = "# shieldwall:ignore=SW-TF-AWS-011 bastion subnet only\n" + SG % '"0.0.0.0/0"'
    (finding,) = [f for f in scan(text) if f.rule_id == "SW-TF-AWS-011"]
    assert finding.suppressed == "bastion subnet only"


def test_policy_document_reference_and_heredoc() -> None:
    via_data = """\
data "aws_iam_policy_document" "admin" {
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "admin" {
  role   = aws_iam_role.r.id
  policy = data.aws_iam_policy_document.admin.json
}
"""
    found = [f for f in scan(via_data) if f.rule_id == "SW-TF-AWS-031"]
    assert {f.message.split(":")[0] for f in found} == {
        "data.aws_iam_policy_document data.aws_iam_policy_document.admin",
        "aws_iam_role_policy aws_iam_role_policy.admin",
    }
    heredoc = """\
resource "aws_iam_policy" "p" {
  policy = <<EOF
{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
EOF
}
"""
    assert "SW-TF-AWS-031" in rules(scan(heredoc))
    deny = heredoc.replace('"Allow"', '"Deny"')
    assert "SW-TF-AWS-031" not in rules(scan(deny))


def test_companion_resources_by_reference_and_by_name() -> None:
    bucket = 'resource "aws_s3_bucket" "b" {\n  bucket = "my-bucket"\n}\n'
    by_ref = bucket + 'resource "aws_s3_bucket_public_access_block" "b" {\n  bucket = aws_s3_bucket.b.id\n}\n'
    by_name = bucket + 'resource "aws_s3_bucket_public_access_block" "b" {\n  bucket = "my-bucket"\n}\n'
    other = bucket + 'resource "aws_s3_bucket_public_access_block" "o" {\n  bucket = aws_s3_bucket.other.id\n}\n'
    assert "SW-TF-AWS-002" in rules(scan(bucket))
    assert "SW-TF-AWS-002" not in rules(scan(by_ref))
    assert "SW-TF-AWS-002" not in rules(scan(by_name))
    assert "SW-TF-AWS-002" in rules(scan(other))


def test_credentials_in_provider_and_user_data() -> None:
    provider = 'provider "aws" {\n  access_key = "AKIAIOSFODNN7EXAMPLE"\n  secret_key = var.secret\n}\n'
    (finding,) = [f for f in scan(provider) if f.rule_id == "SW-TF-001"]
    assert finding.location is not None and finding.location.line == 2
    assert "AKIA" not in finding.evidence[0].found
    user_data = (
        'resource "aws_instance" "i" {\n  user_data = <<EOF\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nEOF\n}\n'
    )
    assert "SW-TF-001" in rules(scan(user_data))
    from_env = 'resource "aws_instance" "i" {\n  user_data = "export DB_PASSWORD=$DB_PASSWORD"\n}\n'
    assert "SW-TF-001" not in rules(scan(from_env))


def test_plan_findings() -> None:
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"child_modules": [{"address": "module.db", "resources": [
            {"address": "module.db.aws_db_instance.main", "mode": "managed", "type": "aws_db_instance",
             "name": "main", "values": {"publicly_accessible": True, "storage_encrypted": False}}]}]}},
    }  # fmt: skip
    text = json.dumps(plan, indent=2)
    findings = scan(text, "tfplan.json")
    assert {"SW-TF-AWS-021", "SW-TF-AWS-022"} <= rules(findings)
    public = next(f for f in findings if f.rule_id == "SW-TF-AWS-022")
    assert "module.db.aws_db_instance.main" in public.message
    line = text[: text.index('"address": "module.db.aws_db_instance.main"')].count("\n") + 1
    assert public.location is not None and public.location.line == line


def test_gcp_and_azure_examples() -> None:
    firewall = """\
resource "google_compute_firewall" "f" {
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "udp"
    ports    = ["3389"]
  }
}
"""
    found = rules(scan(firewall))
    assert "SW-TF-GCP-005" not in found and "SW-TF-GCP-006" in found  # UDP is not the RDP service port
    nsg = """\
resource "azurerm_network_security_group" "g" {
  security_rule {
    name                       = "ssh"
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    destination_port_ranges    = ["20-25"]
    source_address_prefix      = "Internet"
  }
}
"""
    (finding,) = [f for f in scan(nsg) if f.rule_id == "SW-TF-AZURE-006"]
    assert "22 (SSH)" in finding.message and finding.location is not None and finding.location.line == 2


# ---------------------------------------------------------------- trivy-checks known answers

# A sample of categories: every bad example must be flagged by one of the category's checks, and no check may
# raise HIGH or CRITICAL on a good example of these categories.
KNOWN = {
    "aws/s3/block_public_acls": {"SW-TF-AWS-003"},
    "aws/s3/no_public_access_with_acl": {"SW-TF-AWS-001"},
    "aws/s3/enable_bucket_encryption": {"SW-TF-AWS-007"},
    "aws/ec2/no_public_ingress_sgr": {"SW-TF-AWS-011", "SW-TF-AWS-012"},
    "aws/iam/no_policy_wildcards": {"SW-TF-AWS-031", "SW-TF-AWS-032"},
    "aws/rds/disable_public_access": {"SW-TF-AWS-022"},
    "aws/cloudtrail/enable_log_validation": {"SW-TF-AWS-042"},
    "aws/kms/auto_rotate_keys": {"SW-TF-AWS-046"},
    "google/storage/no_public_access": {"SW-TF-GCP-001"},
    "google/gke/use_rbac_permissions": {"SW-TF-GCP-012"},
    "azure/storage/enforce_https": {"SW-TF-AZURE-001"},
    "azure/database/no_public_firewall_access": {"SW-TF-AZURE-008"},
}


@pytest.mark.parametrize("category", sorted(KNOWN))
def test_trivy_examples(category: str) -> None:
    source = TRIVY / f"{category}.yaml"
    if not source.is_file():
        pytest.skip("../shared/data/misconfig/trivy-checks is not present")
    examples = yaml.safe_load(source.read_text())["terraform"]
    wanted = KNOWN[category]
    for text in examples["bad"]:
        assert wanted & {f.rule_id for f in scan(text + "\n")}, text
    for text in examples["good"]:
        findings = scan(text + "\n")
        assert not wanted & {f.rule_id for f in findings}, text
        assert not [f.rule_id for f in findings if f.severity.value in ("HIGH", "CRITICAL")], text


def test_account_and_project_wide_settings_are_taken_into_account() -> None:
    instance = (
        'resource "aws_instance" "i" {\n  ami = "ami-1"\n  metadata_options {\n    http_tokens = "required"\n  }\n}\n'
    )
    assert "SW-TF-AWS-018" in rules(scan(instance))
    by_default = instance + 'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'
    assert "SW-TF-AWS-018" not in rules(scan(by_default))
    vm = 'resource "google_compute_instance" "vm" {\n  name = "vm"\n}\n'
    assert "SW-TF-GCP-026" in rules(scan(vm))
    oslogin = (
        vm + 'resource "google_compute_project_metadata" "p" {\n  metadata = {\n    enable-oslogin = "TRUE"\n  }\n}\n'
    )
    assert "SW-TF-GCP-026" not in rules(scan(oslogin))


def test_plans_hold_resolved_passwords_that_are_not_literals_in_code() -> None:
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance", "name": "db",
             "values": {"password": "generated-by-random-password", "storage_encrypted": True}}]}},
    }  # fmt: skip
    assert "SW-TF-002" not in rules(scan(json.dumps(plan), "tfplan.json"))
    hcl = 'resource "aws_db_instance" "db" {\n  password = "generated-by-random-password"\n}\n'
    assert "SW-TF-002" in rules(scan(hcl))
