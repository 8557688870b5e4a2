"""The command line: plan JSON shape, text tree, --out, list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkit.cli import EXIT_INVALID, EXIT_OK, EXIT_VIOLATIONS, main
from mlkit.settings import SECRET_PLACEHOLDER
from policies import controls

GOOD = Path(__file__).parent / "good_stacks"
RESOURCE_KEYS = {
    "urn",
    "type",
    "name",
    "parent",
    "ignoreChanges",
    "importId",
    "custom",
    "protect",
    "retainOnDelete",
    "dependsOn",
    "inputs",
}


def plan_json(capsys, *args: str) -> dict:
    assert main(["plan", *args, "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_plan_json_shape(capsys) -> None:
    plan = plan_json(capsys, "base-dev")
    assert set(plan) == {
        "formatVersion",
        "stack",
        "project",
        "blueprint",
        "environment",
        "region",
        "resources",
        "outputs",
        "policies",
        "cost",
        "deployTime",
        "changeSafety",
        "strictInputs",
    }
    assert (plan["stack"], plan["project"], plan["blueprint"], plan["environment"]) == (
        "base-dev",
        "mlkit",
        "platform-base",
        "dev",
    )
    assert plan["policies"] == {"checked": len(controls()), "environment": "dev", "violations": []}
    assert plan["strictInputs"] == []
    assert all(set(resource) == RESOURCE_KEYS for resource in plan["resources"])
    urns = [resource["urn"] for resource in plan["resources"]]
    assert urns == sorted(urns)
    for resource in plan["resources"]:
        assert resource["parent"] is None or resource["parent"] in urns
        assert set(resource["dependsOn"]) <= set(urns)
    assert set(plan["outputs"]) == {
        "alertTopicArn",
        "artifactsBucket",
        "kmsKeyArn",
        "privateSubnetIds",
        "vpcId",
        "workloadSecurityGroupId",
    }


def test_plan_out_writes_the_same_json(capsys, tmp_path: Path) -> None:
    printed = plan_json(capsys, "base-staging", "--out", str(tmp_path))
    assert json.loads((tmp_path / "base-staging.json").read_text()) == printed
    assert [p.name for p in tmp_path.iterdir()] == ["base-staging.json"]


def test_plan_of_a_file_masks_secure_values(capsys) -> None:
    text = json.dumps(plan_json(capsys, str(GOOD / "Pulumi.secure-endpoint.yaml")))
    assert "c2VjcmV0LWNpcGhlcnRleHQ" not in text
    assert f'"endpoint": "{SECRET_PLACEHOLDER}"' in text


def test_plan_text_is_a_tree_with_counts(capsys) -> None:
    assert main(["plan", "base-prod"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "Stack base-prod (stacks/Pulumi.base-prod.yaml): blueprint platform-base, "
        "environment prod, region eu-west-1"
    )
    key_line = next(line for line in lines if line.startswith("└─ base-prod-kms-key"))
    assert key_line.endswith("aws:kms/key:Key  [protect, retain]")
    # security: key 2, artifacts bucket 7, access-log bucket 7, the artifacts' logging 1
    assert "43 cloud resources: network 23, observability 3, security 17" in "\n".join(lines)


def test_list_names_blueprints_components_and_stacks(capsys) -> None:
    assert main(["list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "platform-base:" in out
    for component in ("network", "security", "observability"):
        assert f"    {component} " in out
    assert "base-prod            platform-base / prod / eu-west-1" in out


def test_a_prod_change_that_replaces_data_fails_until_acknowledged(tmp_path: Path, capsys) -> None:
    import yaml

    from mlkit.settings import blueprint_defaults

    stack = yaml.safe_load(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    store = blueprint_defaults("realtime-fraud")["featureStore"]
    groups = [dict(group) for group in store["featureGroups"]]
    groups[2]["description"] = "Customer attributes, now from the new CRM."
    stack["config"]["mlkit:featureStore"] = {"featureGroups": groups}
    path = tmp_path / "Pulumi.fraud-prod.yaml"  # same stack name: compared with its record
    path.write_text(yaml.safe_dump(stack, sort_keys=False))  # feature order is identity

    assert main(["plan", str(path), "--json"]) == EXIT_VIOLATIONS
    captured = capsys.readouterr()
    assert json.loads(captured.out)["changeSafety"] == {
        "recorded": True,
        "replacements": [
            {
                "urn": "urn:pulumi:fraud-prod::mlkit::mlkit:feature_store:FeatureStore$"
                "aws-native:sagemaker:FeatureGroup::fraud-prod-features-customer-profile",
                "type": "aws-native:sagemaker:FeatureGroup",
                "property": "description",
                "old": "Slow-moving customer attributes, loaded daily by the CRM export.",
                "new": "Customer attributes, now from the new CRM.",
            }
        ],
    }
    assert "rerun with --accept-replacements to acknowledge" in captured.err
    assert main(["plan", str(path), "--json", "--accept-replacements"]) == EXIT_OK


def test_shipped_stacks_match_their_identity_records(plan_of, shipped_stack) -> None:
    safety = plan_of(shipped_stack).change_safety
    assert safety.record_exists and safety.replacements == []


def test_record_rewrites_the_committed_record_unchanged(capsys) -> None:
    path = Path("stacks/identity/base-dev.json")
    before = path.read_text()
    assert main(["record", "base-dev"]) == EXIT_OK
    assert capsys.readouterr().out == "wrote stacks/identity/base-dev.json\n"
    assert path.read_text() == before


def test_record_refuses_stack_files_outside_stacks(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "Pulumi.fraud-prod.yaml"  # would overwrite the shipped record
    copy.write_text(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    assert main(["record", str(copy)]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == (
        f"{copy}: file: record writes only for stacks in stacks/"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "dir.yaml").mkdir() or d / "dir.yaml", "is a directory, not a stack file"),
        (
            lambda d: (d / ".hidden.yaml").write_text("config: {}") and d / ".hidden.yaml",
            "'.hidden' is not a stack name: name the file Pulumi.<stack>.yaml",
        ),
        (lambda d: d / "missing", "no such stack file (shipped stacks: "),
    ],
)
def test_bad_stack_paths_are_named(tmp_path: Path, capsys, make, message) -> None:
    path = make(tmp_path)
    assert main(["plan", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}: file: {message}")


def test_prices_write_needs_refresh(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["prices", "--write"])
    assert exited.value.code == EXIT_INVALID
    assert "prices --write needs --refresh" in capsys.readouterr().err


def test_plan_several_stacks_in_one_process(tmp_path: Path, capsys, cached_plans) -> None:
    assert main(["plan", "base-dev", "base-prod", "--json", "--out", str(tmp_path)]) == EXIT_OK
    plans = json.loads(capsys.readouterr().out)
    assert [plan["stack"] for plan in plans] == ["base-dev", "base-prod"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base-dev.json", "base-prod.json"]
    assert json.loads((tmp_path / "base-prod.json").read_text()) == plans[1]


def test_plan_all_plans_every_shipped_stack_and_reports_each(capsys, cached_plans) -> None:
    from mlkit.stackfile import shipped_stacks

    assert main(["plan", "--all"]) == EXIT_OK
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("== plan ")] == [
        f"== plan {stack}" for stack in shipped_stacks()
    ]


def test_a_bad_stack_among_several_is_reported_and_the_others_planned(tmp_path: Path, capsys):
    bad = Path(__file__).parent / "bad_stacks" / "Pulumi.unknown-key.yaml"
    assert main(["plan", str(bad), "base-dev", "--out", str(tmp_path)]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.err.startswith("tests/bad_stacks/Pulumi.unknown-key.yaml: mlkit:network.azCnt")
    assert [p.name for p in tmp_path.iterdir()] == ["base-dev.json"]


def test_plan_needs_stacks_or_all_not_both(capsys) -> None:
    for argv in (["plan"], ["plan", "base-dev", "--all"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == EXIT_INVALID
        assert "plan needs STACK|FILE arguments or --all, not both" in capsys.readouterr().err


@pytest.fixture
def extra_resource(monkeypatch):
    """Plans run the real program plus one more resource, as a user's own change would."""
    import mlkit.plan

    def add(create) -> None:
        real = mlkit.plan.program

        def program(source: str) -> None:
            real(source)
            create()

        monkeypatch.setattr(mlkit.plan, "program", program)

    return add


def test_a_misspelled_nested_key_fails_the_plan_naming_resource_and_path(extra_resource, capsys):
    import pulumi_aws as aws

    extra_resource(
        lambda: aws.sagemaker.EndpointConfiguration(
            "typo",
            production_variants=[
                {
                    "variant_name": "primary",
                    "model_name": "m",
                    "serverless_config": {"memory_size_in_mb": 2048, "max_concurency": 5},
                }
            ],
        )
    )
    assert main(["plan", "base-dev"]) == EXIT_VIOLATIONS
    urn = (
        "urn:pulumi:base-dev::mlkit::"
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration::typo"
    )
    assert capsys.readouterr().err.splitlines() == [
        f"stacks/Pulumi.base-dev.yaml: strict inputs: {urn}: "
        "productionVariants[0].serverlessConfig.maxConcurrency: missing required property "
        "'maxConcurrency'",
        f"stacks/Pulumi.base-dev.yaml: strict inputs: {urn}: "
        "productionVariants[0].serverlessConfig.max_concurency: unknown property "
        "'max_concurency' (allowed: maxConcurrency, memorySizeInMb, provisionedConcurrency)",
    ]


def quality_job(problem_type: str, volume_gb: int) -> object:
    import pulumi_aws_native as aws_native

    return aws_native.sagemaker.ModelQualityJobDefinition(
        "quality",
        job_resources={
            "cluster_config": {
                "instance_count": 1,
                "instance_type": "ml.m5.large",
                "volume_size_in_gb": volume_gb,
            }
        },
        model_quality_app_specification={
            "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/monitor:1",
            "problem_type": problem_type,
        },
        model_quality_job_input={"ground_truth_s3_input": {"s3_uri": "s3://b/labels"}},
        model_quality_job_output_config={
            "monitoring_outputs": [
                {"s3_output": {"s3_uri": "s3://b/reports", "local_path": "/opt/ml/out"}}
            ]
        },
        role_arn="arn:aws:iam::123456789012:role/monitor",
    )


def test_an_out_of_bounds_aws_native_value_fails_the_plan(extra_resource, capsys) -> None:
    extra_resource(lambda: quality_job("BinaryClassification", volume_gb=0))
    assert main(["plan", "base-dev", "--json"]) == EXIT_VIOLATIONS
    findings = json.loads(capsys.readouterr().out)["strictInputs"]
    assert [(f["path"], f["message"]) for f in findings] == [
        ("jobResources.clusterConfig.volumeSizeInGb", "0 outside 1..16384")
    ]


def test_a_bad_aws_native_enum_fails_the_plan_in_one_line(extra_resource, capsys) -> None:
    # aws-native types its enums: the SDK itself refuses a bad value while registering the
    # resource (strict inputs check what the SDK lets through; see test_strict_inputs).
    extra_resource(lambda: quality_job("TwoClasses", volume_gb=20))
    assert main(["plan", "base-dev", "--json"]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("stacks/Pulumi.base-dev.yaml: program: the provider SDK refused: ")
    assert line.endswith("'TwoClasses' is not a valid ModelQualityJobDefinitionProblemType")


def test_a_component_refusal_is_reported_as_the_components_not_the_sdks(
    extra_resource, capsys
) -> None:
    from modules.common import Durability
    from modules.security import SecureBucket, SecureBucketArgs

    extra_resource(
        lambda: SecureBucket(
            "unencrypted",
            SecureBucketArgs(kms_key_arn=None, durability=Durability.from_setting("destroy")),
        )
    )
    assert main(["plan", "base-dev", "--json"]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "stacks/Pulumi.base-dev.yaml: program: a component (modules/security/bucket.py) "
        "refused: a bucket takes a KMS key unless it receives access logs (SSE-S3)"
    ]
