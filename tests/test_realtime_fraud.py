"""The realtime-fraud blueprint as a whole: what prod holds, how dev differs, the fresh-account
path, that the scoring API's schema is one the handler accepts, and that each component is
built by the backend its setting names."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from functions.scoring.handler import validate_schema
from mlkit.plan import plan_stack
from modules import feature_store, metadata, monitoring, serving, training
from modules.platform import Platform


def by_type(plan, type_):
    return plan.recording.of_type(type_)


def test_prod_has_the_whole_serving_path(plan_of) -> None:
    plan = plan_of("fraud-prod")
    groups = {
        g.inputs["featureGroupName"]: g.inputs
        for g in by_type(plan, "aws:sagemaker/featureGroup:FeatureGroup")
    }
    cards = groups["fraud-prod-features-card-aggregates"]
    assert cards["onlineStoreConfig"]["enableOnlineStore"] is True
    assert cards["offlineStoreConfig"]["tableFormat"] == "Iceberg"
    assert by_type(plan, "aws:kinesis/stream:Stream")[0].inputs["streamModeDetails"] == {
        "streamMode": "ON_DEMAND"
    }
    config = by_type(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0].inputs
    assert config["productionVariants"][0]["initialInstanceCount"] == 2
    assert config["dataCaptureConfig"]["initialSamplingPercentage"] == 20
    target = by_type(plan, "aws:appautoscaling/target:Target")[0].inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)
    assert len(by_type(plan, "aws:appautoscaling/policy:Policy")) == 1
    # Serverless MLflow: a tracking server would add ~25 minutes to the first deployment.
    assert len(by_type(plan, "aws:sagemaker/mlflowApp:MlflowApp")) == 1
    alarms = {a.inputs["name"] for a in by_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"fraud-prod-fraud-latency-p99", "fraud-prod-fraud-5xx"} <= alarms
    rollback = by_type(plan, "aws:sagemaker/endpoint:Endpoint")[0].inputs["deploymentConfig"]
    assert rollback["autoRollbackConfiguration"]["alarms"] == [
        {"alarmName": "fraud-prod-fraud-latency-p99"},
        {"alarmName": "fraud-prod-fraud-5xx"},
    ]
    assert plan.recording.outputs["scoreUrl"].endswith("/score")
    schedule = by_type(plan, "aws:sagemaker/monitoringSchedule:MonitoringSchedule")[0].inputs
    assert schedule["monitoringScheduleConfig"]["monitoringType"] == "DataQuality"
    job = by_type(plan, "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition")[0]
    assert job.inputs["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"] == (
        "s3://fraud-prod-artifacts-bucket/training/monitoring-baseline/statistics.json"
    )
    rule = json.loads(
        next(r for r in plan.recording.resources if r.name == "fraud-prod-retraining-rule").inputs[
            "eventPattern"
        ]
    )
    assert rule["detail"]["alarmName"] == [
        "fraud-prod-fraud-drift",
        "fraud-prod-fraud-model-quality",
    ]
    guard = next(r for r in plan.recording.resources if r.name == "fraud-prod-retraining-guard")
    assert guard.inputs["environment"]["variables"] == {
        "PIPELINE_NAME": "fraud-prod-training",
        "MIN_INTERVAL_HOURS": "24.0",
    }


def shape(plan) -> dict[str, str]:
    """name (without the stack prefix) -> type, for every cloud resource."""
    stack = plan.stack.name
    return {r.name.removeprefix(stack): r.type for r in plan.recording.resources if r.custom}


def test_dev_differs_from_prod_where_the_profiles_say(plan_of) -> None:
    dev, prod = plan_of("fraud-dev"), plan_of("fraud-prod")
    monitoring = {
        name
        for name in shape(prod)
        if name.startswith(("-data-quality", "-model-quality", "-retraining"))
    }
    only_prod = sorted(set(shape(prod)) - set(shape(dev)) - monitoring)
    only_dev = sorted(set(shape(dev)) - set(shape(prod)))
    assert only_dev == []
    assert only_prod == [
        "-fraud-dashboard",  # dev keeps no dashboard: $3/month beyond an account's first three
        "-network-ecr-api-endpoint",
        "-network-ecr-dkr-endpoint",
        "-network-endpoint-sg",
        "-network-flow-log",
        "-network-flow-logs",
        "-network-flow-logs-role",
        "-network-flow-logs-role-policy",
        "-network-logs-endpoint",
        "-network-private-eu-west-1c",
        "-network-private-eu-west-1c-rt",
        "-network-sagemaker-api-endpoint",
        "-network-sagemaker-runtime-endpoint",
        "-network-sts-endpoint",
        "-observability-alerts-email-0",
        "-serving-scaling-policy",
        "-serving-scaling-target",
    ]
    # Drift monitoring needs captured data, which serverless endpoints cannot give.
    assert sorted(monitoring) == sorted(
        [
            "-data-quality-job",
            "-data-quality-schedule",
            "-data-quality-drift",
            "-data-quality-role",
            "-data-quality-role-policy",
            "-retraining-guard",
            "-retraining-guard-logs",
            "-retraining-guard-role",
            "-retraining-guard-role-policy",
            "-retraining-rule",
            "-retraining-target",
            "-retraining-invoke",
            "-model-quality-job",
            "-model-quality-schedule",
            "-model-quality-auc",
            "-model-quality-role",
            "-model-quality-role-policy",
            "-model-quality-aws-native",
        ]
        + [
            f"-data-quality-drift-{f.replace('_', '-')}"
            for f in prod.recording.outputs["modelInputSchema"]["order"]
        ]
    )
    # Same names, different capacity and durability.
    assert shape(dev)["-fraud-model-mlflow"] == shape(prod)["-fraud-model-mlflow"]
    dev_variant = by_type(dev, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    assert "serverlessConfig" in dev_variant.inputs["productionVariants"][0]
    assert "dataCaptureConfig" not in dev_variant.inputs
    assert not any(r.protect for r in dev.recording.resources)
    assert by_type(dev, "aws:kinesis/stream:Stream")[0].inputs["shardCount"] == 1


def test_fresh_account_deploys_without_endpoint_and_says_so(tmp_path: Path) -> None:
    stack = yaml.safe_load(Path("stacks/Pulumi.fraud-dev.yaml").read_text())
    del stack["config"]["mlkit:serving"]
    path = tmp_path / "Pulumi.fraud-fresh.yaml"
    path.write_text(yaml.safe_dump(stack))
    plan = plan_stack(str(path))
    types = {r.type for r in plan.recording.resources}
    for absent in (
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/model:Model",
        "aws:apigatewayv2/api:Api",
    ):
        assert absent not in types
    assert "aws:sagemaker/featureGroup:FeatureGroup" in types
    assert plan.recording.outputs["endpoint"] == (
        "not deployed: run `mlkit promote STACK VERSION` with an Approved version of the "
        "model package group (it sets mlkit:serving.modelVersion)"
    )


def test_published_schema_is_one_the_scoring_handler_accepts(plan_of) -> None:
    for stack in ("fraud-dev", "fraud-staging", "fraud-prod"):
        schema = plan_of(stack).recording.outputs["modelInputSchema"]
        validate_schema(schema)
        function = next(
            r for r in plan_of(stack).recording.resources if r.name == f"{stack}-scoring-scoring"
        )
        assert json.loads(function.inputs["environment"]["variables"]["MODEL_SCHEMA"]) == schema


def test_schema_is_derived_from_the_feature_groups(plan_of) -> None:
    schema = plan_of("fraud-dev").recording.outputs["modelInputSchema"]
    assert schema["request"] == [
        {"name": "amount", "type": "fractional"},
        {"name": "card_id", "type": "string"},
        {"name": "customer_id", "type": "string"},
    ]
    cards, customers = schema["lookups"]
    assert (cards["featureGroup"], cards["key"]) == (
        "fraud-dev-features-card-aggregates",
        "card_id",
    )
    assert cards["defaults"] == {
        "txn_amount_10m": 0.0,
        "txn_amount_1h": 0.0,
        "txn_amount_24h": 0.0,
        "txn_count_10m": 0,
        "txn_count_1h": 0,
        "txn_count_24h": 0,
    }
    assert customers["defaults"] == {}
    assert schema["order"][0] == "amount"


def test_training_and_serving_read_the_same_features_with_the_same_defaults(plan_of) -> None:
    plan = plan_of("fraud-prod")
    serving = plan.recording.outputs["modelInputSchema"]
    training = json.loads(
        next(
            r for r in plan.recording.resources if r.name == "fraud-prod-training-feature-schema"
        ).inputs["content"]
    )
    assert training["order"] == serving["order"]
    training_defaults = {
        f["name"]: f["default"]
        for group in training["featureGroups"]
        for f in group["features"]
        if "default" in f
    }
    serving_defaults = {
        k: v for lookup in serving["lookups"] for k, v in lookup["defaults"].items()
    }
    assert training_defaults == serving_defaults
    assert set(serving_defaults) == {
        f"txn_{kind}_{window}" for kind in ("count", "amount") for window in ("10m", "1h", "24h")
    }


class FakeBackend(pulumi.ComponentResource):
    """A backend for the tests: records how it was called and gives its role's outputs as
    constants (`outputs(args)`)."""

    def __init__(self, name, platform, args, opts=None, *, calls, outputs) -> None:
        super().__init__("mlkit:test:FakeBackend", name, None, opts)
        calls.append((name, platform, args))
        for attribute, value in outputs(args).items():
            setattr(self, attribute, value)
        self.register_outputs({})


def store_outputs(args) -> dict:
    return {
        "group_names": {g.name: f"fake-{g.name}" for g in args.groups},
        "group_arns": {
            g.name: f"arn:aws:sagemaker:eu-west-1:1:feature-group/{g.name}" for g in args.groups
        },
        "offline_bucket_name": "fake-offline",
        "offline_s3_uri": "s3://fake-offline/offline-store",
        "catalog_database": "fake_catalog",
        "registry": {"featureGroups": []},
    }


# role -> (component package, registry, stack-file section, component name, contract outputs,
# components of the default backend)
ROLES = {
    "store": (
        feature_store,
        "BACKENDS",
        "featureStore",
        "{stack}-features",
        store_outputs,
        ["mlkit:feature_store:FeatureStore"],
    ),
    "ingestion": (
        feature_store,
        "INGESTION_BACKENDS",
        "streaming",
        "{stack}-ingestion",
        lambda args: {
            "stream_name": "fake-stream",
            "stream_arn": "arn:aws:kinesis:eu-west-1:1:stream/fake-stream",
            "function_name": "fake-aggregator",
            "dead_letter_queue_url": "https://sqs.eu-west-1.amazonaws.com/1/fake-dlq",
            "dead_letter_queue_name": "fake-dlq",
        },
        ["mlkit:feature_store:StreamingIngestion"],
    ),
    "registry": (
        metadata,
        "BACKENDS",
        "metadata",
        "{stack}-fraud-model",
        lambda args: {
            "model_package_group_name": "fake-group",
            "model_package_group_arn": "arn:aws:sagemaker:eu-west-1:1:model-package-group/fake",
            "mlflow_arn": None,
        },
        ["mlkit:metadata:Metadata"],
    ),
    "pipeline": (
        training,
        "BACKENDS",
        "training",
        "{stack}-training",
        lambda args: {
            "pipeline_name": "fake-pipeline",
            "pipeline_arn": "arn:aws:sagemaker:eu-west-1:1:pipeline/fake-pipeline",
            "repository_url": "1.dkr.ecr.eu-west-1.amazonaws.com/fake",
        },
        ["mlkit:training:Training"],
    ),
    "endpoint": (
        serving,
        "BACKENDS",
        "serving",
        "{stack}-serving",
        lambda args: {
            "endpoint_name": "fake-endpoint",
            "endpoint_arn": "arn:aws:sagemaker:eu-west-1:1:endpoint/fake-endpoint",
            "data_capture_uri": "s3://fake/data-capture",
        },
        ["mlkit:serving:RealtimeEndpoint"],
    ),
    "signal": (
        monitoring,
        "BACKENDS",
        "monitoring",
        "{stack}",
        lambda args: {"drift_alarm_name": "fake-drift", "quality_alarm_name": "fake-quality"},
        ["mlkit:monitoring:DataQualityMonitoring", "mlkit:monitoring:ModelQualityMonitoring"],
    ),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_blueprint_builds_the_backend_its_setting_names(tmp_path: Path, role: str) -> None:
    package, registry_name, section, component_name, outputs, default_types = ROLES[role]
    registry = getattr(package, registry_name)
    calls: list = []

    @registry.register("fake", "a test double")
    def fake(name, platform, args, opts=None):
        return FakeBackend(name, platform, args, opts, calls=calls, outputs=outputs)

    try:
        stack = yaml.safe_load(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
        stack["config"].setdefault(f"mlkit:{section}", {})["backend"] = "fake"
        path = tmp_path / "Pulumi.fraud-fake.yaml"
        path.write_text(yaml.safe_dump(stack))
        plan = plan_stack(str(path))
    finally:
        registry.unregister("fake")
    [(name, platform, args)] = calls
    assert name == component_name.format(stack="fraud-fake")
    assert isinstance(platform, Platform)
    assert (platform.stack, platform.region, platform.durability.protect) == (
        "fraud-fake",
        "eu-west-1",
        True,
    )
    assert platform.tags["mlkit:blueprint"] == "realtime-fraud"
    # The component's args carry only what is its own; the platform carries the rest.
    platform_fields = {"account_id", "region", "kms_key_arn", "durability", "subnet_ids"}
    assert not platform_fields & set(vars(args))
    assert [r.name for r in plan.recording.of_type("mlkit:test:FakeBackend")] == [name]
    for default_type in default_types:  # the default backend is not built
        assert plan.recording.of_type(default_type) == []
