"""Data-quality monitoring: the job runs isolated in the VPC, and each drift alarm names its
feature."""

from __future__ import annotations

import pytest

from modules.monitoring.data_quality import DataQualityArgs, DataQualityMonitoring

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
