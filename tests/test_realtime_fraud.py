"""The realtime-fraud blueprint as a whole: what prod holds, how dev differs, the fresh-account
path, that the scoring API's schema is one the handler accepts, and that each component is
built by the backend its setting names."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pulumi
import pytest
import yaml

from blueprints._base import NO_MONITORING_JOBS
from blueprints.realtime_fraud import NO_CAPTURE
from functions.scoring.handler import validate_schema
from mlkit.plan import plan_stack
from mlkit.settings import ConfigError
from modules import feature_store, metadata, monitoring, serving, training
from modules.platform import Platform

MODEL_MONITOR = re.compile(r"monitoringSchedule|JobDefinition")
MONITORED = Path(__file__).parent / "good_stacks" / "Pulumi.fraud-monitored.yaml"
MONITORED_IMAGE = yaml.safe_load(MONITORED.read_text())["config"]["mlkit:monitoring"]["jobImage"]


def by_type(plan, type_):
    return plan.recording.of_type(type_)


def test_prod_has_the_whole_serving_path(plan_of) -> None:
    plan = plan_of("fraud-prod")
    groups = {
        g.inputs["featureGroupName"]: g.inputs
        for g in by_type(plan, "aws-native:sagemaker:FeatureGroup")
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
    # No SageMaker Model Monitor (closed to new customers): the kit's own jobs need their
    # image, which fraud-prod does not set yet; plan says so, and deploys the rest.
    assert not [r for r in plan.recording.resources if MODEL_MONITOR.search(r.type)]
    assert plan.recording.outputs["monitoring"] == NO_MONITORING_JOBS
    assert plan.recording.of_type("mlkit:monitoring:MonitoringJobs") == []
    assert [
        (v.policy, v.urn.rsplit("::", 1)[-1], v.enforcement)
        for v in plan.policies.violations
        if v.policy == "aws-sagemaker-endpoint-capture-monitored"
    ] == [("aws-sagemaker-endpoint-capture-monitored", "fraud-prod-serving-config", "advisory")]
    # The retraining trigger is there already, listening to the jobs' alarms by name.
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
    monitoring = {name for name in shape(prod) if name.startswith("-retraining")}
    only_prod = sorted(set(shape(prod)) - set(shape(dev)) - monitoring)
    only_dev = sorted(set(shape(dev)) - set(shape(prod)))
    assert only_dev == []
    assert only_prod == [
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
        "-fraud-dashboard",  # dev keeps no dashboard: $3/month beyond an account's first three
        "-ingestion-aggregator-code",
        "-ingestion-aggregator-signing",
        "-network-athena-endpoint",  # dev runs its Athena job outside the VPC
        "-network-endpoint-sg",  # ... so it has no interface endpoint to guard
        "-network-flow-log",
        "-network-flow-logs",
        "-network-flow-logs-role",
        "-network-flow-logs-role-policy",
        "-network-private-eu-west-1c",
        "-network-private-eu-west-1c-rt",
        # prod's functions run in the VPC: endpoints for what they call
        "-network-sagemaker-api-endpoint",
        "-network-sagemaker-featurestore-runtime-endpoint",
        "-network-sagemaker-runtime-endpoint",
        "-network-sqs-endpoint",
        "-observability-alerts-email-0",
        "-observability-sagemaker-processingjobs",  # fraud-prod makes the account's job logs
        "-observability-sagemaker-trainingjobs",
        "-scoring-scoring-code",
        "-scoring-scoring-signing",
        "-serving-scaling-policy",
        "-serving-scaling-target",
    ]
    # Monitoring needs captured data, which serverless endpoints cannot give: dev has no
    # retraining trigger, and says why.
    assert sorted(monitoring) == [
        "-retraining-guard",
        "-retraining-guard-async",  # EventBridge invokes it: failed events go to a queue
        "-retraining-guard-code",
        "-retraining-guard-failed-events",
        "-retraining-guard-failed-events-alarm",
        "-retraining-guard-logs",
        "-retraining-guard-role",
        "-retraining-guard-role-policy",
        "-retraining-guard-signing",
        "-retraining-invoke",
        "-retraining-rule",
        "-retraining-target",
    ]
    assert dev.recording.outputs["monitoring"] == NO_CAPTURE
    # Same names, different capacity and durability.
    assert shape(dev)["-fraud-model-mlflow"] == shape(prod)["-fraud-model-mlflow"]
    dev_variant = by_type(dev, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    assert "serverlessConfig" in dev_variant.inputs["productionVariants"][0]
    assert "dataCaptureConfig" not in dev_variant.inputs
    assert not any(r.protect for r in dev.recording.resources)
    assert by_type(dev, "aws:kinesis/stream:Stream")[0].inputs["shardCount"] == 1
    # Prod has only the interface endpoints its VPC workloads call (the data-set build's, and
    # its functions': tests/test_functions_in_vpc.py); dev runs both outside the VPC.
    prod_endpoints = ["athena", "sagemaker.api", "sagemaker.featurestore-runtime"]
    prod_endpoints += ["sagemaker.runtime", "sqs"]
    for plan, expected in (
        (dev, []),
        (prod, [f"com.amazonaws.eu-west-1.{service}" for service in prod_endpoints]),
    ):
        endpoints = by_type(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")
        assert (
            sorted(
                e.inputs["serviceName"]
                for e in endpoints
                if e.inputs["vpcEndpointType"] == "Interface"
            )
            == expected
        )
    # Prod traces its functions (X-Ray); dev does not pay for it.
    for plan, mode in ((dev, "PassThrough"), (prod, "Active")):
        functions = by_type(plan, "aws:lambda/function:Function")
        assert functions and {f.inputs["tracingConfig"]["mode"] for f in functions} == {mode}
    prod_variant = by_type(prod, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    assert prod_variant.inputs["productionVariants"][0]["instanceType"] == "ml.c5.large"


def test_with_the_image_prod_monitors_the_serving_versions_capture(plan_of) -> None:
    plan = plan_of(str(MONITORED))
    named = {r.name: r for r in plan.recording.resources}
    [component] = plan.recording.of_type("mlkit:monitoring:MonitoringJobs")
    assert component.name == "fraud-monitored-monitoring"
    endpoint = "fraud-monitored-fraud"
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud-monitored-fraud-model/3"
    bucket = "s3://fraud-monitored-artifacts-bucket"
    config = by_type(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    destination = config.inputs["dataCaptureConfig"]["destinationS3Uri"]
    drift = json.loads(named[f"{component.name}-drift-schedule"].inputs["target"]["input"])
    assert {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in drift["request"]["ProcessingInputs"]
    } == {
        # where SageMaker writes the endpoint's capture: <destination>/<endpoint>/<variant>/
        "capture": f"{destination}/{endpoint}/primary/",
        # the baseline of the version that serves (serving.modelVersion 3), not the last run's
        "baseline": f"{bucket}/monitoring/baselines/{package}/baseline/",
        "schema": f"{bucket}/monitoring/baselines/{package}/schema/",
    }
    arguments = drift["request"]["AppSpecification"]["ContainerArguments"]
    assert arguments == [
        "--endpoint-name",
        endpoint,
        "--window-hours",
        "24",
        "--drift-threshold",
        "0.15",
        "--min-rows",
        "1000",
        "--model-package-arn",
        package,
    ]
    assert drift["request"]["AppSpecification"]["ImageUri"] == MONITORED_IMAGE
    quality = json.loads(named[f"{component.name}-quality-schedule"].inputs["target"]["input"])
    labels = quality["request"]["ProcessingInputs"][1]["S3Input"]["S3Uri"]
    assert labels == f"{bucket}/ground-truth/monitoring/"
    min_auc = quality["request"]["AppSpecification"]["ContainerArguments"][9]
    assert float(min_auc) == plan.settings.training.auc_threshold  # the training gate
    features = plan.recording.outputs["modelInputSchema"]["order"]
    drift_alarms = [
        r.inputs["name"]
        for r in by_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")
        if r.inputs["metricName"] == "FeatureDrift"
    ]
    assert sorted(drift_alarms) == sorted(f"{endpoint}-drift-{f}" for f in features)
    # Results are logged to the stack's MLflow app too (the recorder's ARN for it is its own).
    [mlflow] = by_type(plan, "aws:sagemaker/mlflowApp:MlflowApp")
    publisher = named[f"{component.name}-publisher"].inputs["environment"]["variables"]
    assert publisher["MLFLOW_ARN"].endswith(f":{mlflow.name}")
    statements = json.loads(named[f"{component.name}-publisher-role-policy"].inputs["policy"])
    assert {"Sid": "Mlflow", "Effect": "Allow", "Action": ["sagemaker:CallMlflowAppApi"]} | {
        "Resource": [publisher["MLFLOW_ARN"]]
    } in statements["Statement"]
    four_xx = named["fraud-monitored-endpoint-alarms-4xx"].inputs
    assert (four_xx["threshold"], four_xx["metricName"]) == (2, "Invocation4XXErrors")
    rule = json.loads(named["fraud-monitored-retraining-rule"].inputs["eventPattern"])
    assert rule["detail"]["alarmName"] == [f"{endpoint}-drift", f"{endpoint}-model-quality"]
    assert plan.recording.outputs["monitoring"] == (
        "kit-jobs: drift cron(0 * * * ? *), quality cron(0 3 * * ? *) (UTC)"
    )
    assert plan.policies.mandatory == []
    assert [v.policy for v in plan.policies.violations] == ["aws-glue-data-catalog-encryption"]
    # The retraining trigger is the one fraud-prod has without the image: same names.
    assert {r.name.replace("fraud-monitored", "") for r in plan.recording.resources}.issuperset(
        r.name.replace("fraud-prod", "")
        for r in plan_of("fraud-prod").recording.resources
        if r.name.startswith("fraud-prod-retraining")
    )


def test_a_monitoring_image_from_another_region_is_refused(tmp_path: Path) -> None:
    stack = yaml.safe_load(MONITORED.read_text())
    image = MONITORED_IMAGE.replace(".eu-west-1.", ".us-east-1.")
    stack["config"]["mlkit:monitoring"]["jobImage"] = image
    path = tmp_path / "Pulumi.fraud-elsewhere.yaml"
    path.write_text(yaml.safe_dump(stack))
    with pytest.raises(ConfigError) as error:
        plan_stack(str(path))
    assert error.value.problems == [
        (
            "mlkit:monitoring.jobImage",
            "the image is in us-east-1, the stack in eu-west-1: push it to the stack's region "
            "(or replicate it there)",
        )
    ]


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
    assert "aws-native:sagemaker:FeatureGroup" in types
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
    # Nothing is marked required: a customer without a profile is scored with missing values.
    assert cards["required"] == customers["required"] == []
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
        "{stack}-monitoring",
        lambda args: {"drift_alarm_name": "fake-drift", "quality_alarm_name": "fake-quality"},
        ["mlkit:monitoring:MonitoringJobs"],
    ),
}


@pytest.fixture(scope="module")
def planned_with_fakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict]:
    """fraud-prod with every role's backend set to a registered fake, planned once: the
    fakes are independent, so one plan shows each role built from its own setting."""
    calls: dict[str, list] = {role: [] for role in ROLES}
    registered = []
    stack = yaml.safe_load(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    stack["config"].setdefault("mlkit:monitoring", {})["jobImage"] = MONITORED_IMAGE
    # and a setting that reaches the store's own args (FeatureStoreArgs.adopt_existing)
    stack["config"].setdefault("mlkit:featureStore", {})["adoptExisting"] = True
    try:
        for role, (package, registry_name, section, _, outputs, _) in ROLES.items():
            registry = getattr(package, registry_name)

            def fake(name, platform, args, opts=None, calls=calls[role], outputs=outputs):
                return FakeBackend(name, platform, args, opts, calls=calls, outputs=outputs)

            registry.register("fake", "a test double")(fake)
            registered.append(registry)
            stack["config"].setdefault(f"mlkit:{section}", {})["backend"] = "fake"
        path = tmp_path_factory.mktemp("fakes") / "Pulumi.fraud-fake.yaml"
        path.write_text(yaml.safe_dump(stack))
        plan = plan_stack(str(path))
    finally:
        for registry in registered:
            registry.unregister("fake")
    return plan, calls


@pytest.mark.parametrize("role", ROLES)
def test_the_blueprint_builds_the_backend_its_setting_names(planned_with_fakes, role: str) -> None:
    _, _, _, component_name, _, default_types = ROLES[role]
    plan, calls = planned_with_fakes
    [(name, platform, args)] = calls[role]
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
    assert name in [r.name for r in plan.recording.of_type("mlkit:test:FakeBackend")]
    for default_type in default_types:  # the default backend is not built
        assert plan.recording.of_type(default_type) == []
    if role == "store":
        assert args.adopt_existing is True


def test_a_customer_without_a_profile_gets_the_same_model_input_in_training_and_serving(
    plan_of, monkeypatch
) -> None:
    """Parity for missing slow-moving features, end to end from fraud-prod's own schemas: the
    training-set SQL (on DuckDB, as tests/functions/test_dataset_sql.py runs it) over an
    offline store where the customer has no profile record, and the scoring handler for the
    same transaction with no online profile record, give the same model input line."""
    import duckdb
    from botocore.stub import Stubber

    from functions.scoring import handler as scoring
    from tests.functions.test_dataset_sql import TEMPLATE, TRINO_MACROS, build_dataset

    plan = plan_of("fraud-prod")
    serving_schema = plan.recording.outputs["modelInputSchema"]
    training_schema = json.loads(
        next(
            r for r in plan.recording.resources if r.name == "fraud-prod-training-feature-schema"
        ).inputs["content"]
    )
    card = {
        "card_id": "c1",
        "event_time": "2024-04-25T09:59:00.000Z",
        "txn_count_10m": 2,
        "txn_amount_10m": 40.5,
        "txn_count_1h": 3,
        "txn_amount_1h": 61.25,
        "txn_count_24h": 7,
        "txn_amount_24h": 310.0,
    }
    transaction = {
        "transaction_id": "t1",
        "card_id": "c1",
        "customer_id": "u1",  # no profile record, offline or online
        "merchant_id": "m1",
        "merchant_category": "5411",
        "amount": 125.5,
        "currency": "EUR",
        "channel": "online",
        "event_time": "2024-04-25T10:00:00.000Z",
    }
    other_profile = {  # another customer's profile: the join runs, it just finds nothing
        "customer_id": "u2",
        "event_time": "2024-04-01T00:00:00.000Z",
        "account_age_days": 400,
        "home_country": "FR",
        "avg_monthly_spend": 850.0,
        "chargebacks_12m": 0,
    }
    rows = {"transactions": [transaction], "card_aggregates": [card]}
    rows["customer_profile"] = [other_profile]

    # Training: the offline store as Feature Store lays it out, the query build_dataset renders.
    sql_types = {"string": "VARCHAR", "integral": "BIGINT", "fractional": "DOUBLE"}
    connection = duckdb.connect(config={"threads": 1})
    connection.execute("SET TimeZone = 'UTC'")
    for macro in TRINO_MACROS:
        connection.execute(macro)
    connection.execute('CREATE SCHEMA "features"')
    connection.execute('CREATE SCHEMA "truth"')
    for group in training_schema["featureGroups"]:
        columns = {f["name"]: sql_types[f["type"]] for f in group["features"]}
        columns |= {"write_time": "TIMESTAMP", "api_invocation_time": "TIMESTAMP"}
        columns |= {"is_deleted": "BOOLEAN"}
        table = f'"features"."{group["name"]}"'
        connection.execute(
            f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})"
        )
        for row in rows[group["name"]]:
            values = [row.get(name) for name in list(columns)[:-3]]
            values += ["2024-04-25 10:05:00", "2024-04-25 10:05:00", False]
            marks = ", ".join("?" for _ in values)
            connection.execute(f"INSERT INTO {table} VALUES ({marks})", values)
    connection.execute(
        'CREATE TABLE "truth"."labels" (transaction_id VARCHAR, is_fraud VARCHAR, "$path" VARCHAR)'
    )
    connection.execute("""INSERT INTO "truth"."labels" VALUES ('t1', '0', 's3://l/1.csv')""")
    tables = build_dataset.Tables(
        "features",
        {g["name"]: g["name"] for g in training_schema["featureGroups"]},
        "truth",
        "labels",
    )
    window = build_dataset.Window.before(datetime(2024, 5, 1, tzinfo=UTC), 10)
    query = build_dataset.render_training_set(TEMPLATE, training_schema, tables, window)
    lines = {part: line for line, part in connection.execute(query).fetchall()}
    assert set(lines) == {"train", "baseline"}
    assert lines["train"] == "0," + lines["baseline"]

    # Serving: the same transaction through the scoring handler, no online profile record.
    monkeypatch.setenv("MODEL_SCHEMA", json.dumps(serving_schema))
    monkeypatch.setenv("ENDPOINT_NAME", "fraud-prod-fraud")
    monkeypatch.setenv("MODEL_PACKAGE_ARN", "arn:aws:sagemaker:eu-west-1:1:model-package/g/1")
    schema = scoring.load_settings(dict(os.environ)).schema
    store = boto3.client("sagemaker-featurestore-runtime", region_name="eu-west-1")
    monkeypatch.setattr(scoring, "_featurestore", lambda: store)
    cards, customers = serving_schema["lookups"]
    with Stubber(store) as stubber:
        names = [f["name"] for f in cards["features"]]
        stubber.add_response(
            "get_record",
            {"Record": [{"FeatureName": n, "ValueAsString": str(card[n])} for n in names]},
            {
                "FeatureGroupName": cards["featureGroup"],
                "RecordIdentifierValueAsString": "c1",
                "FeatureNames": names,
            },
        )
        stubber.add_response(
            "get_record",
            {},  # no record for the customer
            {
                "FeatureGroupName": customers["featureGroup"],
                "RecordIdentifierValueAsString": "u1",
                "FeatureNames": [f["name"] for f in customers["features"]],
            },
        )
        event = {"body": json.dumps({"amount": 125.5, "card_id": "c1", "customer_id": "u1"})}
        request = scoring.parse_request(event, schema)
        looked_up, defaulted, missing = scoring.fetch_features(request, schema)
        stubber.assert_no_pending_responses()
    known = {**request, **looked_up}
    body = scoring.to_csv([known[name] for name in schema.order])

    assert missing == ["account_age_days", "avg_monthly_spend", "chargebacks_12m"]
    assert defaulted == []
    assert body == lines["baseline"] == "125.5,2,40.5,3,61.25,7,310.0,,,"


def test_prod_reserves_concurrency_for_the_scoring_api_only(plan_of) -> None:
    reserved = {
        stack: {
            r.name: r.inputs["reservedConcurrentExecutions"]
            for r in plan_of(stack).recording.of_type("aws:lambda/function:Function")
            if "reservedConcurrentExecutions" in r.inputs
        }
        for stack in ("fraud-dev", "fraud-staging", "fraud-prod")
    }
    # The aggregator keeps its concurrency free: it needs one per shard and parallel batch.
    assert reserved == {
        "fraud-dev": {},
        "fraud-staging": {},
        "fraud-prod": {"fraud-prod-scoring-scoring": 50},
    }
