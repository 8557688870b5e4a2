"""The kit's own monitoring jobs (`kit-jobs`, modules/monitoring/kit_jobs.py), recorded whole:
each role's statements action by action, the launcher and publisher, both schedules and the
CreateProcessingJob request they carry, the event rules, and every alarm's exact inputs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest

from functions.monitoring.launch import handler as launcher
from functions.monitoring.publish import handler as publisher
from mlkit.recording import record
from modules import monitoring
from modules.common import Durability
from modules.monitoring import MlflowTarget, MonitoringJobs, MonitoringJobsArgs, kit_jobs
from modules.platform import Platform
from tests.conftest import REGION

KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"  # the platform fixture's
TOPIC = "arn:aws:sns:eu-west-1:111122223333:alerts"  # the platform fixture's
MOCK_ACCOUNT = "123456789012"  # the recorder's account in the ARNs it makes up
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mlkit/monitoring@sha256:" + "ab" * 32
PACKAGE = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fraud-model/3"
BASELINE = f"s3://artifacts/monitoring/baselines/{PACKAGE}"
APP = "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-app/app-1"
NAME = "fraud-monitoring"
PREFIX = "fraud-monitoring-"
TAGS = {"owner": "team", "cost-center": "1", "mlkit:component": "monitoring"}


def jobs_args(**overrides: Any) -> MonitoringJobsArgs:
    args = MonitoringJobsArgs(
        endpoint_name="fraud",
        variant_name="primary",
        capture_uri="s3://artifacts/data-capture/fraud",
        labels_uri="s3://artifacts/ground-truth/monitoring",
        baseline_uri=BASELINE,
        model_package_arn=PACKAGE,
        features=["amount", "txn_count_10m"],
        min_auc=0.85,
        job_image=IMAGE,
        mlflow=MlflowTarget(APP, app=True),
    )
    return dataclasses.replace(args, **overrides)


def record_jobs(record_program, platform, **overrides: Any):
    args = jobs_args(**overrides)
    return record_program(lambda: MonitoringJobs(NAME, platform, args))


@pytest.fixture(scope="module")
def recording():
    """The component with the defaults, recorded once (recordings are deterministic), on the
    values of the `platform` fixture."""
    platform = Platform(
        stack="test",
        region=REGION,
        account_id="111122223333",
        durability=Durability.from_setting("destroy"),
        kms_key_arn=KEY,
        artifacts_bucket_name="artifacts",
        artifacts_bucket_arn="arn:aws:s3:::artifacts",
        alert_topic_arn=TOPIC,
        subnet_ids=["subnet-a", "subnet-b"],
        security_group_ids=["sg-1"],
        log_retention_days=30,
        tags={"owner": "team", "cost-center": "1"},
    )
    return record(
        lambda: MonitoringJobs(NAME, platform, jobs_args()),
        stack_name="test",
        config={"aws:region": REGION},
    )


def test_the_module_recording_is_the_platform_fixtures(recording, record_program, platform):
    assert record_jobs(record_program, platform).resources == recording.resources


def statements(recording, policy: str) -> list[dict[str, Any]]:
    return json.loads(recording.named(policy).inputs["policy"])["Statement"]


def trusted_service(recording, role: str) -> str:
    trust = json.loads(recording.named(role).inputs["assumeRolePolicy"])["Statement"]
    [statement] = trust
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    return statement["Principal"]["Service"]


def mock_role(name: str) -> str:
    return f"arn:aws:iam::{MOCK_ACCOUNT}:role/{name}"


def mock_function(name: str) -> str:
    return f"arn:aws:lambda:eu-west-1:{MOCK_ACCOUNT}:function:{name}"


# --- roles -----------------------------------------------------------------------------------


def test_the_job_role_reads_the_windows_and_baseline_and_writes_results(recording) -> None:
    assert trusted_service(recording, f"{NAME}-job-role") == "sagemaker.amazonaws.com"
    region_account = "eu-west-1:111122223333"
    assert statements(recording, f"{NAME}-job-role-policy") == [
        {
            "Sid": "Inputs",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [
                "arn:aws:s3:::artifacts/data-capture/fraud/fraud/primary/*",
                "arn:aws:s3:::artifacts/ground-truth/monitoring/*",
                f"arn:aws:s3:::artifacts/monitoring/baselines/{PACKAGE}/*",
                "arn:aws:s3:::artifacts/monitoring/manifests/*",
            ],
        },
        {
            "Sid": "Results",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::artifacts/monitoring/results/*"],
        },
        {
            "Sid": "ListInputs",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::artifacts"],
        },
        {
            "Sid": "Key",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [KEY],
        },
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": ["*"],
        },
        {
            "Sid": "Images",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": ["arn:aws:ecr:eu-west-1:111122223333:repository/mlkit/monitoring"],
        },
        {
            "Sid": "DescribeVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": ["*"],
        },
        {
            "Sid": "VpcInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            # Unscoped: SageMaker fails a VPC processing job whose role filters these.
            "Resource": ["*"],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            "Resource": [f"arn:aws:logs:{region_account}:log-group:/aws/sagemaker/*"],
        },
        {
            "Sid": "Metrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
        },
    ]


def test_the_launcher_starts_only_the_kit_jobs_with_only_the_job_role(recording) -> None:
    function = recording.named(f"{NAME}-launcher").inputs
    assert function["code"] == {"fileArchive": "functions/monitoring/launch"}
    assert (function["handler"], function["runtime"], function["timeout"]) == (
        "handler.handler",
        "python3.12",
        300,
    )
    assert function["environment"]["variables"] == {
        "JOB_NAME_PREFIX": PREFIX,
        "MANIFESTS_URI": "s3://artifacts/monitoring/manifests/",
    }
    assert function["kmsKeyArn"] == KEY
    assert trusted_service(recording, f"{NAME}-launcher-role") == "lambda.amazonaws.com"
    jobs = f"arn:aws:sagemaker:eu-west-1:111122223333:processing-job/{PREFIX}*"
    assert statements(recording, f"{NAME}-launcher-role-policy") == [
        {
            "Sid": "StartJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:AddTags", "sagemaker:CreateProcessingJob"],
            "Resource": [jobs],
        },
        {
            "Sid": "PassJobRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [mock_role(f"{NAME}-job-role")],
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Sid": "ListWindows",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::artifacts"],
            "Condition": {
                "StringLike": {
                    "s3:prefix": ["data-capture/fraud/fraud/primary/*", "ground-truth/monitoring/*"]
                }
            },
        },
        {
            "Sid": "Manifests",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::artifacts/monitoring/manifests/*"],
        },
        {
            "Sid": "Key",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [KEY],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [
                f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT}:log-group:/aws/lambda/{NAME}-launcher:*"
            ],
        },
        *failed_events("launcher"),
    ]


PUBLISHER_STATEMENTS = [
    {
        "Sid": "Metrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": ["*"],
        "Condition": {"StringEquals": {"cloudwatch:namespace": "mlkit/Monitoring"}},
    },
    {
        "Sid": "Results",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::artifacts/monitoring/results/*"],
    },
    {
        "Sid": "DescribeJobs",
        "Effect": "Allow",
        "Action": ["sagemaker:DescribeProcessingJob"],
        "Resource": [f"arn:aws:sagemaker:eu-west-1:111122223333:processing-job/{PREFIX}*"],
    },
    {"Sid": "Key", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY]},
]
LOGS = {
    "Sid": "Logs",
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": [f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT}:log-group:/aws/lambda/{NAME}-publisher:*"],
}
TRACKING_SERVER = "arn:aws:sagemaker:eu-west-1:111122223333:mlflow-tracking-server/t"


def failed_events(function: str) -> list[dict]:
    """EventBridge and the scheduler invoke both functions asynchronously: what they still
    fail on goes to the function's own encrypted queue (its on-failure destination)."""
    return [
        {
            "Sid": "FailedEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [f"arn:aws:sqs:eu-west-1:{MOCK_ACCOUNT}:{NAME}-{function}-failed-events"],
        },
        {
            "Sid": "FailedEventsKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [KEY],
        },
    ]


@pytest.mark.parametrize(
    ("mlflow", "environment", "extra"),
    [
        (
            MlflowTarget(APP, app=True),
            {"MLFLOW_ARN": APP, "MLFLOW_EXPERIMENT": "fraud-monitoring"},
            [
                {
                    "Sid": "Mlflow",
                    "Effect": "Allow",
                    "Action": ["sagemaker:CallMlflowAppApi"],
                    "Resource": [APP],
                }
            ],
        ),
        (
            MlflowTarget(TRACKING_SERVER, app=False),
            {"MLFLOW_ARN": TRACKING_SERVER, "MLFLOW_EXPERIMENT": "fraud-monitoring"},
            [
                {
                    "Sid": "Mlflow",
                    "Effect": "Allow",
                    "Action": [
                        "sagemaker-mlflow:CreateExperiment",
                        "sagemaker-mlflow:CreateRun",
                        "sagemaker-mlflow:GetExperimentByName",
                        "sagemaker-mlflow:LogBatch",
                        "sagemaker-mlflow:SearchRuns",
                        "sagemaker-mlflow:UpdateRun",
                    ],
                    "Resource": [TRACKING_SERVER],
                }
            ],
        ),
        (None, {}, []),
    ],
    ids=["mlflow-app", "tracking-server", "no-mlflow"],
)
def test_the_publisher_writes_only_its_namespace_and_reads_only_results(
    record_program, platform, mlflow, environment, extra
) -> None:
    recording = record_jobs(record_program, platform, mlflow=mlflow)
    function = recording.named(f"{NAME}-publisher").inputs
    assert function["code"] == {"fileArchive": "functions/monitoring/publish"}
    assert function["environment"]["variables"] == {
        "RESULTS_BUCKET": "artifacts",
        "RESULTS_PREFIX": "monitoring/results/",
        "JOB_NAME_PREFIX": PREFIX,
        "METRIC_NAMESPACE": "mlkit/Monitoring",
        **environment,
    }
    assert statements(recording, f"{NAME}-publisher-role-policy") == [
        *PUBLISHER_STATEMENTS,
        *extra,
        LOGS,
        *failed_events("publisher"),
    ]
    # The environment is the handler's contract.
    config = publisher.load_config(function["environment"]["variables"])
    assert (config.bucket, config.prefix, config.job_prefix, config.namespace) == (
        "artifacts",
        "monitoring/results/",
        PREFIX,
        "mlkit/Monitoring",
    )


def test_the_scheduler_may_only_invoke_the_launcher_and_read_its_payload(recording) -> None:
    assert trusted_service(recording, f"{NAME}-scheduler-role") == "scheduler.amazonaws.com"
    assert statements(recording, f"{NAME}-scheduler-role-policy") == [
        {
            "Sid": "Launch",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [mock_function(f"{NAME}-launcher")],
        },
        {
            "Sid": "SchedulePayload",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [KEY],
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:scheduler:schedule-arn": (
                        f"arn:aws:scheduler:eu-west-1:111122223333:schedule/{NAME}/*"
                    )
                }
            },
        },
    ]


# --- schedules and the requests they carry ---------------------------------------------------


def schedule_input(recording, monitor: str) -> dict[str, Any]:
    return json.loads(recording.named(f"{NAME}-{monitor}-schedule").inputs["target"]["input"])


NETWORK = {
    "EnableNetworkIsolation": True,
    "EnableInterContainerTrafficEncryption": True,
    "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-a", "subnet-b"]},
}


def job_request(monitor: str, arguments: list[str], inputs: list[dict[str, Any]]) -> dict:
    return {
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "-m", f"functions.monitoring.{monitor}"],
            "ContainerArguments": [
                "--endpoint-name",
                "fraud",
                *arguments,
                "--model-package-arn",
                PACKAGE,
            ],
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "results",
                    "S3Output": {
                        "S3Uri": f"s3://artifacts/monitoring/results/fraud/{monitor}/",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": KEY,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 50,
                "VolumeKmsKeyId": KEY,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "NetworkConfig": NETWORK,
        "RoleArn": mock_role(f"{NAME}-job-role"),
        "Tags": [
            {"Key": "Name", "Value": f"{NAME}-{monitor}"},
            {"Key": "owner", "Value": "team"},
            {"Key": "cost-center", "Value": "1"},
            {"Key": "mlkit:component", "Value": "monitoring"},
            {"Key": "mlkit:monitor", "Value": monitor},
        ],
    }


def s3_input(name: str, uri: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": f"/opt/ml/processing/input/{name}",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


CAPTURE = s3_input("capture", "s3://artifacts/data-capture/fraud/fraud/primary/")


def test_both_schedules_invoke_the_launcher_in_their_own_group(recording) -> None:
    group = recording.named(f"{NAME}-schedules").inputs
    assert group == {"name": NAME, "tags": {"Name": f"{NAME}-schedules", **TAGS}}
    for monitor, expression in (("drift", "cron(0 * * * ? *)"), ("quality", "cron(0 3 * * ? *)")):
        schedule = recording.named(f"{NAME}-{monitor}-schedule").inputs
        assert {k: v for k, v in schedule.items() if k != "target"} == {
            "name": f"{NAME}-{monitor}",
            "groupName": NAME,
            "description": f"Starts the {monitor} monitoring job of fraud",
            "scheduleExpression": expression,
            "scheduleExpressionTimezone": "UTC",
            "flexibleTimeWindow": {"mode": "OFF"},
            "kmsKeyArn": KEY,
            "state": "ENABLED",
        }
        target = schedule["target"]
        assert {k: v for k, v in target.items() if k != "input"} == {
            "arn": mock_function(f"{NAME}-launcher"),
            "roleArn": mock_role(f"{NAME}-scheduler-role"),
            "retryPolicy": {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 3},
        }


def test_the_drift_job_reads_a_day_of_capture_and_the_serving_versions_baseline(
    recording,
) -> None:
    assert schedule_input(recording, "drift") == {
        "monitor": "drift",
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "windows": {"capture": 24},
        "request": job_request(
            "drift",
            ["--window-hours", "24", "--drift-threshold", "0.1", "--min-rows", "1000"],
            [
                CAPTURE,
                s3_input("baseline", f"{BASELINE}/baseline/"),
                s3_input("schema", f"{BASELINE}/schema/"),
            ],
        ),
    }


def test_the_quality_job_joins_a_week_of_predictions_with_late_labels(recording) -> None:
    assert schedule_input(recording, "quality") == {
        "monitor": "quality",
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "windows": {"capture": 168, "labels": 168},
        "request": job_request(
            "quality",
            [
                "--lookback-hours",
                "168",
                "--decision-threshold",
                "0.5",
                "--min-labeled",
                "200",
                "--min-auc",
                "0.85",
            ],
            [CAPTURE, s3_input("labels", "s3://artifacts/ground-truth/monitoring/")],
        ),
    }


def test_settings_reach_the_schedules_and_the_job_arguments(record_program, platform) -> None:
    recording = record_jobs(
        record_program,
        platform,
        drift_schedule="rate(6 hours)",
        drift_window_hours=12.5,
        drift_threshold=0.2,
        min_captured_rows=500,
        quality_schedule="cron(30 4 ? * MON *)",
        label_lookback_hours=336,
        min_labeled_predictions=50,
        decision_threshold=0.7,
        instance_type="ml.m5.xlarge",
    )
    drift, quality = schedule_input(recording, "drift"), schedule_input(recording, "quality")
    assert drift["windows"] == {"capture": 12.5}
    assert drift["request"]["AppSpecification"]["ContainerArguments"][2:8] == [
        "--window-hours",
        "12.5",
        "--drift-threshold",
        "0.2",
        "--min-rows",
        "500",
    ]
    assert quality["windows"] == {"capture": 336, "labels": 336}
    assert quality["request"]["AppSpecification"]["ContainerArguments"][2:10] == [
        "--lookback-hours",
        "336",
        "--decision-threshold",
        "0.7",
        "--min-labeled",
        "50",
        "--min-auc",
        "0.85",
    ]
    for request in (drift["request"], quality["request"]):
        assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert recording.named(f"{NAME}-drift-schedule").inputs["scheduleExpression"] == (
        "rate(6 hours)"
    )
    assert recording.named(f"{NAME}-quality-schedule").inputs["scheduleExpression"] == (
        "cron(30 4 ? * MON *)"
    )


def test_the_launchers_job_names_fit_sagemakers_limit() -> None:
    """The component checks names with the launcher's format: the two must agree."""
    longest = launcher.job_name(PREFIX, "quality", launcher.scheduled_time("2026-12-31T23:59Z"))
    assert longest == f"{PREFIX}quality-20261231T2359"
    assert len(longest) == len(PREFIX) + len("quality-") + kit_jobs.JOB_TIME_CHARS
    assert kit_jobs.MAX_JOB_NAME == launcher.MAX_JOB_NAME == 63
    assert kit_jobs.MONITORS == launcher.MONITORS


# --- event rules -----------------------------------------------------------------------------


def test_completed_jobs_reach_the_publisher_and_failed_ones_the_alert_topic(recording) -> None:
    completed = recording.named(f"{NAME}-completed").inputs
    assert json.loads(completed["eventPattern"]) == publisher.event_pattern(PREFIX)
    target = recording.named(f"{NAME}-completed-target").inputs
    assert target == {
        "rule": f"{NAME}-completed",
        "arn": mock_function(f"{NAME}-publisher"),
        "retryPolicy": {"maximumRetryAttempts": 4, "maximumEventAgeInSeconds": 3600},
    }
    invoke = recording.named(f"{NAME}-publisher-invoke").inputs
    assert (invoke["action"], invoke["function"], invoke["principal"]) == (
        "lambda:InvokeFunction",
        f"{NAME}-publisher",
        "events.amazonaws.com",
    )
    failed = recording.named(f"{NAME}-failed").inputs
    assert json.loads(failed["eventPattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {
            "ProcessingJobStatus": ["Failed", "Stopped"],
            "ProcessingJobName": [{"prefix": PREFIX}],
        },
    }
    assert recording.named(f"{NAME}-failed-alert").inputs == {
        "rule": f"{NAME}-failed",
        "arn": TOPIC,
    }


# --- alarms ----------------------------------------------------------------------------------


def alarm(recording, name: str) -> dict[str, Any]:
    inputs = dict(recording.named(name).inputs)
    assert inputs.pop("tags") == {"Name": name, **TAGS}
    assert (inputs.pop("actionsEnabled"), inputs.pop("alarmActions"), inputs.pop("okActions")) == (
        True,
        [TOPIC],
        [TOPIC],
    )
    return inputs


RESULT_ALARM = {
    "namespace": "mlkit/Monitoring",
    "period": 3600,
    "evaluationPeriods": 1,
    "datapointsToAlarm": 1,
    "treatMissingData": "ignore",
}


def test_one_drift_alarm_per_feature_naming_it(recording) -> None:
    assert alarm(recording, f"{NAME}-drift-txn-count-10m") == RESULT_ALARM | {
        "name": "fraud-drift-txn_count_10m",
        "alarmDescription": "Input feature 'txn_count_10m' of fraud drifted from the serving "
        "model's baseline (drift job on cron(0 * * * ? *)). Fires when the Maximum of "
        "mlkit/Monitoring FeatureDrift (Endpoint=fraud, Feature=txn_count_10m) per 1 hour is "
        ">= 0.1 in 1 of 1 period; missing data keeps the alarm's state.",
        "metricName": "FeatureDrift",
        "dimensions": {"Endpoint": "fraud", "Feature": "txn_count_10m"},
        "statistic": "Maximum",
        "threshold": 0.1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    assert alarm(recording, f"{NAME}-drift-amount")["dimensions"] == {
        "Endpoint": "fraud",
        "Feature": "amount",
    }
    composite = dict(recording.named(f"{NAME}-drift").inputs)
    assert composite == {
        "alarmName": "fraud-drift",
        "alarmDescription": "Some input feature of fraud drifted from the serving model's "
        "baseline; starts retraining behind the evaluation gate. Fires when "
        'ALARM("fraud-drift-amount") OR ALARM("fraud-drift-txn_count_10m").',
        "alarmRule": 'ALARM("fraud-drift-amount") OR ALARM("fraud-drift-txn_count_10m")',
        "actionsEnabled": True,
        "alarmActions": [TOPIC],
        "okActions": [TOPIC],
        "tags": {"Name": f"{NAME}-drift", **TAGS},
    }


def test_the_quality_alarm_fires_below_the_training_gate(recording) -> None:
    assert alarm(recording, f"{NAME}-auc") == RESULT_ALARM | {
        "name": "fraud-model-quality",
        "alarmDescription": "Live AUC of fraud (captured predictions joined with late labels) "
        "below the training gate; starts retraining behind the evaluation gate (quality job on "
        "cron(0 3 * * ? *)). Fires when the Minimum of mlkit/Monitoring AUC (Endpoint=fraud) "
        "per 1 hour is < 0.85 in 1 of 1 period; missing data keeps the alarm's state.",
        "metricName": "AUC",
        "dimensions": {"Endpoint": "fraud"},
        "statistic": "Minimum",
        "threshold": 0.85,
        "comparisonOperator": "LessThanThreshold",
    }


@pytest.mark.parametrize(
    ("monitor", "rows"),
    [("drift", "fewer than 1000 captured rows"), ("quality", "fewer than 200 labeled predictions")],
)
def test_insufficient_data_says_monitoring_is_blind(recording, monitor, rows) -> None:
    assert alarm(recording, f"{NAME}-{monitor}-blind") == RESULT_ALARM | {
        "name": f"fraud-{monitor}-insufficient-data",
        "alarmDescription": f"The {monitor} job of fraud had too little data to judge ({rows}"
        + (", or one label class only" if monitor == "quality" else "")
        + "): monitoring is blind. Fires when the Maximum of "
        f"mlkit/Monitoring InsufficientData (Endpoint=fraud, Monitor={monitor}) per 1 hour is "
        ">= 1 in 1 of 1 period; missing data keeps the alarm's state.",
        "metricName": "InsufficientData",
        "dimensions": {"Endpoint": "fraud", "Monitor": monitor},
        "statistic": "Maximum",
        "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
    }


def test_the_launcher_publisher_and_schedules_have_alarms(recording) -> None:
    errors = {
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "statistic": "Sum",
        "period": 3600,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 0,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    for role, meaning in (
        ("launcher", "a job did not start"),
        ("publisher", "results were not published"),
    ):
        assert alarm(recording, f"{NAME}-{role}-errors") == errors | {
            "name": f"{NAME}-{role}-errors",
            "alarmDescription": f"The monitoring {role} of fraud failed: {meaning}. Fires when "
            f"the Sum of AWS/Lambda Errors (FunctionName={NAME}-{role}) per 1 hour is > 0 in 1 "
            "of 1 period; missing data counts as not breaching.",
            "dimensions": {"FunctionName": f"{NAME}-{role}"},
        }
    assert alarm(recording, f"{NAME}-dropped") == errors | {
        "name": f"{NAME}-schedules-dropped",
        "alarmDescription": "A monitoring schedule of fraud could not invoke the launcher after "
        "its retries. Fires when the Sum of AWS/Scheduler InvocationDroppedCount "
        f"(ScheduleGroup={NAME}) per 1 hour is > 0 in 1 of 1 period; missing data counts as not "
        "breaching.",
        "namespace": "AWS/Scheduler",
        "metricName": "InvocationDroppedCount",
        "dimensions": {"ScheduleGroup": NAME},
    }


def test_exactly_these_resources(recording) -> None:
    assert sorted((r.type, r.name) for r in recording.resources if r.custom) == sorted(
        [
            ("aws:iam/role:Role", f"{NAME}-job-role"),
            ("aws:iam/rolePolicy:RolePolicy", f"{NAME}-job-role-policy"),
            *[
                pair
                for role in ("launcher", "publisher")
                for pair in (
                    ("aws:lambda/function:Function", f"{NAME}-{role}"),
                    ("aws:cloudwatch/logGroup:LogGroup", f"{NAME}-{role}-logs"),
                    ("aws:iam/role:Role", f"{NAME}-{role}-role"),
                    ("aws:iam/rolePolicy:RolePolicy", f"{NAME}-{role}-role-policy"),
                    ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-{role}-errors"),
                    ("aws:sqs/queue:Queue", f"{NAME}-{role}-failed-events"),
                    (
                        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
                        f"{NAME}-{role}-async",
                    ),
                    (
                        "aws:cloudwatch/metricAlarm:MetricAlarm",
                        f"{NAME}-{role}-failed-events-alarm",
                    ),
                )
            ],
            ("aws:iam/role:Role", f"{NAME}-scheduler-role"),
            ("aws:iam/rolePolicy:RolePolicy", f"{NAME}-scheduler-role-policy"),
            ("aws:scheduler/scheduleGroup:ScheduleGroup", f"{NAME}-schedules"),
            ("aws:scheduler/schedule:Schedule", f"{NAME}-drift-schedule"),
            ("aws:scheduler/schedule:Schedule", f"{NAME}-quality-schedule"),
            ("aws:cloudwatch/eventRule:EventRule", f"{NAME}-completed"),
            ("aws:cloudwatch/eventTarget:EventTarget", f"{NAME}-completed-target"),
            ("aws:lambda/permission:Permission", f"{NAME}-publisher-invoke"),
            ("aws:cloudwatch/eventRule:EventRule", f"{NAME}-failed"),
            ("aws:cloudwatch/eventTarget:EventTarget", f"{NAME}-failed-alert"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-drift-amount"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-drift-txn-count-10m"),
            ("aws:cloudwatch/compositeAlarm:CompositeAlarm", f"{NAME}-drift"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-auc"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-drift-blind"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-quality-blind"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-dropped"),
        ]
    )
    assert not any(r.type.startswith("aws-native:") for r in recording.resources)
    assert not any("monitoringSchedule" in r.type for r in recording.resources)


# --- the backend and its refusals ------------------------------------------------------------


def test_kit_jobs_is_the_signal_backend_and_gives_its_alarms(record_program, platform) -> None:
    assert monitoring.BACKENDS.names() == ("kit-jobs",)
    build = monitoring.BACKENDS.get("kit-jobs")

    def program() -> None:
        signal = build(NAME, platform, jobs_args())
        pulumi.export("drift", signal.drift_alarm_name)
        pulumi.export("quality", signal.quality_alarm_name)

    recording = record_program(program)
    assert [(r.type, r.name) for r in recording.resources if r.parent is None] == [
        ("mlkit:monitoring:MonitoringJobs", NAME)
    ]
    assert recording.outputs == {"drift": "fraud-drift", "quality": "fraud-model-quality"}
    assert (monitoring.drift_alarm_name("fraud"), monitoring.quality_alarm_name("fraud")) == (
        "fraud-drift",
        "fraud-model-quality",
    )


@pytest.mark.parametrize(
    ("overrides", "name", "message"),
    [
        ({"features": ["amount", "amount"]}, NAME, "features must be non-empty and unique"),
        ({"features": []}, NAME, "features must be non-empty and unique"),
        ({"features": ["Amount"]}, NAME, r"lower_snake_case identifiers: \['Amount'\]"),
        ({"min_auc": 0.5}, NAME, r"min_auc must be above 0\.5"),
        ({"decision_threshold": 1.5}, NAME, "decision_threshold must be between 0 and 1"),
        ({"drift_window_hours": 0}, NAME, "must be positive"),
        ({"job_image": IMAGE.split("@")[0] + ":1.0"}, NAME, "not an ECR image pinned by digest"),
        ({}, "fraud_monitoring", "cannot prefix processing job names"),
        ({}, "a" * 42, "at most 41 characters"),
    ],
)
def test_conflicting_args_are_refused(record_program, platform, overrides, name, message) -> None:
    args = jobs_args(**overrides)
    with pytest.raises(ValueError, match=message):
        record_program(lambda: MonitoringJobs(name, platform, args))


def test_a_name_of_the_longest_length_is_taken(record_program, platform) -> None:
    name = "a" * 41
    recording = record_program(lambda: MonitoringJobs(name, platform, jobs_args()))
    prefix = recording.named(f"{name}-launcher").inputs["environment"]["variables"]
    assert (
        len(
            launcher.job_name(
                prefix["JOB_NAME_PREFIX"],
                "quality",
                launcher.scheduled_time("2026-05-04T10:00:00Z"),
            )
        )
        == 63
    )


def test_the_composite_description_stays_within_cloudwatchs_limit(record_program, platform):
    features = [f"feature_number_{i}" for i in range(40)]
    recording = record_jobs(record_program, platform, features=features)
    composite = recording.named(f"{NAME}-drift").inputs
    assert len(composite["alarmDescription"]) <= 1024
    assert composite["alarmDescription"].endswith(
        'Fires when any of the 40 alarms ALARM("fraud-drift-<feature>").'
    )
    assert composite["alarmRule"].count("ALARM(") == 40
    for alarm_inputs in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert len(alarm_inputs.inputs["alarmDescription"]) <= 1024


# --- a batch scorer: drift of the scored population only -------------------------------------

POPULATION = "s3://artifacts/monitoring/populations/recsys-scoring"


def batch_recording(record_program, platform):
    return record_jobs(
        record_program,
        platform,
        endpoint_name="recs",
        variant_name=None,
        capture_uri=None,
        labels_uri=None,
        min_auc=None,
        population_uri=POPULATION,
        features=["interactions_7d", "days_since_last_interaction"],
        drift_schedule="cron(0 6 * * ? *)",
        drift_window_hours=12,
    )


def test_a_batch_scorer_gets_the_drift_job_on_its_population_and_no_quality_job(
    record_program, platform
) -> None:
    recording = batch_recording(record_program, platform)
    custom = {(r.type, r.name) for r in recording.resources if r.custom}
    assert (("aws:scheduler/schedule:Schedule", f"{NAME}-quality-schedule")) not in custom
    assert ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-auc") not in custom
    assert ("aws:cloudwatch/metricAlarm:MetricAlarm", f"{NAME}-quality-blind") not in custom
    request = schedule_input(recording, "drift")
    assert request["windows"] == {"population": 12}
    assert request["request"]["AppSpecification"]["ContainerArguments"] == [
        "--endpoint-name",
        "recs",
        "--window-hours",
        "12",
        "--drift-threshold",
        "0.1",
        "--min-rows",
        "1000",
        "--current",
        "population",
        "--model-package-arn",
        PACKAGE,
    ]
    assert request["request"]["ProcessingInputs"] == [
        s3_input("population", f"{POPULATION}/"),
        s3_input("baseline", f"{BASELINE}/baseline/"),
        s3_input("schema", f"{BASELINE}/schema/"),
    ]
    [inputs] = [s for s in statements(recording, f"{NAME}-job-role-policy") if s["Sid"] == "Inputs"]
    assert inputs["Resource"] == [
        "arn:aws:s3:::artifacts/monitoring/populations/recsys-scoring/*",
        f"arn:aws:s3:::artifacts/monitoring/baselines/{PACKAGE}/*",
        "arn:aws:s3:::artifacts/monitoring/manifests/*",
    ]
    [windows] = [
        s
        for s in statements(recording, f"{NAME}-launcher-role-policy")
        if s["Sid"] == "ListWindows"
    ]
    assert windows["Condition"] == {
        "StringLike": {"s3:prefix": ["monitoring/populations/recsys-scoring/*"]}
    }


def test_a_batch_scorers_drift_alarms_say_what_they_compare_and_do(
    record_program, platform
) -> None:
    recording = batch_recording(record_program, platform)
    feature = recording.named(f"{NAME}-drift-days-since-last-interaction").inputs
    assert feature["alarmDescription"].startswith(
        "Feature 'days_since_last_interaction' of the users recs was scored for drifted from "
        "the serving model's training population (drift job on cron(0 6 * * ? *)). Fires when "
        "the Maximum of mlkit/Monitoring FeatureDrift (Endpoint=recs, "
        "Feature=days_since_last_interaction)"
    )
    composite = recording.named(f"{NAME}-drift").inputs
    assert composite["alarmDescription"] == (
        "Some feature of the users recs was scored for drifted from the serving model's "
        "training population (a notification: retraining is on its schedule). Fires when "
        'ALARM("recs-drift-interactions_7d") OR ALARM("recs-drift-days_since_last_interaction").'
    )
    blind = recording.named(f"{NAME}-drift-blind").inputs
    assert blind["alarmDescription"].startswith(
        "The drift job of recs had too little data to judge (fewer than 1000 population rows): "
        "monitoring is blind."
    )
