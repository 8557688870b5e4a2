"""The batch-recommender blueprint as planned for recsys-dev and recsys-prod: exact inputs of
each piece it adds (schedules and their targets and roles, the table, the API, the loader
and lookup functions, the alarms, the pipelines' stack values) and exactly where dev and
prod differ."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from blueprints._base import NO_MONITORING_JOBS
from functions.recommendations import sql
from functions.recommendations.pipelines.definition import POPULATION_FEATURES
from mlkit.plan import Plan

ACCOUNT = "123456789012"  # the mocks' account
REGION = "eu-west-1"


def named(plan: Plan, name: str) -> dict[str, Any]:
    """A copy of a resource's inputs (the plans are shared: never change them)."""
    return copy.deepcopy(plan.recording.named(name).inputs)


def statements(plan: Plan, role: str) -> dict[str, dict[str, Any]]:
    """Sid -> statement of a role's inline policy."""
    document = json.loads(named(plan, f"{role}-policy")["policy"])
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.fixture
def prod(plan_of) -> Plan:
    return plan_of("recsys-prod")


@pytest.fixture
def dev(plan_of) -> Plan:
    return plan_of("recsys-dev")


def key_arn(plan: Plan) -> str:
    return named(plan, f"{plan.stack.name}-serving-scoring-schedule-start-schedule")["kmsKeyArn"]


# --- daily materialization ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "template", "table"),
    [
        ("user-features", "materialize_user_features", "user_features"),
        ("item-features", "materialize_item_features", "item_features"),
    ],
)
def test_each_group_is_materialized_daily_by_athena_itself(prod, query, template, table) -> None:
    schedule = named(prod, f"recsys-prod-materialize-{query}-schedule")
    target = schedule.pop("target")
    assert schedule == {
        "name": f"recsys-prod-materialize-{query}",
        "groupName": "recsys-prod-materialize",
        "description": f"Materializes {query} of recsys-prod-materialize with Athena",
        "scheduleExpression": "cron(0 2 * * ? *)",
        "scheduleExpressionTimezone": "UTC",
        "flexibleTimeWindow": {"mode": "OFF"},
        "kmsKeyArn": key_arn(prod),
        "state": "ENABLED",
    }
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"
    assert (
        target["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/recsys-prod-materialize-scheduler-role"
    )
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 3}
    # The very statement the kit's SQL renders for this stack, as of the day it fires.
    assert json.loads(target["input"]) == {
        "QueryString": sql.render(
            template,
            lake_database="recsys_prod_materialize_lake",
            interactions_table="interactions",
            feature_database="recsys_prod_features_catalog",
            **{f"{table}_table": f"recsys_prod_features_{table}"},
            as_of=sql.ATHENA_AS_OF,
            window_days=35,
        ),
        "WorkGroup": "recsys-prod-materialize",
        "QueryExecutionContext": {
            "Catalog": "AwsDataCatalog",
            "Database": "recsys_prod_features_catalog",
        },
        # One token per scheduled run: a retried start does not insert twice.
        "ClientRequestToken": f"recsys-prod-materialize-{query}-<aws.scheduler.scheduled-time>",
    }


def test_the_materialization_role_can_run_its_queries_and_nothing_else(prod) -> None:
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}:"
    features = f"{glue}table/recsys_prod_features_catalog/recsys_prod_features_"
    assert statements(prod, "recsys-prod-materialize-scheduler-role") == {
        "Queries": {
            "Sid": "Queries",
            "Effect": "Allow",
            "Action": [
                "athena:GetQueryExecution",
                "athena:GetWorkGroup",
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
            ],
            "Resource": [f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/recsys-prod-materialize"],
        },
        "Catalog": {
            "Sid": "Catalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable"],
            "Resource": [
                f"{glue}catalog",
                f"{glue}database/recsys_prod_materialize_lake",
                f"{glue}database/recsys_prod_features_catalog",
                f"{glue}table/recsys_prod_materialize_lake/interactions",
                f"{features}user_features",
                f"{features}item_features",
            ],
        },
        "CommitGroups": {
            "Sid": "CommitGroups",
            "Effect": "Allow",
            "Action": ["glue:UpdateTable"],
            "Resource": [
                f"{glue}catalog",
                f"{glue}database/recsys_prod_features_catalog",
                f"{features}user_features",
                f"{features}item_features",
            ],
        },
        "Lake": {
            "Sid": "Lake",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::recsys-prod-materialize-lake-bucket/*"],
        },
        "Buckets": {
            "Sid": "Buckets",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": [
                "arn:aws:s3:::recsys-prod-materialize-lake-bucket",
                "arn:aws:s3:::recsys-prod-features-offline-bucket",
                "arn:aws:s3:::recsys-prod-artifacts-bucket",
            ],
        },
        "OfflineStore": {
            "Sid": "OfflineStore",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:PutObject",
            ],
            "Resource": ["arn:aws:s3:::recsys-prod-features-offline-bucket/offline-store/*"],
        },
        "Results": {
            "Sid": "Results",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": ["arn:aws:s3:::recsys-prod-artifacts-bucket/features/athena-results/*"],
        },
        "Key": {
            "Sid": "Key",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [key_arn(prod)],
        },
        "SchedulePayload": {
            "Sid": "SchedulePayload",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key_arn(prod)],
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:scheduler:schedule-arn": (
                        f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/recsys-prod-materialize/*"
                    )
                }
            },
        },
    }


def test_the_lake_table_is_projected_by_day(prod) -> None:
    table = named(prod, "recsys-prod-materialize-interactions-table")
    assert table["parameters"]["projection.enabled"] == "true"
    assert table["parameters"]["storage.location.template"] == (
        "s3://recsys-prod-materialize-lake-bucket/interactions/dt=${dt}/"
    )
    assert table["partitionKeys"] == [{"name": "dt", "type": "string"}]
    assert [c["name"] for c in table["storageDescriptor"]["columns"]] == [
        "interaction_id", "user_id", "item_id", "event_type", "event_time", "weight",
    ]  # fmt: skip


def test_failed_materialization_queries_and_dropped_starts_alert(prod) -> None:
    dropped = named(prod, "recsys-prod-materialize-dropped")
    assert dropped["dimensions"] == {"ScheduleGroup": "recsys-prod-materialize"}
    assert dropped["alarmActions"] == [
        f"arn:aws:sns:{REGION}:{ACCOUNT}:recsys-prod-observability-alerts"
    ]
    rule = named(prod, "recsys-prod-materialize-failed")
    assert json.loads(rule["eventPattern"]) == {
        "source": ["aws.athena"],
        "detail-type": ["Athena Query State Change"],
        "detail": {
            "currentState": ["FAILED", "CANCELLED"],
            "workgroupName": ["recsys-prod-materialize"],
        },
    }
    target = named(prod, "recsys-prod-materialize-failed-alert")
    assert target["arn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:recsys-prod-observability-alerts"


# --- training and scoring pipelines -------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expression", "pipeline", "parameters"),
    [
        ("training-schedule", "cron(0 4 ? * SUN *)", "training", [
            {"name": "TriggeredBy", "value": "schedule"},
        ]),
        ("serving-scoring-schedule", "cron(0 5 * * ? *)", "serving-scoring", []),
    ],
)  # fmt: skip
def test_pipelines_start_on_their_schedule_with_a_role_for_that_pipeline_only(
    prod, schedule, expression, pipeline, parameters
) -> None:
    # A start the pipeline refuses emits no pipeline event: the group alarms on it.
    dropped = named(prod, f"recsys-prod-{schedule}-dropped")
    assert (dropped["namespace"], dropped["metricName"], dropped["dimensions"]) == (
        "AWS/Scheduler",
        "InvocationDroppedCount",
        {"ScheduleGroup": f"recsys-prod-{schedule}"},
    )
    assert (dropped["comparisonOperator"], dropped["threshold"]) == ("GreaterThanThreshold", 0)
    inputs = named(prod, f"recsys-prod-{schedule}-start-schedule")
    pipeline_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/recsys-prod-{pipeline}"
    assert inputs["scheduleExpression"] == expression
    assert inputs["target"] == {
        "arn": pipeline_arn,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/recsys-prod-{schedule}-scheduler-role",
        "sagemakerPipelineParameters": {"pipelineParameters": parameters},
        "retryPolicy": {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 3},
    }
    policy = statements(prod, f"recsys-prod-{schedule}-scheduler-role")
    assert sorted(policy) == ["SchedulePayload", "StartPipeline"]
    assert policy["StartPipeline"]["Action"] == ["sagemaker:StartPipelineExecution"]
    assert policy["StartPipeline"]["Resource"] == [pipeline_arn]


def defaults(plan: Plan, pipeline: str) -> dict[str, Any]:
    definition = json.loads(
        named(plan, f"{plan.stack.name}-{pipeline}-pipeline")["pipelineDefinition"]
    )
    return {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}


def test_the_training_pipeline_gets_the_stacks_tables_and_gate(prod) -> None:
    values = defaults(prod, "training")
    assert {k: values[k] for k in (
        "LakeDatabase", "InteractionsTable", "FeatureDatabase", "UserFeaturesTable",
        "AthenaWorkGroup", "TrainingWindowDays", "HoldoutDays", "EvaluationK", "TopN",
        "MinRecallAtK", "MinNdcgAtK", "ModelPackageGroupName", "Factors",
    )} == {
        "LakeDatabase": "recsys_prod_materialize_lake",
        "InteractionsTable": "interactions",
        "FeatureDatabase": "recsys_prod_features_catalog",
        "UserFeaturesTable": "recsys_prod_features_user_features",
        "AthenaWorkGroup": "recsys-prod-training",
        "TrainingWindowDays": 90,
        "HoldoutDays": 7,
        "EvaluationK": 10,
        "TopN": 20,
        "MinRecallAtK": 0.05,
        "MinNdcgAtK": 0.03,
        "ModelPackageGroupName": "recsys-prod-recsys-model",
        "Factors": 64,
    }  # fmt: skip


def train_step(plan: Plan) -> dict[str, Any]:
    definition = json.loads(
        named(plan, f"{plan.stack.name}-training-pipeline")["pipelineDefinition"]
    )
    return next(s for s in definition["Steps"] if s["Name"] == "Train")["Arguments"]


def test_dev_trains_on_spot_and_prod_on_demand(dev, prod) -> None:
    assert train_step(dev)["EnableManagedSpotTraining"] is True
    assert train_step(dev)["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 1800,
        "MaxWaitTimeInSeconds": 3600,
    }
    assert train_step(prod)["EnableManagedSpotTraining"] is False
    assert train_step(prod)["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert defaults(dev, "training")["Factors"] == 16  # recsys-dev's stack file


def test_scoring_runs_the_promoted_version_and_publishes_with_the_loader(prod) -> None:
    values = defaults(prod, "serving-scoring")
    assert values["ModelPackageArn"] == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/recsys-prod-recsys-model/1"
    )
    assert (values["TransformInstanceCount"], values["TransformConcurrency"]) == (2, 2)
    assert (values["ItemFeaturesTable"], values["ActiveDays"]) == (
        "recsys_prod_features_item_features",
        30,
    )
    definition = json.loads(
        named(prod, "recsys-prod-serving-scoring-pipeline")["pipelineDefinition"]
    )
    (load,) = (s for s in definition["Steps"] if s["Type"] == "Lambda")
    assert (
        load["FunctionArn"]
        == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:recsys-prod-serving-loader"
    )
    role = statements(prod, "recsys-prod-serving-scoring-role")
    assert role["PublishGeneration"]["Resource"] == [load["FunctionArn"]]
    assert role["ApprovedVersion"]["Resource"] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/recsys-prod-recsys-model/*"
    ]


def test_without_a_promoted_version_everything_but_scoring_deploys(plan_of, tmp_path) -> None:
    import yaml

    from mlkit.plan import plan_stack

    stack = yaml.safe_load(Path("stacks/Pulumi.recsys-dev.yaml").read_text())
    del stack["config"]["mlkit:serving"]
    path = tmp_path / "Pulumi.recsys-fresh.yaml"
    path.write_text(yaml.safe_dump(stack))
    fresh = plan_stack(str(path))
    names = {r.name for r in fresh.recording.resources}
    dev_names = {
        r.name.replace("recsys-dev", "recsys-fresh")
        for r in plan_of("recsys-dev").recording.resources
    }
    missing = sorted(n.removeprefix("recsys-fresh-") for n in dev_names - names)
    assert missing == sorted(
        [
            "serving-scoring-athena",
            "serving-scoring-code-active-users",
            "serving-scoring-code-athena-unload",
            "serving-scoring-code-build-dataset",
            "serving-scoring-code-build-interactions",
            "serving-scoring-code-evaluate",
            "serving-scoring-code-inference",
            "serving-scoring-code-list-active-users",
            "serving-scoring-code-materialize-item-features",
            "serving-scoring-code-materialize-user-features",
            "serving-scoring-code-popular-items",
            "serving-scoring-code-publish-baseline",
            "serving-scoring-code-sql",
            "serving-scoring-code-train",
            "serving-scoring-code-training-population",
            "serving-scoring-code-training-set",
            "serving-scoring-code-validate-interactions",
            "serving-scoring-code-write-manifest",
            "serving-scoring-pipeline",
            "serving-scoring-role",
            "serving-scoring-role-policy",
            "serving-scoring-schedule-dropped",
            "serving-scoring-schedule-scheduler-role",
            "serving-scoring-schedule-scheduler-role-policy",
            "serving-scoring-schedule-schedules",
            "serving-scoring-schedule-start-schedule",
        ]
    )
    assert fresh.recording.outputs["scoringPipeline"].startswith("not deployed: run `mlkit promote")
    rule = json.loads(
        fresh.recording.named("recsys-fresh-recommendations-alarms-pipeline-failures").inputs[
            "eventPattern"
        ]
    )
    assert rule["detail"]["pipelineArn"] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/recsys-fresh-training"
    ]


# --- table, loader, lookup API ------------------------------------------------------------------


def test_the_table_keeps_prod_data_and_lets_dev_go(dev, prod) -> None:
    for plan, keep in ((dev, False), (prod, True)):
        stack = plan.stack.name
        table = named(plan, f"{stack}-serving-recommendations")
        assert table == {
            "name": f"{stack}-serving-recommendations",
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "pk",
            "rangeKey": "sk",
            "attributes": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            "ttl": {"attributeName": "expires_at", "enabled": True},
            "serverSideEncryption": {"enabled": True, "kmsKeyArn": key_arn(plan)},
            "pointInTimeRecovery": {"enabled": keep},
            "deletionProtectionEnabled": keep,
            "tags": table["tags"],
        }
        resource = plan.recording.named(f"{stack}-serving-recommendations")
        assert (resource.protect, resource.retain_on_delete) == (keep, keep)


def test_loader_and_lookup_hold_exactly_what_their_handlers_call(prod) -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/recsys-prod-serving-recommendations"
    loader = statements(prod, "recsys-prod-serving-loader-role")
    assert loader["ListGenerations"] == {
        "Sid": "ListGenerations",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["arn:aws:s3:::recsys-prod-artifacts-bucket"],
        "Condition": {"StringLike": {"s3:prefix": ["scoring/*"]}},
    }
    assert loader["ReadGenerations"]["Resource"] == [
        "arn:aws:s3:::recsys-prod-artifacts-bucket/scoring/*"
    ]
    assert loader["Table"]["Action"] == [
        "dynamodb:BatchWriteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    assert loader["Table"]["Resource"] == [table]
    # In prod the functions run in the VPC: tests/test_functions_in_vpc.py has those two.
    assert sorted(loader) == [
        "DescribeVpc",
        "Key",
        "ListGenerations",
        "Logs",
        "NotFromFunctionCode",
        "ReadGenerations",
        "Table",
        "Tracing",
        "VpcInterfaces",
    ]
    lookup = statements(prod, "recsys-prod-serving-lookup-role")
    assert lookup["Table"]["Action"] == ["dynamodb:GetItem"]
    assert lookup["Table"]["Resource"] == [table]
    assert sorted(lookup) == [
        "DescribeVpc",
        "Key",
        "Logs",
        "NotFromFunctionCode",
        "Table",
        "Tracing",
        "VpcInterfaces",
    ]
    assert named(prod, "recsys-prod-serving-loader")["environment"] == {
        "variables": {
            "TABLE_NAME": "recsys-prod-serving-recommendations",
            "TOP_N": "20",
            "RETENTION_DAYS": "14",
        }
    }
    # The pipeline's Lambda step waits 120 s: the loader must not outlive it.
    assert named(prod, "recsys-prod-serving-loader")["timeout"] == 120
    assert named(prod, "recsys-prod-serving-lookup")["environment"] == {
        "variables": {
            "TABLE_NAME": "recsys-prod-serving-recommendations",
            "TOP_N": "20",
            "POINTER_CACHE_SECONDS": "60",
        }
    }


def test_the_lookup_route_is_signed_and_only_this_api_invokes_the_function(prod) -> None:
    route = named(prod, "recsys-prod-serving-route")
    assert (route["routeKey"], route["authorizationType"]) == (
        "GET /recommendations/{user_id}",
        "AWS_IAM",
    )
    api_id = route["apiId"]
    assert named(prod, "recsys-prod-serving-invoke") == {
        "action": "lambda:InvokeFunction",
        "function": "recsys-prod-serving-lookup",
        "principal": "apigateway.amazonaws.com",
        "sourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*",
    }
    assert prod.recording.outputs["lookupUrl"].endswith("/recommendations/{user_id}")


# --- alarms ---------------------------------------------------------------------------------------


def test_freshness_fires_when_no_generation_was_published_for_the_window(prod) -> None:
    alarm = named(prod, "recsys-prod-recommendations-alarms-freshness")
    assert {k: alarm[k] for k in (
        "namespace", "metricName", "dimensions", "statistic", "period", "evaluationPeriods",
        "datapointsToAlarm", "comparisonOperator", "threshold", "treatMissingData",
    )} == {
        "namespace": "mlkit/Recommendations",
        "metricName": "GenerationsLoaded",  # what the loader publishes (EMF) on each swap
        "dimensions": {"Table": "recsys-prod-serving-recommendations"},
        "statistic": "Sum",
        "period": 3600,
        "evaluationPeriods": 36,  # recsys-prod: monitoring.freshnessHours
        "datapointsToAlarm": 36,
        "comparisonOperator": "LessThanThreshold",
        "threshold": 1,
        "treatMissingData": "breaching",  # no load at all is the failure it watches for
    }  # fmt: skip


def test_coverage_latency_and_errors_alarm_on_their_own_metrics(prod) -> None:
    coverage = named(prod, "recsys-prod-recommendations-alarms-coverage")
    assert (coverage["metricName"], coverage["statistic"], coverage["threshold"]) == (
        "Coverage",
        "Minimum",
        0.98,  # recsys-prod's monitoring.minCoverage
    )
    assert coverage["treatMissingData"] == "ignore"  # one datapoint a load
    api_id = named(prod, "recsys-prod-serving-route")["apiId"]
    latency = named(prod, "recsys-prod-recommendations-alarms-latency")
    assert (latency["namespace"], latency["metricName"], latency["extendedStatistic"]) == (
        "AWS/ApiGateway",
        "Latency",
        "p99",
    )
    assert (latency["dimensions"], latency["threshold"], latency["evaluationPeriods"]) == (
        {"ApiId": api_id},
        100,
        3,
    )
    errors = named(prod, "recsys-prod-recommendations-alarms-errors")
    assert (errors["metricName"], errors["statistic"], errors["threshold"]) == ("5xx", "Sum", 5)


def test_failed_or_stopped_pipelines_reach_the_alert_topic(prod) -> None:
    rule = named(prod, "recsys-prod-recommendations-alarms-pipeline-failures")
    assert json.loads(rule["eventPattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
        "detail": {
            "currentPipelineExecutionStatus": ["Failed", "Stopped"],
            "pipelineArn": [
                f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/recsys-prod-training",
                f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/recsys-prod-serving-scoring",
            ],
        },
    }
    target = named(prod, "recsys-prod-recommendations-alarms-pipeline-failures-alert")
    assert target["arn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:recsys-prod-observability-alerts"


# --- environments -------------------------------------------------------------------------------


def shape(plan: Plan) -> set[str]:
    stack = plan.stack.name
    return {r.name.removeprefix(stack) for r in plan.recording.resources if r.custom}


def test_dev_differs_from_prod_where_the_profiles_and_stack_files_say(dev, prod) -> None:
    assert sorted(shape(dev) - shape(prod)) == []
    assert sorted(shape(prod) - shape(dev)) == [
        # prod's S3 server access logs: the log bucket and each data bucket's logging
        "-access-logs-bucket",
        "-access-logs-encryption",
        "-access-logs-lifecycle",
        "-access-logs-ownership",
        "-access-logs-policy",
        "-access-logs-public-access-block",
        "-access-logs-versioning",
        "-artifacts-access-logging",
        # prod deploys only signed code: the stack's Signer profile, and per function its
        # code object and signing job
        "-code-signing-config",
        "-code-signing-profile",
        "-code-signing-versioning-wait",  # S3's 15 minutes after enabling versioning
        "-features-offline-access-logging",
        "-materialize-lake-access-logging",
        "-network-athena-endpoint",  # dev runs its Athena jobs outside the VPC
        "-network-endpoint-sg",
        "-network-flow-log",
        "-network-flow-logs",
        "-network-flow-logs-role",
        "-network-flow-logs-role-policy",
        "-network-private-eu-west-1c",
        "-network-private-eu-west-1c-rt",
        "-observability-alerts-email-0",
        "-recommendations-dashboard",  # dev keeps no dashboard
        "-recsys-model-mlflow",  # recsys-dev's stack file turns MLflow off
        "-recsys-model-mlflow-role",
        "-recsys-model-mlflow-role-policy",
        "-serving-loader-code",
        "-serving-loader-signing",
        "-serving-lookup-code",
        "-serving-lookup-signing",
    ]


def test_the_transform_types_a_stack_may_choose_are_those_the_model_declares() -> None:
    from typing import get_args

    from functions.recommendations.pipelines.definition import (
        TRANSFORM_CONCURRENCY,
        TRANSFORM_INSTANCE_TYPES,
    )
    from modules.serving.settings import BatchServingSettings

    field = BatchServingSettings.model_fields["transform_instance_type"]
    assert set(get_args(field.annotation)) == set(TRANSFORM_INSTANCE_TYPES)
    assert set(TRANSFORM_CONCURRENCY) == set(TRANSFORM_INSTANCE_TYPES)
    template = json.loads(Path("functions/recommendations/pipelines/training.json").read_text())
    (register,) = (
        s for s in template["Steps"][4]["Arguments"]["IfSteps"] if s["Type"] == "RegisterModel"
    )
    declared = register["Arguments"]["InferenceSpecification"]["SupportedTransformInstanceTypes"]
    assert declared == list(TRANSFORM_INSTANCE_TYPES)


# --- the drift job on the scored users (with the monitoring image) ---------------------------

MONITORED = Path(__file__).parent / "good_stacks" / "Pulumi.recsys-monitored.yaml"


def test_the_drift_job_compares_the_scored_users_with_the_serving_versions_training_users(
    plan_of,
) -> None:
    plan = plan_of(str(MONITORED))
    bucket = "s3://recsys-monitored-artifacts-bucket"
    package = (
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/recsys-monitored-recsys-model/4"
    )
    population = f"{bucket}/monitoring/populations/recsys-monitored-serving-scoring"
    schedule = named(plan, "recsys-monitored-monitoring-drift-schedule")
    assert schedule["scheduleExpression"] == "cron(0 7 * * ? *)"  # after the 05:00 scoring
    drift = json.loads(schedule["target"]["input"])
    assert drift["windows"] == {"population": 12}
    assert {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in drift["request"]["ProcessingInputs"]
    } == {
        "population": f"{population}/",
        # published by the training run that registered version 4, under its ARN
        "baseline": f"{bucket}/monitoring/baselines/{package}/baseline/",
        "schema": f"{bucket}/monitoring/baselines/{package}/schema/",
    }
    assert drift["request"]["AppSpecification"]["ContainerArguments"] == [
        "--endpoint-name",
        "recsys-monitored-recommendations",
        "--window-hours",
        "12",
        "--drift-threshold",
        "0.2",
        "--min-rows",
        "1000",
        "--current",
        "population",
        "--model-package-arn",
        package,
    ]
    # Where the pipelines write what the job reads: one place each.
    scoring = json.loads(
        named(plan, "recsys-monitored-serving-scoring-pipeline")["pipelineDefinition"]
    )
    training = json.loads(named(plan, "recsys-monitored-training-pipeline")["pipelineDefinition"])
    defaults = {p["Name"]: p.get("DefaultValue") for p in scoring["Parameters"]}
    assert defaults["PopulationS3Uri"] == population
    defaults = {p["Name"]: p.get("DefaultValue") for p in training["Parameters"]}
    assert defaults["MonitoringBaselinesS3Uri"] == f"{bucket}/monitoring/baselines"


def test_the_pipelines_may_write_only_the_population_and_the_baselines(plan_of) -> None:
    plan = plan_of(str(MONITORED))
    artifacts = "arn:aws:s3:::recsys-monitored-artifacts-bucket"
    scoring = statements(plan, "recsys-monitored-serving-scoring-role")["ScoredPopulation"]
    assert scoring == {
        "Sid": "ScoredPopulation",
        "Effect": "Allow",
        "Action": ["s3:DeleteObject", "s3:PutObject"],
        "Resource": [f"{artifacts}/monitoring/populations/recsys-monitored-serving-scoring/*"],
    }
    training = statements(plan, "recsys-monitored-training-role")["MonitoringBaselines"]
    assert training == {
        "Sid": "MonitoringBaselines",
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": [f"{artifacts}/monitoring/baselines/*"],
    }


def test_the_scored_users_drift_alarms_notify_and_nothing_else_is_monitored(plan_of) -> None:
    plan = plan_of(str(MONITORED))
    features = [name for name, _ in POPULATION_FEATURES]
    alarms = {
        r.name: r.inputs
        for r in plan.recording.resources
        if r.name.startswith("recsys-monitored-monitoring-drift")
        and r.type.startswith("aws:cloudwatch/")
    }
    assert sorted(alarms) == sorted(
        [
            "recsys-monitored-monitoring-drift",
            "recsys-monitored-monitoring-drift-blind",
            *(f"recsys-monitored-monitoring-drift-{f.replace('_', '-')}" for f in features),
        ]
    )
    topic = "arn:aws:sns:eu-west-1:123456789012:recsys-monitored-observability-alerts"
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert plan.recording.outputs["driftAlarm"] == "recsys-monitored-recommendations-drift"
    names = {r.name for r in plan.recording.resources}
    assert "recsys-monitored-monitoring-quality-schedule" not in names
    assert "recsys-monitored-monitoring-auc" not in names
    # No retraining trigger: a recommender retrains weekly, right before it matters.
    assert not any("retraining" in name for name in names)


def test_without_the_image_the_recommender_says_how_to_get_the_drift_job(prod) -> None:
    assert prod.recording.outputs["monitoring"] == NO_MONITORING_JOBS
    assert not prod.recording.of_type("mlkit:monitoring:MonitoringJobs")


def test_prod_reserves_concurrency_for_the_lookup_only(prod, dev) -> None:
    functions = {
        r.name: r.inputs.get("reservedConcurrentExecutions")
        for r in prod.recording.of_type("aws:lambda/function:Function")
    }
    assert functions == {"recsys-prod-serving-loader": None, "recsys-prod-serving-lookup": 50}
    assert not any(
        "reservedConcurrentExecutions" in r.inputs
        for r in dev.recording.of_type("aws:lambda/function:Function")
    )
