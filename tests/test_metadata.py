"""Metadata module: registry, approval notifications, MLflow per size, lineage tags."""

from __future__ import annotations

import dataclasses
import json

import pytest

from modules.common import Durability
from modules.metadata import Metadata, MetadataArgs, lineage_tags

BUCKET_ARN = "arn:aws:s3:::artifacts"  # the platform fixture's


def metadata(record_program, platform, mlflow: str):
    args = MetadataArgs(mlflow=mlflow)
    on = dataclasses.replace(platform, durability=Durability.from_setting("retain"))
    return record_program(lambda: Metadata("m", on, args))


def test_registry_and_approval_notifications(record_program, platform) -> None:
    recording = metadata(record_program, platform, "none")
    assert recording.named("m-models").inputs["modelPackageGroupName"] == "m"
    assert (recording.named("m-models").protect, recording.named("m-models").retain_on_delete) == (
        True,
        True,
    )
    pattern = json.loads(recording.named("m-approvals").inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["m"]},
    }
    target = recording.named("m-approvals-alert").inputs
    assert target["arn"] == "arn:aws:sns:eu-west-1:111122223333:alerts"
    assert target["rule"] == "m-approvals"
    types = {r.type for r in recording.resources}
    assert not any("mlflow" in t.lower() for t in types)


def test_serverless_mlflow_is_an_app(record_program, platform) -> None:
    recording = metadata(record_program, platform, "serverless")
    app = recording.named("m-mlflow")
    assert app.type == "aws:sagemaker/mlflowApp:MlflowApp"
    assert app.inputs["artifactStoreUri"] == "s3://artifacts/mlflow"
    assert app.inputs["roleArn"] == "arn:aws:iam::123456789012:role/m-mlflow-role"


@pytest.mark.parametrize(("size", "expected"), [("small", "Small"), ("large", "Large")])
def test_sized_mlflow_is_a_tracking_server(
    record_program, platform, size: str, expected: str
) -> None:
    server = metadata(record_program, platform, size).named("m-mlflow")
    assert server.type == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"
    assert server.inputs["trackingServerSize"] == expected
    assert server.inputs["automaticModelRegistration"] is False


def test_mlflow_role_reaches_only_its_prefix_key_and_group(record_program, platform) -> None:
    recording = metadata(record_program, platform, "serverless")
    policy = json.loads(recording.named("m-mlflow-role-policy").inputs["policy"])
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "MlflowArtifacts": [BUCKET_ARN, f"{BUCKET_ARN}/mlflow/*"],
        "Key": ["arn:aws:kms:eu-west-1:111122223333:key/k"],
        "RegisterFromMlflow": ["arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/m"],
        "RegisteredPackages": ["arn:aws:sagemaker:eu-west-1:123456789012:model-package/m/*"],
    }
    actions = {s["Sid"]: s["Action"] for s in policy["Statement"]}
    assert actions["RegisteredPackages"] == ["sagemaker:AddTags", "sagemaker:CreateModelPackage"]


def test_unknown_mlflow_option_is_rejected(record_program, platform) -> None:
    with pytest.raises(ValueError, match="mlflow must be one of none, serverless, small"):
        metadata(record_program, platform, "huge")


def test_lineage_tags() -> None:
    assert lineage_tags(
        model_package_group="g",
        model_package_arn=None,
        feature_groups=["b", "a"],
        code_version="abc123",
    ) == {
        "mlkit:model-package-group": "g",
        "mlkit:model-package": "none",
        "mlkit:feature-groups": "a b",
        "mlkit:code-version": "abc123",
    }
