"""Cost, rule by rule: every priced type has a hand-computed case, idle (no traffic, nothing
stored) and at a declared load, through the estimate's own entry point (`estimate_cost`).

Expected figures are written out from the pricing rule (as the docs and cost.py's comments
state it) times the prices read from the shipped table, never by calling the rule itself.
The usage assumptions cost.py states (0.1 s per scoring request, 100 events per aggregator
call, ...) are written here as numbers on purpose: changing one changes the estimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from mlkit.cost import FREE_TYPES, RULES, estimate_cost, load_prices
from mlkit.recording import RecordedResource
from mlkit.settings import LoadSettings

HOURS = 730  # hoursPerMonth of the price table
SECONDS = HOURS * 3600  # 2,628,000 seconds in a priced month

# The load the "at load" figures are priced at; the idle load has no traffic and no data.
LOAD = LoadSettings(
    requests_per_second=2,
    events_per_second=3,
    event_kb=30,  # two 25 KB Kinesis PUT payload units per event
    training_runs_per_month=2,
    training_hours_per_run=1.5,
    stored_gb=100,
    log_gb_per_month=12,
    scored_users=5000,
    scoring_runs_per_month=30,
    scoring_hours_per_run=0.75,
)
IDLE = LoadSettings(
    requests_per_second=0,
    events_per_second=0,
    training_runs_per_month=0,
    training_hours_per_run=0,
    stored_gb=0,
    log_gb_per_month=0,
    scored_users=0,
    scoring_runs_per_month=0,
    scoring_hours_per_run=0,
)
REQUESTS = 2 * SECONDS  # 5,256,000 scoring requests a month at LOAD
EVENTS = 3 * SECONDS  # 7,884,000 events a month at LOAD
REGIONS = ("eu-west-1", "us-east-1")


def resource(type_: str, name: str = "r", /, **inputs) -> RecordedResource:
    return RecordedResource(
        f"urn:pulumi:s::mlkit::{type_}::{name}", type_, name, None, True, False, False, (), inputs
    )


def price(key: str, region: str) -> float:
    """A price as the shipped table states it (read from the YAML, not from a rule)."""
    return float(load_prices().entries[key]["usd"][region])


@dataclass
class Case:
    """A small recording and the hand-computed monthly (fixed, usage) of one of its
    resources (`name`), idle and at LOAD, in a region."""

    resources: list[RecordedResource]
    idle: tuple[float, float]
    at_load: tuple[float, float]
    name: str = "r"
    others: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Expected (fixed, usage) at LOAD of the recording's other priced resources."""


def kms(region: str) -> Case:
    key = price("kms-key-month", region)  # a key-month, whatever the load
    return Case([resource("aws:kms/key:Key")], (key, 0), (key, 0))


def interface_endpoint(region: str) -> Case:
    # An interface endpoint is billed per AZ-hour: 3 subnets x 730 h.
    fixed = 3 * HOURS * price("vpc-interface-endpoint-hour", region)
    r = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint", vpcEndpointType="Interface", subnetIds=["a", "b", "c"]
    )
    return Case([r], (fixed, 0), (fixed, 0))


def gateway_endpoint(region: str) -> Case:
    r = resource("aws:ec2/vpcEndpoint:VpcEndpoint", vpcEndpointType="Gateway", subnetIds=["a"])
    return Case([r], (0, 0), (0, 0))


def flow_log(region: str) -> Case:
    # Its bytes are priced with its log group's ingestion.
    return Case([resource("aws:ec2/flowLog:FlowLog")], (0, 0), (0, 0))


def kinesis_provisioned(region: str) -> Case:
    # 2 shards x 730 h; each 30 KB event is ceil(30 / 25) = 2 PUT payload units.
    fixed = 2 * HOURS * price("kinesis-shard-hour", region)
    usage = EVENTS * 2 / 1e6 * price("kinesis-put-million", region)
    r = resource(
        "aws:kinesis/stream:Stream", shardCount=2, streamModeDetails={"streamMode": "PROVISIONED"}
    )
    return Case([r], (fixed, 0), (fixed, usage))


def kinesis_default_mode(region: str) -> Case:
    # No mode and no shard count: one provisioned shard.
    fixed = 1 * HOURS * price("kinesis-shard-hour", region)
    usage = EVENTS * 2 / 1e6 * price("kinesis-put-million", region)
    return Case([resource("aws:kinesis/stream:Stream")], (fixed, 0), (fixed, usage))


def kinesis_on_demand(region: str) -> Case:
    # A stream-hour for 730 h, plus each GB ingested and read once by the aggregator:
    # events x 30 KB / 1024 / 1024, at the ingest and at the read price.
    fixed = HOURS * price("kinesis-on-demand-stream-hour", region)
    gb = EVENTS * 30 / 1024 / 1024
    usage = gb * price("kinesis-on-demand-ingest-gb", region) + gb * price(
        "kinesis-on-demand-read-gb", region
    )
    r = resource("aws:kinesis/stream:Stream", streamModeDetails={"streamMode": "ON_DEMAND"})
    return Case([r], (fixed, 0), (fixed, usage))


def lambda_usage(invocations: float, seconds: float, memory_gb: float, region: str) -> float:
    return invocations / 1e6 * price("lambda-requests-million", region) + (
        invocations * seconds * memory_gb * price("lambda-gb-second", region)
    )


def scoring_lambda(region: str) -> Case:
    # One invocation per request, 0.1 s each, at 512 MB (0.5 GB).
    r = resource(
        "aws:lambda/function:Function", memorySize=512, tags={"mlkit:code": "functions/scoring"}
    )
    return Case([r], (0, 0), (0, lambda_usage(REQUESTS, 0.1, 0.5, region)))


def aggregator_lambda(region: str) -> Case:
    # One invocation per 100 events, 1 s each, at 1024 MB (1 GB).
    r = resource(
        "aws:lambda/function:Function",
        memorySize=1024,
        tags={"mlkit:code": "functions/aggregator"},
    )
    return Case([r], (0, 0), (0, lambda_usage(EVENTS / 100, 1.0, 1.0, region)))


def housekeeping_lambda(region: str) -> Case:
    # Any other function: 100 calls a month of 1 s, whatever the load; default 128 MB.
    r = resource("aws:lambda/function:Function", tags={"mlkit:code": "functions/retrain_guard"})
    usage = lambda_usage(100, 1.0, 128 / 1024, region)
    return Case([r], (0, usage), (0, usage))


def lookup_lambda(region: str) -> Case:
    # One invocation per lookup request, 0.02 s each (one DynamoDB read), at 512 MB.
    r = resource(
        "aws:lambda/function:Function",
        memorySize=512,
        tags={"mlkit:code": "functions/recommendations/lookup"},
    )
    return Case([r], (0, 0), (0, lambda_usage(REQUESTS, 0.02, 0.5, region)))


def loader_lambda(region: str) -> Case:
    # One invocation per scoring run (30), 5,000 users at 1,000 a second: 5 s each, 1 GB.
    r = resource(
        "aws:lambda/function:Function",
        memorySize=1024,
        tags={"mlkit:code": "functions/recommendations/loader"},
    )
    return Case([r], (0, 0), (0, lambda_usage(30, 5.0, 1.0, region)))


def http_api(region: str) -> Case:
    usage = REQUESTS / 1e6 * price("apigateway-http-million", region)
    return Case([resource("aws:apigatewayv2/api:Api")], (0, 0), (0, usage))


def dynamodb(region: str) -> Case:
    # Per event, transactional writes of 2 units each: the dedupe marker, the card's state and
    # the confirmation of its pending writes (6); the state items of both layouts read (2).
    usage = EVENTS * 6 / 1e6 * price("dynamodb-write-million", region) + (
        EVENTS * 2 / 1e6 * price("dynamodb-read-million", region)
    )
    return Case([resource("aws:dynamodb/table:Table")], (0, 0), (0, usage))


def recommendations_table(region: str) -> Case:
    # Batch serving: each of 30 runs writes 5,000 users and the pointer; one read a lookup.
    usage = 30 * 5001 / 1e6 * price("dynamodb-write-million", region) + (
        REQUESTS / 1e6 * price("dynamodb-read-million", region)
    )
    r = resource("aws:dynamodb/table:Table", tags={"mlkit:component": "serving"})
    return Case([r], (0, 0), (0, usage))


def with_aggregator(
    group: RecordedResource, usage: float, variables: dict[str, str], region: str
) -> Case:
    """A feature group and the aggregator writing it (`variables`: its environment), whose
    own cost is one invocation per 100 events, 1 s each, at 1 GB."""
    aggregator = resource(
        "aws:lambda/function:Function",
        "agg",
        memorySize=1024,
        tags={"mlkit:code": "functions/aggregator"},
        environment={"variables": variables},
    )
    others = {"agg": (0, lambda_usage(EVENTS / 100, 1.0, 1.0, region))}
    return Case([group, aggregator], (0, 0), (0, usage), others=others)


def online_group(type_: str):
    def case(region: str) -> Case:
        # The aggregator's online store: one write per event, one read per scoring request.
        usage = EVENTS / 1e6 * price("featurestore-write-million", region) + (
            REQUESTS / 1e6 * price("featurestore-read-million", region)
        )
        r = resource(type_, featureGroupName="cards", onlineStoreConfig={"enableOnlineStore": True})
        return with_aggregator(r, usage, {"CARD_FEATURE_GROUP": "cards"}, region)

    return case


def loaded_online_group(type_: str):
    def case(region: str) -> Case:
        # An online store no aggregator writes (its own loader does): only its reads.
        usage = REQUESTS / 1e6 * price("featurestore-read-million", region)
        r = resource(
            type_, featureGroupName="profiles", onlineStoreConfig={"enableOnlineStore": True}
        )
        return Case([r], (0, 0), (0, usage))

    return case


def offline_group(type_: str):
    def case(region: str) -> Case:
        # Offline only: its data is in the bucket, priced there.
        r = resource(type_, onlineStoreConfig={"enableOnlineStore": False})
        return Case([r], (0, 0), (0, 0))

    return case


def streamed_offline_group(type_: str):
    def case(region: str) -> Case:
        # Offline only, but the aggregator writes each raw transaction to it: one metered
        # write per event, no reads (its data is in the bucket, priced there).
        usage = EVENTS / 1e6 * price("featurestore-write-million", region)
        r = resource(type_, featureGroupName="txns", offlineStoreConfig={"s3StorageConfig": {}})
        return with_aggregator(r, usage, {"TRANSACTIONS_FEATURE_GROUP": "txns"}, region)

    return case


def buckets(region: str) -> Case:
    # Two buckets share the 100 GB stored: 50 GB each, not 100 each.
    share = 50 * price("s3-standard-gb-month", region)
    rs = [resource("aws:s3/bucket:Bucket", "a"), resource("aws:s3/bucket:Bucket", "b")]
    return Case(rs, (0, 0), (0, share), name="a", others={"b": (0, share)})


def repository(region: str) -> Case:
    # 5 GB of images assumed, stored whatever the load.
    usage = 5 * price("ecr-storage-gb-month", region)
    return Case([resource("aws:ecr/repository:Repository")], (0, usage), (0, usage))


def log_groups(region: str) -> Case:
    # Three log groups share the 12 GB ingested a month: 4 GB each, not 12 each.
    share = 4 * price("logs-ingest-gb", region)
    rs = [resource("aws:cloudwatch/logGroup:LogGroup", n) for n in ("a", "b", "c")]
    return Case(rs, (0, 0), (0, share), name="a", others={"b": (0, share), "c": (0, share)})


def alarm(region: str) -> Case:
    month = price("cloudwatch-alarm-month", region)
    return Case([resource("aws:cloudwatch/metricAlarm:MetricAlarm")], (month, 0), (month, 0))


def composite_alarm(region: str) -> Case:
    month = price("cloudwatch-composite-alarm-month", region)
    r = resource("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    return Case([r], (month, 0), (month, 0))


def dashboard(region: str) -> Case:
    month = price("cloudwatch-dashboard-month", region)
    return Case([resource("aws:cloudwatch/dashboard:Dashboard")], (month, 0), (month, 0))


def queue(region: str) -> Case:
    return Case([resource("aws:sqs/queue:Queue")], (0, 0), (0, 0))


def topic(region: str) -> Case:
    return Case([resource("aws:sns/topic:Topic")], (0, 0), (0, 0))


CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def endpoint_instances(region: str) -> Case:
    # 2 x ml.c5.xlarge in production and 1 x ml.m5.large shadow (count defaults to 1), each
    # billed every hour of the month.
    fixed = HOURS * (
        2 * price("sagemaker-hosting-ml.c5.xlarge-hour", region)
        + 1 * price("sagemaker-hosting-ml.m5.large-hour", region)
    )
    r = resource(
        CONFIG,
        productionVariants=[{"instanceType": "ml.c5.xlarge", "initialInstanceCount": 2}],
        shadowProductionVariants=[{"instanceType": "ml.m5.large"}],
    )
    return Case([r], (fixed, 0), (fixed, 0))


def endpoint_serverless(region: str) -> Case:
    # Busy 0.1 s per request at 3072 MB (3 GB).
    usage = REQUESTS * 0.1 * 3 * price("sagemaker-serverless-gb-second", region)
    r = resource(CONFIG, productionVariants=[{"serverlessConfig": {"memorySizeInMb": 3072}}])
    return Case([r], (0, 0), (0, usage))


def autoscaled(rps: float, extra: int, *, policy: bool = True):
    """An endpoint of 2 ml.c5.large at minimum, at most 4, scaling at 600 invocations per
    instance per minute (1000 without a policy); `extra` instances above the minimum are
    what the hand computation for `rps` requests a second gives."""

    def case(region: str) -> Case:
        hour = price("sagemaker-hosting-ml.c5.large-hour", region)
        config = resource(
            CONFIG,
            "config",
            productionVariants=[{"instanceType": "ml.c5.large", "initialInstanceCount": 2}],
        )
        target = resource(
            "aws:appautoscaling/target:Target",
            "target",
            minCapacity=2,
            maxCapacity=4,
            resourceId="endpoint/e/variant/primary",
        )
        scaling = resource(
            "aws:appautoscaling/policy:Policy",
            "policy",
            resourceId="endpoint/e/variant/primary",
            targetTrackingScalingPolicyConfiguration={"targetValue": 600},
        )
        rs = [config, target, *([scaling] if policy else [])]
        return Case(
            rs,
            (0, 0),
            (0, extra * HOURS * hour),
            name="target",
            others={"config": (2 * HOURS * hour, 0)},
        )

    case.load = LOAD.model_copy(update={"requests_per_second": rps})  # type: ignore[attr-defined]
    return case


def monitoring_schedule(expression: str, runs: int):
    def case(region: str) -> Case:
        # `runs` jobs a month of 10 minutes (1/6 h) each on ml.m5.large processing.
        fixed = runs * (1 / 6) * price("sagemaker-processing-ml.m5.large-hour", region)
        r = resource(
            "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
            monitoringScheduleConfig={"scheduleConfig": {"scheduleExpression": expression}},
        )
        return Case([r], (fixed, 0), (fixed, 0))

    return case


def pipeline(region: str) -> Case:
    # Per run: 1.5 h of ml.m5.xlarge training and 5 processing jobs of 15 min (1.25 h) on
    # ml.m5.large; 2 runs a month.
    per_run = 1.5 * price("sagemaker-training-ml.m5.xlarge-hour", region) + 1.25 * price(
        "sagemaker-processing-ml.m5.large-hour", region
    )
    definition = {
        "Parameters": [
            {"Name": "TrainingInstanceType", "DefaultValue": "ml.m5.xlarge"},
            {"Name": "ProcessingInstanceType", "DefaultValue": "ml.m5.large"},
            {"Name": "Other", "DefaultValue": "x"},
        ]
    }
    r = resource("aws:sagemaker/pipeline:Pipeline", pipelineDefinition=json.dumps(definition))
    return Case([r], (0, 0), (0, 2 * per_run))


def scoring_pipeline(region: str) -> Case:
    # Per run: 0.75 h of batch transform on 3 ml.m5.xlarge and 2 processing jobs of 15 min
    # (0.5 h) on ml.m5.large; 30 runs a month.
    per_run = 0.75 * 3 * price("sagemaker-transform-ml.m5.xlarge-hour", region) + 0.5 * price(
        "sagemaker-processing-ml.m5.large-hour", region
    )
    definition = {
        "Parameters": [
            {"Name": "TransformInstanceType", "DefaultValue": "ml.m5.xlarge"},
            {"Name": "TransformInstanceCount", "DefaultValue": 3},
            {"Name": "ProcessingInstanceType", "DefaultValue": "ml.m5.large"},
        ]
    }
    r = resource("aws:sagemaker/pipeline:Pipeline", pipelineDefinition=json.dumps(definition))
    return Case([r], (0, 0), (0, 30 * per_run))


def athena_scheduled(region: str) -> Case:
    # Two daily schedules start queries in this workgroup (one in another): 2 x 30 = 60
    # queries, each scanning the 100 GB stored (under the 200 GB cutoff).
    usage = 60 * 100 / 1024 * price("athena-scanned-tb", region)
    wg = resource(
        "aws:athena/workgroup:Workgroup",
        "r",
        name="features",
        configuration={"bytesScannedCutoffPerQuery": 200e9},
    )
    target = "arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"
    schedules = [
        resource(
            "aws:scheduler/schedule:Schedule",
            f"s{i}",
            target={"arn": target, "input": json.dumps({"WorkGroup": group})},
        )
        for i, group in enumerate(["features", "features", "other"])
    ]
    # Idle, the schedules still run: 60 queries billed Athena's 10 MB minimum each.
    idle = 60 * (10 / 1024) / 1024 * price("athena-scanned-tb", region)
    others = {f"s{i}": (0, 0) for i in range(3)}  # schedules are free; their queries are not
    return Case([wg, *schedules], (0, idle), (0, usage), name="r", others=others)


def athena_scoring(region: str) -> Case:
    # A serving workgroup: 2 queries (active users, popular items) per run, 30 runs, each
    # scanning the 100 GB stored.
    usage = 60 * 100 / 1024 * price("athena-scanned-tb", region)
    r = resource("aws:athena/workgroup:Workgroup", tags={"mlkit:component": "serving"})
    return Case([r], (0, 0), (0, usage))


def athena(region: str) -> Case:
    # 2 queries (one per run), each scanning the 100 GB stored, capped by the 40 GB cutoff:
    # 2 x 40 GB / 1024 GB per TB x the TB price.
    usage = 2 * 40 / 1024 * price("athena-scanned-tb", region)
    r = resource(
        "aws:athena/workgroup:Workgroup", configuration={"bytesScannedCutoffPerQuery": 40e9}
    )
    return Case([r], (0, 0), (0, usage))


def mlflow(size: str | None, key: str):
    def case(region: str) -> Case:
        fixed = HOURS * price(key, region)  # a tracking server runs every hour
        inputs = {} if size is None else {"trackingServerSize": size}
        r = resource("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", **inputs)
        return Case([r], (fixed, 0), (fixed, 0))

    return case


NATIVE_GROUP = "aws-native:sagemaker:FeatureGroup"
AWS_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"


def monitoring_schedule_job(region: str) -> Case:
    # The kit's drift job, hourly: 730 runs x 10 minutes on one ml.m5.large, idle or not.
    request = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
        }
    }
    target = {"arn": "launcher", "input": json.dumps({"monitor": "drift", "request": request})}
    fixed = 730 * (1 / 6) * price("sagemaker-processing-ml.m5.large-hour", region)
    return Case(
        [
            resource(
                "aws:scheduler/schedule:Schedule",
                scheduleExpression="cron(0 * * * ? *)",
                target=target,
            )
        ],
        (fixed, 0),
        (fixed, 0),
    )


def monitoring_schedule_two_instances(region: str) -> Case:
    # The same job on two instances costs twice as much.
    request = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large"}
        }
    }
    target = {"arn": "launcher", "input": json.dumps({"monitor": "drift", "request": request})}
    fixed = 2 * 730 * (1 / 6) * price("sagemaker-processing-ml.m5.large-hour", region)
    schedule = resource(
        "aws:scheduler/schedule:Schedule", scheduleExpression="cron(0 * * * ? *)", target=target
    )
    return Case([schedule], (fixed, 0), (fixed, 0))


def plain_schedule(region: str) -> Case:
    # A schedule that starts no job (a pipeline, a Lambda): its invocations are free.
    target = {"arn": "pipeline", "input": "{}"}
    return Case(
        [
            resource(
                "aws:scheduler/schedule:Schedule", scheduleExpression="rate(1 day)", target=target
            )
        ],
        (0, 0),
        (0, 0),
    )


CASES = {
    "kms-key": kms,
    "schedule-monitoring-job": monitoring_schedule_job,
    "schedule-monitoring-job-two-instances": monitoring_schedule_two_instances,
    "schedule-plain": plain_schedule,
    "vpc-interface-endpoint": interface_endpoint,
    "vpc-gateway-endpoint": gateway_endpoint,
    "flow-log": flow_log,
    "kinesis-provisioned": kinesis_provisioned,
    "kinesis-default-mode": kinesis_default_mode,
    "kinesis-on-demand": kinesis_on_demand,
    "lambda-scoring": scoring_lambda,
    "lambda-aggregator": aggregator_lambda,
    "lambda-housekeeping": housekeeping_lambda,
    "lambda-lookup": lookup_lambda,
    "lambda-loader": loader_lambda,
    "http-api": http_api,
    "dynamodb": dynamodb,
    "dynamodb-recommendations": recommendations_table,
    "feature-group-online": online_group(AWS_GROUP),
    "feature-group-online-loaded": loaded_online_group(AWS_GROUP),
    "feature-group-offline": offline_group(AWS_GROUP),
    "feature-group-offline-streamed": streamed_offline_group(AWS_GROUP),
    "native-feature-group-online": online_group(NATIVE_GROUP),
    "native-feature-group-online-loaded": loaded_online_group(NATIVE_GROUP),
    "native-feature-group-offline": offline_group(NATIVE_GROUP),
    "native-feature-group-offline-streamed": streamed_offline_group(NATIVE_GROUP),
    "buckets-share-storage": buckets,
    "ecr-repository": repository,
    "log-groups-share-ingestion": log_groups,
    "metric-alarm": alarm,
    "composite-alarm": composite_alarm,
    "dashboard": dashboard,
    "queue": queue,
    "topic": topic,
    "endpoint-instances": endpoint_instances,
    "endpoint-serverless": endpoint_serverless,
    # 100 req/s = 6000/min over 600 per instance: 10 needed, capped at the max 4: 2 extra.
    "autoscaling-capped-at-max": autoscaled(100, 2),
    # 15 req/s = 900/min over 600: ceil(1.5) = 2 needed, the minimum: none extra.
    "autoscaling-at-min": autoscaled(15, 0),
    # 25 req/s = 1500/min over 600: ceil(2.5) = 3 needed: 1 extra.
    "autoscaling-one-extra": autoscaled(25, 1),
    # No policy: 1000 per instance; 50 req/s = 3000/min: 3 needed, 1 extra.
    "autoscaling-no-policy": autoscaled(50, 1, policy=False),
    "monitoring-hourly": monitoring_schedule("cron(0 * ? * * *)", 730),
    "monitoring-daily": monitoring_schedule("cron(0 3 * * ? *)", 30),
    "pipeline": pipeline,
    "pipeline-scoring": scoring_pipeline,
    "athena-capped": athena,
    "athena-scheduled": athena_scheduled,
    "athena-scoring": athena_scoring,
    "mlflow-default-small": mlflow(None, "sagemaker-mlflow-small-hour"),
    "mlflow-large": mlflow("Large", "sagemaker-mlflow-large-hour"),
}


def estimate(case_fn, region: str, load: LoadSettings):
    case = case_fn(region)
    result = estimate_cost(case.resources, region=region, load=load, component_of=lambda r: "c")
    return case, result


def costs(result) -> dict[str, tuple[float, float]]:
    return {r.name: (r.fixed, r.usage) for r in result.resources}


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_rule_at_load(case_name: str, region: str) -> None:
    case_fn = CASES[case_name]
    load = getattr(case_fn, "load", LOAD)
    case, result = estimate(case_fn, region, load)
    assert result.unpriced == ()
    expected = {case.name: case.at_load} | case.others
    assert costs(result) == {
        name: (pytest.approx(fixed, rel=1e-9, abs=1e-12), pytest.approx(usage, rel=1e-9))
        for name, (fixed, usage) in expected.items()
    }
    total_fixed = sum(fixed for fixed, _ in expected.values())
    total = sum(fixed + usage for fixed, usage in expected.values())
    assert result.fixed_monthly == pytest.approx(total_fixed, rel=1e-9, abs=1e-12)
    assert result.at_load_monthly == pytest.approx(total, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_rule_idle(case_name: str, region: str) -> None:
    case, result = estimate(CASES[case_name], region, IDLE)
    assert result.unpriced == ()
    fixed, usage = costs(result)[case.name]
    assert fixed == pytest.approx(case.idle[0], rel=1e-9, abs=1e-12)
    assert usage == pytest.approx(case.idle[1], rel=1e-9, abs=1e-12)
    # Idle, a stack costs its fixed part: the same as at load.
    assert fixed == pytest.approx(case.at_load[0], rel=1e-9, abs=1e-12)


def test_every_rule_has_a_case() -> None:
    covered = {r.type for fn in CASES.values() for r in fn("eu-west-1").resources}
    missing = sorted(set(RULES) - covered)
    assert not missing, f"pricing rules without a hand-computed case: {missing}"


def test_priced_and_free_types_do_not_overlap() -> None:
    assert not set(RULES) & FREE_TYPES


@pytest.mark.parametrize("type_", sorted(FREE_TYPES))
def test_free_types_cost_nothing_and_are_not_unpriced(type_: str) -> None:
    result = estimate_cost(
        [resource(type_)], region="eu-west-1", load=LOAD, component_of=lambda r: "c"
    )
    assert (result.resources, result.unpriced) == ((), ())


def test_autoscaling_extra_instances_are_capped_at_the_max() -> None:
    # Load far beyond what 4 instances serve: still only max - min = 2 extra instances.
    hour = price("sagemaker-hosting-ml.c5.large-hour", "eu-west-1")
    for rps in (100, 1000, 10_000):
        _, result = estimate(
            autoscaled(rps, 2), "eu-west-1", LOAD.model_copy(update={"requests_per_second": rps})
        )
        assert costs(result)["target"][1] == pytest.approx(2 * HOURS * hour)


def test_a_log_group_is_priced_at_its_share_of_the_log_volume() -> None:
    # 12 GB over 1, 2, 3 and 4 groups: each group ingests 12 / n GB.
    ingest = price("logs-ingest-gb", "eu-west-1")
    for n in (1, 2, 3, 4):
        groups = [resource("aws:cloudwatch/logGroup:LogGroup", f"g{i}") for i in range(n)]
        others = [resource("aws:kms/key:Key"), resource("aws:s3/bucket:Bucket", "b")]
        result = estimate_cost(
            groups + others, region="eu-west-1", load=LOAD, component_of=lambda r: "c"
        )
        by_name = costs(result)
        for i in range(n):
            assert by_name[f"g{i}"] == (0, pytest.approx(12 / n * ingest))
        assert sum(by_name[f"g{i}"][1] for i in range(n)) == pytest.approx(12 * ingest)


def test_athena_bills_its_minimum_when_nothing_is_stored() -> None:
    # Nothing stored: each of 3 queries is billed Athena's 10 MB minimum (10 / 1024 GB).
    load = IDLE.model_copy(update={"training_runs_per_month": 3})
    r = resource("aws:athena/workgroup:Workgroup", configuration={})
    result = estimate_cost([r], region="us-east-1", load=load, component_of=lambda r: "c")
    expected = 3 * (10 / 1024) / 1024 * price("athena-scanned-tb", "us-east-1")
    assert costs(result)["r"] == (0, pytest.approx(expected))


def test_kinesis_put_units_round_up_per_event() -> None:
    # 26 KB is 2 PUT units, 25 KB is 1, 1 KB is 1: ceil(kb / 25) per event.
    stream = resource("aws:kinesis/stream:Stream", shardCount=1)
    put = price("kinesis-put-million", "eu-west-1")
    for kb, units in ((1, 1), (25, 1), (26, 2), (51, 3)):
        load = LOAD.model_copy(update={"event_kb": kb})
        result = estimate_cost([stream], region="eu-west-1", load=load, component_of=lambda r: "c")
        assert costs(result)["r"][1] == pytest.approx(EVENTS * units / 1e6 * put)


def test_an_instance_type_without_a_price_is_unpriced_not_zero() -> None:
    r = resource(CONFIG, "e", productionVariants=[{"instanceType": "ml.p3.2xlarge"}])
    result = estimate_cost([r], region="eu-west-1", load=LOAD, component_of=lambda r: "c")
    assert result.resources == ()
    assert result.unpriced == (
        (r.urn, CONFIG, "no price for 'sagemaker-hosting-ml.p3.2xlarge-hour' in eu-west-1"),
    )


def test_components_sum_their_resources() -> None:
    # A key (component "k") and two alarms (component "a"): totals per component by hand.
    key = resource("aws:kms/key:Key", "key")
    alarms = [resource("aws:cloudwatch/metricAlarm:MetricAlarm", n) for n in ("x", "y")]
    result = estimate_cost(
        [key, *alarms],
        region="eu-west-1",
        load=LOAD,
        component_of=lambda r: "k" if r.name == "key" else "a",
    )
    alarm_month = price("cloudwatch-alarm-month", "eu-west-1")
    key_month = price("kms-key-month", "eu-west-1")
    assert result.by_component() == {
        "a": {
            "fixedMonthlyUsd": round(2 * alarm_month, 2),
            "atLoadMonthlyUsd": round(2 * alarm_month, 2),
        },
        "k": {"fixedMonthlyUsd": round(key_month, 2), "atLoadMonthlyUsd": round(key_month, 2)},
    }


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("cron(0 * * * ? *)", 730),  # hourly
        ("cron(0 3 * * ? *)", 730 / 24),  # daily
        ("cron(0 7 ? * MON *)", 730 / 24 / 7),  # weekly
        ("cron(30 6,18 ? * MON-FRI *)", 730 / 24 * 5 / 7 * 2),  # twice on weekdays
        ("cron(0 */6 * * ? *)", 730 / 24 * 4),  # every six hours
        ("cron(0 4 1 * ? *)", 730 / 24 * 12 / 365),  # monthly: 12 of 365 days
        ("cron(0 4 L * ? *)", 730 / 24 * 12 / 365),  # the last day of each month
        ("cron(0 4 ? 1,7 MON *)", 730 / 24 / 7 * 2 / 12),  # Mondays of two months
        ("cron(0 4 ? * 2#1 *)", 730 / 24 * 12 / 365),  # the first Monday of each month
        ("cron(0 4 ? * 5L *)", 730 / 24 * 12 / 365),  # the last Thursday of each month
        ("cron(0 4 ? * MON,6L *)", 730 / 24 * (1 / 7 + 12 / 365)),  # Mondays, last Friday
        ("cron(0 4 ? * L *)", 730 / 24 / 7),  # L alone is Saturday: weekly
        ("cron(* 7 * * ? *)", 730 / 24 * 60),  # every minute of one hour a day
        ("cron(0 9-17 ? * 2-6 *)", 730 / 24 * 5 / 7 * 9),  # hourly in office hours
        ("cron(0 4 ? * */2 *)", 730 / 24 * 4 / 7),  # every other day of the week: 1, 3, 5, 7
        ("cron(0 4 L,15 * ? *)", 730 / 24 * 2 * 12 / 365),  # the 15th and the last day
        ("rate(2 hours)", 365),
        ("rate(1 day)", 730 / 24),
        ("rate(90 minutes)", 730 * 60 / 90),
        ("at(2026-12-24T10:00:00)", 0),
    ],
)
def test_runs_per_month_from_schedule_expressions(expression: str, runs: float) -> None:
    from mlkit.cost import runs_per_month

    assert runs_per_month(expression, 730) == pytest.approx(runs, rel=1e-12)
