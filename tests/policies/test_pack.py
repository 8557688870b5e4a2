"""The pack as a whole: discovery, enforcement per environment, every shipped stack compliant,
a broken copy of one caught, and `check` on files shaped like the Pulumi CLI's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pulumi_policy as pp
import pytest

from mlkit.cli import EXIT_INVALID, EXIT_OK, EXIT_VIOLATIONS, main
from mlkit.plan import policy_resources
from policies import AREAS_DIR, controls
from policies.control import ENFORCEMENT
from policies.evaluate import evaluate

FIXTURES = Path(__file__).parent / "fixtures"


def test_every_control_is_documented_and_one_per_file() -> None:
    files = sorted(p.stem for p in AREAS_DIR.glob("*/aws_*.py")) + sorted(
        p.stem for p in AREAS_DIR.glob("*/k8s_*.py")
    )
    assert sorted(files) == sorted(c.id.replace("-", "_") for c in controls())
    for control in controls():
        assert control.description and control.remediation and control.mirrors, control.id
        assert control.id.startswith(("aws-", "k8s-")), control.id
        assert isinstance(
            control.to_policy(), pp.ResourceValidationPolicy | pp.StackValidationPolicy
        )


def test_enforcement_grows_with_the_environment() -> None:
    assert ENFORCEMENT["critical"] == ("dev", "staging", "prod")
    for control in controls():
        levels = [control.enforcement(env) for env in ("dev", "staging", "prod")]
        assert levels[2] == "mandatory" or control.mandatory_in is not None, control.id
        assert levels == sorted(levels, key=lambda level: level == "mandatory"), control.id


def test_every_shipped_stack_passes_every_mandatory_policy(plan_of, shipped_stack) -> None:
    report = plan_of(shipped_stack).policies
    assert report.checked == len(controls())
    assert [(v.policy, v.urn, v.message) for v in report.mandatory] == []


def test_a_broken_copy_of_a_shipped_stack_fails(plan_of) -> None:
    resources = policy_resources(plan_of("fraud-prod").recording)
    broken = []
    for resource in resources:
        if resource.type == "aws:kms/key:Key":
            resource = dataclasses.replace(
                resource, props={**resource.props, "enableKeyRotation": False}
            )
        if resource.name == "fraud-prod-serving-role-policy":
            document = json.loads(resource.props["policy"])
            document["Statement"][0]["Action"] = ["s3:*"]
            resource = dataclasses.replace(
                resource, props={**resource.props, "policy": json.dumps(document)}
            )
        broken.append(resource)
    report = evaluate(broken, "prod")
    found = {(v.policy, v.urn.rsplit("::", 1)[-1], v.enforcement) for v in report.mandatory}
    assert ("aws-kms-key-rotation", "fraud-prod-kms-key", "mandatory") in found
    assert (
        "aws-iam-policy-no-wildcard-action",
        "fraud-prod-serving-role-policy",
        "mandatory",
    ) in found


def test_check_a_stack_export(capsys) -> None:
    assert main(["check", str(FIXTURES / "stack-export.json")]) == EXIT_VIOLATIONS
    lines = capsys.readouterr().out.splitlines()
    key = (
        "urn:pulumi:fraud-prod::mlkit::mlkit:security:StackKey$aws:kms/key:Key::fraud-prod-kms-key"
    )
    bucket = "urn:pulumi:fraud-prod::mlkit::aws:s3/bucket:Bucket::exports"
    assert lines[:-1] == [
        f"aws-kms-key-rotation\tmandatory\t{key}\tKMS key rotation is not enabled",
        f"aws-s3-bucket-access-logging-prod\tmandatory\t{bucket}\t"
        "bucket has no server access logging (aws.s3.BucketLogging)",
        f"aws-s3-bucket-lifecycle-abort-uploads\tmandatory\t{bucket}\t"
        "bucket has no lifecycle configuration",
        f"aws-s3-bucket-ownership-enforced\tmandatory\t{bucket}\t"
        "bucket has no ownership controls enforcing BucketOwnerEnforced",
        f"aws-s3-bucket-public-access-block\tmandatory\t{bucket}\t"
        "bucket has no public access block",
        f"aws-s3-bucket-sse-kms\tmandatory\t{bucket}\t"
        "bucket has no server-side encryption configuration",
        f"aws-s3-bucket-tls-only\tmandatory\t{bucket}\t"
        "bucket has no policy denying requests without TLS",
        f"aws-s3-bucket-versioning\tmandatory\t{bucket}\tbucket has no versioning configuration",
        f"aws-stateful-resources-protected-prod\tmandatory\t{bucket}\t"
        "stateful resource is not protected (protect=True)",
        f"aws-stateful-resources-protected-prod\tmandatory\t{bucket}\t"
        "stateful resource is not retained on delete (retain_on_delete=True)",
    ]
    assert lines[-1] == (
        f"2 resources, {len(controls())} policies (prod): 10 mandatory, 0 advisory violations"
    )


def test_check_a_preview_as_json_with_the_dev_enforcement(capsys) -> None:
    assert main(["check", str(FIXTURES / "preview.json"), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["environment"] == "dev"  # from the resources' mlkit:environment tag
    assert report["resources"] == 1  # the deleted bucket and the stack are not checked
    assert report["violations"] == [
        {
            "policy": "aws-kms-key-rotation",
            "urn": "urn:pulumi:fraud-dev::mlkit::mlkit:security:StackKey$aws:kms/key:Key::"
            "fraud-dev-kms-key",
            "message": "KMS key rotation is not enabled",
            "enforcement": "advisory",
            "severity": "high",
        }
    ]


def test_check_environment_flag_overrides_the_tags(capsys) -> None:
    assert (
        main(["check", str(FIXTURES / "preview.json"), "--environment", "prod"]) == EXIT_VIOLATIONS
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "file: invalid JSON at line 1: Expecting property name enclosed in double quotes",
        ),
        ('{"deployment": {"resources": [5]}}', "file: resources must be a list of objects"),
        ('{"deployment": {"resources": "abc"}}', "file: resources must be a list of objects"),
        (
            '{"deployment": {"resources": [{"urn": "u", "custom": true, "inputs": 5}]}}',
            "file: u: inputs must be an object",
        ),
        (
            '{"resources": []}',
            "file: expected `pulumi stack export` output (a `deployment` object) "
            "or `pulumi preview --json` output (a `steps` list)",
        ),
    ],
)
def test_check_rejects_other_files(tmp_path: Path, capsys, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    assert main(["check", str(path)]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == f"{path}: {message}"
