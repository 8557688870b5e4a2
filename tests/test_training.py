"""Training module: the rendered pipeline carries the stack's values; repository and role."""

from __future__ import annotations

import dataclasses
import json

import pytest

from modules.common import Durability
from modules.training import Training, TrainingArgs, image_repository_arn

IMAGES = {
    "processing": (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    ),
    "training": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "monitoring": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer",
}
KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"  # the platform fixture's


def training(record_program, platform, **overrides):
    args = TrainingArgs(
        offline_bucket_arn="arn:aws:s3:::offline",
        offline_group_uris={
            "TransactionsS3Uri": "s3://offline/t",
            "CardAggregatesS3Uri": "s3://offline/c",
            "CustomerProfileS3Uri": "s3://offline/p",
        },
        labels_uri="s3://artifacts/ground-truth/labels",
        feature_schema={"featureGroups": [], "label": "is_fraud", "order": ["amount"]},
        model_package_group_name="fraud-model",
        model_package_group_arn="arn:aws:sagemaker:eu-west-1:111122223333:model-package-group/fraud-model",
        images=IMAGES,
        auc_threshold=0.9,
        code_version="abc123",
    )
    for key, value in overrides.items():
        setattr(args, key, value)
    on = dataclasses.replace(platform, durability=Durability.from_setting("retain"))
    return record_program(lambda: Training("t", on, args))


def definition(recording) -> dict:
    return json.loads(recording.named("t-pipeline").inputs["pipelineDefinition"])


def test_pipeline_parameters_carry_the_stack_values(record_program, platform) -> None:
    defaults = {
        p["Name"]: p.get("DefaultValue")
        for p in definition(training(record_program, platform))["Parameters"]
    }
    assert defaults == {
        "ArtifactsS3Uri": "s3://artifacts/training",
        "CodeS3Uri": "s3://artifacts/training/code",
        "FeatureSchemaS3Uri": "s3://artifacts/training/feature-schema.json",
        "TransactionsS3Uri": "s3://offline/t",
        "CardAggregatesS3Uri": "s3://offline/c",
        "CustomerProfileS3Uri": "s3://offline/p",
        "LabelsS3Uri": "s3://artifacts/ground-truth/labels",
        "TrainingWindowDays": 90,
        "ProcessingInstanceType": "ml.m5.large",
        "TrainingInstanceType": "ml.m5.xlarge",
        "ProcessingImageUri": IMAGES["processing"],
        "TrainingImageUri": IMAGES["training"],
        "MonitoringImageUri": IMAGES["monitoring"],
        "AucThreshold": 0.9,
        "ModelPackageGroupName": "fraud-model",
        "CodeVersion": "abc123",
        "TriggeredBy": "schedule",
    }


def test_every_job_runs_in_the_stack_vpc_with_its_key_and_role(record_program, platform) -> None:
    recording = training(record_program, platform)
    text = recording.named("t-pipeline").inputs["pipelineDefinition"]
    assert "__MLKIT_" not in text
    role_arn = "arn:aws:iam::123456789012:role/t-role"
    jobs = []
    for step in definition(recording)["Steps"]:
        arguments = step.get("Arguments", {})
        if "NetworkConfig" in arguments:  # processing jobs
            network = arguments["NetworkConfig"]
            assert network["VpcConfig"] == {
                "SecurityGroupIds": ["sg-1"],
                "Subnets": ["subnet-a", "subnet-b"],
            }
            assert network["EnableNetworkIsolation"] is True
            assert arguments["RoleArn"] == role_arn
            jobs.append(step["Name"])
        if "VpcConfig" in arguments:  # training jobs
            assert arguments["EnableNetworkIsolation"] is True
            assert arguments["RoleArn"] == role_arn
            jobs.append(step["Name"])
    assert jobs == ["BuildDataset", "ValidateDataset", "BaselineDataQuality", "Train", "Evaluate"]
    assert recording.named("t-pipeline").inputs["roleArn"] == role_arn


def test_scripts_and_schema_are_uploaded_encrypted(record_program, platform) -> None:
    recording = training(record_program, platform)
    keys = sorted(
        r.inputs["key"] for r in recording.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    )
    assert keys == [
        "training/code/build_dataset.py",
        "training/code/evaluate.py",
        "training/code/validate_dataset.py",
        "training/feature-schema.json",
    ]
    for obj in recording.of_type("aws:s3/bucketObjectv2:BucketObjectv2"):
        assert (obj.inputs["serverSideEncryption"], obj.inputs["kmsKeyId"]) == ("aws:kms", KEY)


def test_repository_is_immutable_scanned_and_encrypted(record_program, platform) -> None:
    repository = training(record_program, platform).named("t-images")
    assert {k: v for k, v in repository.inputs.items() if k not in ("tags", "name")} == {
        "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}],
        "forceDelete": False,
        "imageScanningConfiguration": {"scanOnPush": True},
        "imageTagMutability": "IMMUTABLE",
    }
    assert repository.protect is True


def test_role_passes_only_itself_and_registers_only_into_its_group(
    record_program, platform
) -> None:
    policy = json.loads(training(record_program, platform).named("t-role-policy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["PassOwnRoleToJobs"]["Resource"] == [
        "arn:aws:iam::111122223333:role/t-role-*"
    ]
    assert statements["PassOwnRoleToJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert statements["RegisterCandidates"]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fraud-model/*"
    ]
    assert statements["Images"]["Resource"][:3] == [
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn",
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost",
        "arn:aws:ecr:eu-west-1:468650794304:repository/sagemaker-model-monitor-analyzer",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auc_threshold": 0.5}, "auc_threshold must be above 0.5"),
        ({"images": {"training": "x"}}, "images needs exactly"),
    ],
)
def test_bad_args_raise(record_program, platform, overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        training(record_program, platform, **overrides)


def test_image_repository_arn() -> None:
    assert image_repository_arn(IMAGES["training"]) == (
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"
    )
