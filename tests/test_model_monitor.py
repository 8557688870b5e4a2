"""Model Monitor: the jobs run isolated in the VPC, each drift alarm names its feature, and
the `sagemaker` signal backend gives the alarms that start retraining."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from modules import monitoring as monitoring_component
from modules.monitoring.model_monitor import (
    DataQualityArgs,
    DataQualityMonitoring,
    ModelMonitorArgs,
    ModelQualityArgs,
    ModelQualityMonitoring,
)

KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"  # the platform fixture's
TOPIC = "arn:aws:sns:eu-west-1:111122223333:alerts"  # the platform fixture's
IMAGE = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def data_quality_args(features=("amount", "txn_count_10m")):
    return DataQualityArgs(
        endpoint_name="fraud",
        features=list(features),
        baseline_uri="s3://artifacts/training/monitoring-baseline",
        image_uri=IMAGE,
        image_repository_arn="arn:aws:ecr:eu-west-1:468650794304:repository/x",
    )


def monitoring(record_program, platform, features=("amount", "txn_count_10m")):
    args = data_quality_args(features)
    on = dataclasses.replace(platform, subnet_ids=["subnet-a"])
    return record_program(lambda: DataQualityMonitoring("d", on, args))


def test_job_compares_captured_inputs_with_the_training_baseline(record_program, platform) -> None:
    job = monitoring(record_program, platform).named("d-job").inputs
    assert job["dataQualityAppSpecification"] == {
        "environment": {"publish_cloudwatch_metrics": "Enabled"},
        "imageUri": IMAGE,
    }
    assert job["dataQualityBaselineConfig"] == {
        "constraintsResource": {
            "s3Uri": "s3://artifacts/training/monitoring-baseline/constraints.json"
        },
        "statisticsResource": {
            "s3Uri": "s3://artifacts/training/monitoring-baseline/statistics.json"
        },
    }
    assert job["dataQualityJobInput"]["endpointInput"]["endpointName"] == "fraud"
    assert job["networkConfig"] == {
        "enableInterContainerTrafficEncryption": True,
        "enableNetworkIsolation": True,
        "vpcConfig": {"securityGroupIds": ["sg-1"], "subnets": ["subnet-a"]},
    }
    assert job["jobResources"]["clusterConfig"]["volumeKmsKeyId"] == KEY
    assert job["dataQualityJobOutputConfig"]["kmsKeyId"] == KEY


def test_schedule_and_per_feature_drift_alarms(record_program, platform) -> None:
    recording = monitoring(record_program, platform)
    schedule = recording.named("d-schedule").inputs
    assert schedule["monitoringScheduleConfig"] == {
        "monitoringJobDefinitionName": "d-job",
        "monitoringType": "DataQuality",
        "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"},
    }
    amount = recording.named("d-drift-amount").inputs
    assert (amount["name"], amount["metricName"], amount["namespace"]) == (
        "fraud-drift-amount",
        "feature_baseline_drift__c0",
        "aws/sagemaker/Endpoints/data-metrics",
    )
    assert amount["alarmDescription"] == (
        "Input feature 'amount' (column 0) drifted from the training baseline"
    )
    assert amount["dimensions"] == {"Endpoint": "fraud", "MonitoringSchedule": "fraud-data-quality"}
    count = recording.named("d-drift-txn-count-10m").inputs
    assert count["metricName"] == "feature_baseline_drift__c1"
    composite = recording.named("d-drift").inputs
    assert composite["alarmName"] == "fraud-drift"
    assert composite["alarmRule"] == (
        'ALARM("fraud-drift-amount") OR ALARM("fraud-drift-txn_count_10m")'
    )
    assert composite["alarmActions"] == [TOPIC]


def test_duplicate_features_are_rejected(record_program, platform) -> None:
    with pytest.raises(ValueError, match="features must be non-empty and unique"):
        monitoring(record_program, platform, features=("amount", "amount"))


def model_quality_args(min_auc=0.85):
    return ModelQualityArgs(
        endpoint_name="fraud",
        ground_truth_uri="s3://artifacts/ground-truth/monitoring",
        min_auc=min_auc,
        image_uri=IMAGE,
        image_repository_arn="arn:aws:ecr:eu-west-1:468650794304:repository/x",
        schedule="cron(0 0 ? * * *)",
    )


def model_quality(record_program, platform, min_auc=0.85):
    args = model_quality_args(min_auc)
    on = dataclasses.replace(platform, subnet_ids=["subnet-a"])
    return record_program(lambda: ModelQualityMonitoring("q", on, args))


def test_model_quality_joins_labels_and_alarms_below_the_gate(record_program, platform) -> None:
    recording = model_quality(record_program, platform)
    job = recording.named("q-job")
    assert job.type == "aws-native:sagemaker:ModelQualityJobDefinition"
    assert job.inputs["modelQualityAppSpecification"] == {
        "imageUri": IMAGE,
        "problemType": "BinaryClassification",
    }
    assert job.inputs["modelQualityJobInput"] == {
        "endpointInput": {
            "endpointName": "fraud",
            "localPath": "/opt/ml/processing/input/endpoint",
            "probabilityAttribute": "0",
            "probabilityThresholdAttribute": 0.5,
            "s3DataDistributionType": "FullyReplicated",
            "s3InputMode": "File",
        },
        "groundTruthS3Input": {"s3Uri": "s3://artifacts/ground-truth/monitoring"},
    }
    assert job.inputs["networkConfig"]["enableNetworkIsolation"] is True
    tags = {t["key"]: t["value"] for t in job.inputs["tags"]}
    assert tags["mlkit:component"] == "monitoring"
    # aws-native does not read aws:region: the component gives its provider the region.
    provider = recording.named("q-aws-native")
    assert (provider.type, provider.inputs["region"]) == (
        "pulumi:providers:aws-native",
        "eu-west-1",
    )
    schedule = recording.named("q-schedule").inputs["monitoringScheduleConfig"]
    assert schedule == {
        "monitoringJobDefinitionName": "q-job",
        "monitoringType": "ModelQuality",
        "scheduleConfig": {"scheduleExpression": "cron(0 0 ? * * *)"},
    }
    auc = recording.named("q-auc").inputs
    assert (auc["name"], auc["metricName"], auc["comparisonOperator"], auc["threshold"]) == (
        "fraud-model-quality",
        "auc",
        "LessThanThreshold",
        0.85,
    )
    assert auc["namespace"] == "aws/sagemaker/Endpoints/model-metrics"


def test_model_quality_rejects_a_chance_level_gate(record_program, platform) -> None:
    with pytest.raises(ValueError, match=r"min_auc must be above 0\.5"):
        model_quality(record_program, platform, min_auc=0.5)


def test_sagemaker_signal_backend_builds_both_monitors_and_gives_their_alarms(
    record_program, platform
) -> None:
    build = monitoring_component.BACKENDS.get("sagemaker")
    args = ModelMonitorArgs(data_quality=data_quality_args(), model_quality=model_quality_args())

    def program() -> None:
        signal = build("fraud", platform, args)
        pulumi.export("drift", signal.drift_alarm_name)
        pulumi.export("quality", signal.quality_alarm_name)

    recording = record_program(program)
    components = [(r.type, r.name) for r in recording.resources if r.parent is None]
    assert components == [
        ("mlkit:monitoring:DataQualityMonitoring", "fraud-data-quality"),
        ("mlkit:monitoring:ModelQualityMonitoring", "fraud-model-quality"),
    ]
    assert recording.outputs == {"drift": "fraud-drift", "quality": "fraud-model-quality"}
