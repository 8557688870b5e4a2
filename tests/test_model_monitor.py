"""Data-quality monitoring: the job runs isolated in the VPC, and each drift alarm names its
feature."""

from __future__ import annotations

import pytest

from modules.monitoring.model_monitor import (
    DataQualityArgs,
    DataQualityMonitoring,
    ModelQualityArgs,
    ModelQualityMonitoring,
)

KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:alerts"
IMAGE = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def monitoring(record_program, features=("amount", "txn_count_10m")):
    args = DataQualityArgs(
        endpoint_name="fraud",
        features=list(features),
        account_id="111122223333",
        region="eu-west-1",
        kms_key_arn=KEY,
        artifacts_bucket_name="artifacts",
        artifacts_bucket_arn="arn:aws:s3:::artifacts",
        baseline_uri="s3://artifacts/training/monitoring-baseline",
        subnet_ids=["subnet-a"],
        security_group_ids=["sg-1"],
        image_uri=IMAGE,
        image_repository_arn="arn:aws:ecr:eu-west-1:468650794304:repository/x",
        alert_topic_arn=TOPIC,
        tags={"owner": "team", "cost-center": "1"},
    )
    return record_program(lambda: DataQualityMonitoring("d", args))


def test_job_compares_captured_inputs_with_the_training_baseline(record_program) -> None:
    job = monitoring(record_program).named("d-job").inputs
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


def test_schedule_and_per_feature_drift_alarms(record_program) -> None:
    recording = monitoring(record_program)
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


def test_duplicate_features_are_rejected(record_program) -> None:
    with pytest.raises(ValueError, match="features must be non-empty and unique"):
        monitoring(record_program, features=("amount", "amount"))


def model_quality(record_program, min_auc=0.85):
    args = ModelQualityArgs(
        endpoint_name="fraud",
        ground_truth_uri="s3://artifacts/ground-truth/monitoring",
        min_auc=min_auc,
        account_id="111122223333",
        region="eu-west-1",
        kms_key_arn=KEY,
        artifacts_bucket_name="artifacts",
        artifacts_bucket_arn="arn:aws:s3:::artifacts",
        subnet_ids=["subnet-a"],
        security_group_ids=["sg-1"],
        image_uri=IMAGE,
        image_repository_arn="arn:aws:ecr:eu-west-1:468650794304:repository/x",
        alert_topic_arn=TOPIC,
        schedule="cron(0 0 ? * * *)",
        tags={"owner": "team", "cost-center": "1"},
    )
    return record_program(lambda: ModelQualityMonitoring("q", args))


def test_model_quality_joins_labels_and_alarms_below_the_gate(record_program) -> None:
    recording = model_quality(record_program)
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


def test_model_quality_rejects_a_chance_level_gate(record_program) -> None:
    with pytest.raises(ValueError, match=r"min_auc must be above 0\.5"):
        model_quality(record_program, min_auc=0.5)
