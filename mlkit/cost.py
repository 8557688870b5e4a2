"""Offline cost estimate: what the recorded stack costs per month idle (fixed) and at the load
its settings declare, per resource and per component, from the shipped price table.

Every recorded type is priced, declared free, or listed as unpriced: nothing is silently
counted as zero.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlkit.recording import RecordedResource
from mlkit.settings import LoadSettings

PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices.yaml"
SECONDS_PER_MONTH = 730 * 3600
# Assumptions behind usage figures, stated once and reported with the estimate.
SCORING_SECONDS = 0.1  # scoring Lambda and endpoint time per request
LOOKUP_SECONDS = 0.02  # recommendation lookup: one DynamoDB read
LOADER_USERS_PER_SECOND = 1000  # the loader's lower estimate (functions/recommendations/loader)
AGGREGATOR_BATCH = 100  # events per aggregator invocation
AGGREGATOR_SECONDS = 1.0  # per invocation
# Measured in tests/functions/test_aggregator_capacity.py, at a batch's cards distinct: the
# event's dedupe marker, its card's state and the confirmation of the card's pending writes,
# each a transactional write of an item under 1 KB (2 units).
STATE_WRITE_UNITS_PER_EVENT = 6
AGGREGATOR_GROUP_VARIABLES = ("CARD_FEATURE_GROUP", "TRANSACTIONS_FEATURE_GROUP")
STATE_READS_PER_EVENT = 2  # the card's state item and its previous layout's, consistent
MONITORING_RUN_HOURS = 1 / 6  # a monitoring job on captured data: about 10 minutes
PIPELINE_PROCESSING_HOURS = 5 * 0.25  # data set, validation, baselines, evaluation jobs
ATHENA_QUERIES_PER_RUN = 1  # the data-set UNLOAD of each training run
SCORING_QUERIES_PER_RUN = 2  # active users and popular items of each scoring run
SCORING_PROCESSING_HOURS = 2 * 0.25  # ListActiveUsers, WriteManifest
MATERIALIZATION_RUNS_PER_MONTH = 30  # each materialization schedule runs daily
ATHENA_START_QUERY_TARGET = "arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"
ATHENA_MIN_MB_PER_QUERY = 10  # Athena bills at least 10 MB per query
GB_PER_TB = 1024

# Types that cost nothing by themselves (their usage, if any, is priced elsewhere).
FREE_TYPES = frozenset(
    {
        "aws:apigatewayv2/authorizer:Authorizer",
        "aws:apigatewayv2/integration:Integration",
        "aws:apigatewayv2/route:Route",
        "aws:apigatewayv2/stage:Stage",
        "aws:appautoscaling/policy:Policy",  # the target carries the instances it adds
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:glue/catalogTable:CatalogTable",  # catalog objects: the first million are free
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:kms/alias:Alias",
        "aws:lambda/codeSigningConfig:CodeSigningConfig",  # code signing is free
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:lambda/permission:Permission",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",  # free; the logs are stored in a bucket
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
        "aws:sagemaker/endpoint:Endpoint",  # its configuration carries the instances
        "aws:sagemaker/model:Model",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:signer/signingJob:SigningJob",  # Signer is free for Lambda
        "aws:signer/signingProfile:SigningProfile",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws-native:sagemaker:ModelQualityJobDefinition",
        "time:index/sleep:Sleep",  # a wait during `pulumi up`, no cloud resource
    }
)


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    verified: bool
    hours_per_month: float
    entries: Mapping[str, Mapping[str, Any]]

    def usd(self, key: str, region: str) -> float:
        """Price of `key` in `region`; KeyError(key) when the table has none."""
        try:
            return float(self.entries[key]["usd"][region])
        except KeyError:
            raise KeyError(key) from None


@cache
def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return PriceTable(
        as_of=str(data["asOf"]),
        verified=bool(data["verified"]),
        hours_per_month=float(data["hoursPerMonth"]),
        entries=data["prices"],
    )


PRICES_HEADER = """\
# USD on-demand list prices used by the offline cost estimate (`plan`'s `cost` section).
# Entries without `verifiedAsOf` were compiled by hand from the AWS pricing pages named in
# `source`; `mlkit prices --refresh --write` reprices the entries it can
# query (SageMaker instance hours) from the AWS Price List API and records when.
# Regions not listed are reported as unpriced. Hours are billed per month as 730.
"""


def write_prices(table: Mapping[str, Any], path: Path = PRICES_FILE) -> None:
    """Save a refreshed table (as loaded from YAML) with its explanatory header."""
    body = yaml.safe_dump(dict(table), sort_keys=False, width=100)
    path.write_text(PRICES_HEADER + body, encoding="utf-8")
    load_prices.cache_clear()


@dataclass(frozen=True)
class ResourceCost:
    urn: str
    name: str
    type: str
    component: str
    fixed: float
    usage: float
    basis: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "component": self.component,
            "fixedMonthlyUsd": round(self.fixed, 2),
            "usageMonthlyUsd": round(self.usage, 2),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class CostEstimate:
    region: str
    load: LoadSettings
    prices: PriceTable
    resources: tuple[ResourceCost, ...]
    unpriced: tuple[tuple[str, str, str], ...] = field(default=())
    """(urn, type, reason) of resources the table cannot price."""

    @property
    def fixed_monthly(self) -> float:
        return sum(r.fixed for r in self.resources)

    @property
    def at_load_monthly(self) -> float:
        return sum(r.fixed + r.usage for r in self.resources)

    def by_component(self) -> dict[str, dict[str, float]]:
        totals: dict[str, dict[str, float]] = {}
        for r in self.resources:
            entry = totals.setdefault(r.component, {"fixed": 0.0, "atLoad": 0.0})
            entry["fixed"] += r.fixed
            entry["atLoad"] += r.fixed + r.usage
        return {
            name: {
                "fixedMonthlyUsd": round(v["fixed"], 2),
                "atLoadMonthlyUsd": round(v["atLoad"], 2),
            }
            for name, v in sorted(totals.items())
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "region": self.region,
            "fixedMonthlyUsd": round(self.fixed_monthly, 2),
            "atLoadMonthlyUsd": round(self.at_load_monthly, 2),
            "load": self.load.model_dump(by_alias=True),
            "byComponent": self.by_component(),
            "resources": [r.as_json() for r in self.resources if r.fixed or r.usage],
            "unpriced": [{"urn": u, "type": t, "reason": why} for u, t, why in self.unpriced],
            "prices": {"asOf": self.prices.as_of, "verified": self.prices.verified},
        }


@dataclass(frozen=True)
class Context:
    """What a pricing rule may read besides the resource itself."""

    region: str
    load: LoadSettings
    prices: PriceTable
    resources: Sequence[RecordedResource]

    def usd(self, key: str) -> float:
        return self.prices.usd(key, self.region)

    @property
    def hours(self) -> float:
        return self.prices.hours_per_month

    @property
    def requests_per_month(self) -> float:
        return self.load.requests_per_second * SECONDS_PER_MONTH

    @property
    def events_per_month(self) -> float:
        return self.load.events_per_second * SECONDS_PER_MONTH


# A rule returns (fixed monthly USD, usage monthly USD at load, basis).
Rule = Callable[[RecordedResource, Context], tuple[float, float, str]]


def _instance_hour(use: str, instance_type: str, ctx: Context) -> float:
    return ctx.usd(f"sagemaker-{use}-{instance_type}-hour")


def _kms_key(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return ctx.usd("kms-key-month"), 0.0, "1 key-month"


def _vpc_endpoint(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    if r.inputs.get("vpcEndpointType") != "Interface":
        return 0.0, 0.0, "gateway endpoints are free"
    zones = len(r.inputs.get("subnetIds") or [])
    fixed = zones * ctx.hours * ctx.usd("vpc-interface-endpoint-hour")
    return fixed, 0.0, f"{zones} AZs x {ctx.hours:.0f} h"


def _kinesis(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    mode = (r.inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    gb = ctx.events_per_month * ctx.load.event_kb / 1024 / 1024
    if mode == "ON_DEMAND":
        fixed = ctx.hours * ctx.usd("kinesis-on-demand-stream-hour")
        # On demand, data read is metered too: the aggregator reads each record once.
        usage = gb * (ctx.usd("kinesis-on-demand-ingest-gb") + ctx.usd("kinesis-on-demand-read-gb"))
        return fixed, usage, f"on-demand, {gb:.1f} GB in and read once"
    shards = int(r.inputs.get("shardCount") or 1)
    fixed = shards * ctx.hours * ctx.usd("kinesis-shard-hour")
    put_units = ctx.events_per_month * math.ceil(ctx.load.event_kb / 25)
    usage = put_units / 1e6 * ctx.usd("kinesis-put-million")
    return fixed, usage, f"{shards} shards, {put_units / 1e6:.1f} M PUT units"


def _lambda(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    memory_gb = float(r.inputs.get("memorySize") or 128) / 1024
    code = str((r.inputs.get("tags") or {}).get("mlkit:code", ""))  # the kit's functions
    if code.endswith("scoring"):
        invocations, seconds = ctx.requests_per_month, SCORING_SECONDS
    elif code.endswith("aggregator"):
        invocations, seconds = ctx.events_per_month / AGGREGATOR_BATCH, AGGREGATOR_SECONDS
    elif code.endswith("recommendations/lookup"):
        invocations, seconds = ctx.requests_per_month, LOOKUP_SECONDS
    elif code.endswith("recommendations/loader"):
        invocations = float(ctx.load.scoring_runs_per_month)
        seconds = ctx.load.scored_users / LOADER_USERS_PER_SECOND
    else:  # event-driven housekeeping (e.g. the retrain guard): a few calls a month
        invocations, seconds = 100.0, 1.0
    usage = invocations / 1e6 * ctx.usd("lambda-requests-million") + (
        invocations * seconds * memory_gb * ctx.usd("lambda-gb-second")
    )
    return 0.0, usage, f"{invocations / 1e6:.2f} M invocations x {seconds} s x {memory_gb} GB"


def _http_api(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    millions = ctx.requests_per_month / 1e6
    return 0.0, millions * ctx.usd("apigateway-http-million"), f"{millions:.2f} M requests"


def _dynamodb(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    if _component(r) == "serving":  # batch serving: a generation per run, a read per lookup
        runs = ctx.load.scoring_runs_per_month
        writes = runs * (ctx.load.scored_users + 1)  # every user's item, then the pointer
        reads = ctx.requests_per_month  # the user's item (the pointer is cached)
    else:  # the streaming aggregator's window state: at scale a batch's cards are distinct
        writes = ctx.events_per_month * STATE_WRITE_UNITS_PER_EVENT
        reads = ctx.events_per_month * STATE_READS_PER_EVENT
    usage = writes / 1e6 * ctx.usd("dynamodb-write-million") + reads / 1e6 * ctx.usd(
        "dynamodb-read-million"
    )
    return 0.0, usage, f"{writes / 1e6:.1f} M writes, {reads / 1e6:.1f} M reads (on demand)"


def _component(r: RecordedResource) -> str | None:
    return (r.inputs.get("tags") or {}).get("mlkit:component")


def _feature_group(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    online = bool((r.inputs.get("onlineStoreConfig") or {}).get("enableOnlineStore"))
    # The streaming aggregator writes each event once: its card's aggregates (a batch's
    # cards are distinct at scale) and the raw transaction (offline only). On demand,
    # Feature Store meters every write, to offline-only groups too (they may also be
    # provisioned: "feature-store-throughput-mode"). Groups written by their own loader
    # (customer profiles) are priced at their reads only.
    streamed = any(
        x.type == "aws:lambda/function:Function"
        and r.inputs.get("featureGroupName")
        in (
            ((x.inputs.get("environment") or {}).get("variables") or {}).get(variable)
            for variable in AGGREGATOR_GROUP_VARIABLES
        )
        for x in ctx.resources
    )
    writes = ctx.events_per_month if streamed else 0.0
    reads = ctx.requests_per_month if online else 0.0
    usage = writes / 1e6 * ctx.usd("featurestore-write-million") + reads / 1e6 * ctx.usd(
        "featurestore-read-million"
    )
    store = "online" if online else "offline store only: its data is priced with the bucket"
    return 0.0, usage, f"{writes / 1e6:.1f} M writes, {reads / 1e6:.1f} M reads ({store})"


def _bucket(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    buckets = sum(1 for x in ctx.resources if x.type == r.type) or 1
    gb = ctx.load.stored_gb / buckets
    return 0.0, gb * ctx.usd("s3-standard-gb-month"), f"{gb:.0f} GB stored"


def _repository(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return 0.0, 5 * ctx.usd("ecr-storage-gb-month"), "5 GB of images"


def _log_group(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    groups = sum(1 for x in ctx.resources if x.type == r.type) or 1
    gb = ctx.load.log_gb_per_month / groups
    return 0.0, gb * ctx.usd("logs-ingest-gb"), f"{gb:.1f} GB ingested (share of the load)"


def _alarm(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return ctx.usd("cloudwatch-alarm-month"), 0.0, "1 alarm-month"


def _composite_alarm(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return ctx.usd("cloudwatch-composite-alarm-month"), 0.0, "1 composite alarm-month"


def _dashboard(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return ctx.usd("cloudwatch-dashboard-month"), 0.0, "1 dashboard-month"


def _queue(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return 0.0, 0.0, "dead letters only: requests are negligible"


def _topic(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    return 0.0, 0.0, "alerts only: publishes are negligible"


def _endpoint_config(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    fixed = usage = 0.0
    notes = []
    variants = list(r.inputs.get("productionVariants") or [])
    variants += list(r.inputs.get("shadowProductionVariants") or [])
    for variant in variants:
        serverless = variant.get("serverlessConfig")
        if serverless:
            gb = float(serverless.get("memorySizeInMb", 1024)) / 1024
            seconds = ctx.requests_per_month * SCORING_SECONDS
            usage += seconds * gb * ctx.usd("sagemaker-serverless-gb-second")
            notes.append(f"serverless {gb:.0f} GB x {seconds / 3600:.0f} h busy")
            continue
        count = int(variant.get("initialInstanceCount") or 1)
        hour = _instance_hour("hosting", str(variant.get("instanceType")), ctx)
        fixed += count * ctx.hours * hour
        notes.append(f"{count} x {variant.get('instanceType')}")
    return fixed, usage, ", ".join(notes)


def _scaling_target(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    """Instances above the minimum that the load needs (the minimum is in the config)."""
    minimum = int(r.inputs.get("minCapacity") or 1)
    maximum = int(r.inputs.get("maxCapacity") or minimum)
    policy = next(
        (x for x in ctx.resources if x.type == "aws:appautoscaling/policy:Policy"
         and x.inputs.get("resourceId") == r.inputs.get("resourceId")),
        None,
    )  # fmt: skip
    target = ((policy.inputs if policy else {}).get("targetTrackingScalingPolicyConfiguration")
              or {}).get("targetValue") or 1000  # fmt: skip
    needed = math.ceil(ctx.load.requests_per_second * 60 / float(target))
    extra = max(0, min(maximum, needed) - minimum)
    config = next(
        (x for x in ctx.resources
         if x.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"),
        None,
    )  # fmt: skip
    variants = (config.inputs.get("productionVariants") if config else None) or [{}]
    instance = str(variants[0].get("instanceType", ""))
    usage = extra * ctx.hours * _instance_hour("hosting", instance, ctx) if extra else 0.0
    return 0.0, usage, f"{needed} instances needed at load, {extra} above the minimum"


def _monitoring_schedule(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    expression = str(
        ((r.inputs.get("monitoringScheduleConfig") or {}).get("scheduleConfig") or {}).get(
            "scheduleExpression", ""
        )
    )
    runs = 730 if expression.startswith("cron(0 * ") else 30  # hourly or daily
    hour = _instance_hour("processing", "ml.m5.large", ctx)
    return runs * MONITORING_RUN_HOURS * hour, 0.0, f"{runs} runs x 10 min on ml.m5.large"


def _pipeline(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    parameters = {
        p["Name"]: p.get("DefaultValue")
        for p in json.loads(r.inputs.get("pipelineDefinition") or "{}").get("Parameters", [])
    }
    processing = _instance_hour("processing", str(parameters.get("ProcessingInstanceType")), ctx)
    if "TransformInstanceType" in parameters:  # batch scoring
        count = int(parameters.get("TransformInstanceCount") or 1)
        transform = _instance_hour("transform", str(parameters["TransformInstanceType"]), ctx)
        hours = ctx.load.scoring_hours_per_run
        per_run = hours * count * transform + SCORING_PROCESSING_HOURS * processing
        runs = ctx.load.scoring_runs_per_month
        return 0.0, runs * per_run, f"{runs} runs x ({hours} h transform x {count} instances)"
    training = _instance_hour("training", str(parameters.get("TrainingInstanceType")), ctx)
    per_run = ctx.load.training_hours_per_run * training + PIPELINE_PROCESSING_HOURS * processing
    runs = ctx.load.training_runs_per_month
    # On-demand prices: spot training (dev, staging) costs up to 70 % less, not counted.
    return 0.0, runs * per_run, f"{runs} runs x ({ctx.load.training_hours_per_run} h training)"


def _athena_workgroup(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    """Queries are billed by the data they scan. Assumed: each query scans all the stored
    data (`load.storedGb`, an upper bound), capped by the workgroup's per-query cutoff, at
    least 10 MB. Queries a month: those the recording's schedules start in this workgroup
    (feature materialization, daily), else a scoring workgroup's two per scoring run, else a
    training workgroup's one per training run."""
    cutoff = (r.inputs.get("configuration") or {}).get("bytesScannedCutoffPerQuery")
    gb = ctx.load.stored_gb if cutoff is None else min(ctx.load.stored_gb, float(cutoff) / 1e9)
    gb = max(gb, ATHENA_MIN_MB_PER_QUERY / 1024)
    scheduled = sum(
        1
        for x in ctx.resources
        if x.type == "aws:scheduler/schedule:Schedule"
        and (x.inputs.get("target") or {}).get("arn") == ATHENA_START_QUERY_TARGET
        and json.loads((x.inputs.get("target") or {}).get("input") or "{}").get("WorkGroup")
        == r.inputs.get("name")
    )
    if scheduled:
        queries = scheduled * MATERIALIZATION_RUNS_PER_MONTH
    elif _component(r) == "serving":
        queries = ctx.load.scoring_runs_per_month * SCORING_QUERIES_PER_RUN
    else:
        queries = ctx.load.training_runs_per_month * ATHENA_QUERIES_PER_RUN
    usage = queries * gb / GB_PER_TB * ctx.usd("athena-scanned-tb")
    return 0.0, usage, f"{queries} queries x {gb:.0f} GB scanned"


_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")
_NAMES = {
    **{d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)},
    **{m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                   "SEP", "OCT", "NOV", "DEC"], 1)},
}  # fmt: skip


def _cron_values(field_text: str, low: int, high: int) -> int:
    """How many values of `low..high` a cron field selects (`*`, lists, ranges, steps; `L`,
    `W` and `#` forms select one)."""
    if field_text in ("*", "?"):
        return high - low + 1
    count = 0
    for part in field_text.upper().split(","):
        span, _, step = part.partition("/")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, end = _NAMES.get(first) or int(first), _NAMES.get(last) or int(last)
        elif span.isdigit() or span in _NAMES:
            start = _NAMES.get(span) or int(span)
            end = high if step else start
        else:  # L, W, 15W: one day
            count += 1
            continue
        count += len(range(start, end + 1, int(step) if step else 1))
    return count


def runs_per_month(expression: str, hours: float) -> float:
    """Runs of an EventBridge Scheduler `rate(...)` or `cron(...)` expression in `hours` (a
    month: 730); 0 for anything else (a one-time `at(...)`). A cron limited to some years is
    priced as if it ran every year."""
    rate = _RATE.match(expression)
    if rate:
        every, unit = int(rate.group(1)), rate.group(2)
        return hours * {"minute": 60, "hour": 1, "day": 1 / 24}[unit] / every
    cron = _CRON.match(expression)
    if not cron:
        return 0.0
    minutes, hours_field, day_of_month, month, day_of_week, _ = cron.groups()
    days = hours / 24
    if day_of_week not in ("*", "?"):
        # `2#1` (the first Monday) and `5L` (the last Thursday) come once a month.
        parts = day_of_week.split(",")
        weekly = [p for p in parts if "#" not in p and not (len(p) > 1 and p.upper().endswith("L"))]
        days *= (_cron_values(",".join(weekly), 1, 7) / 7 if weekly else 0) + (
            len(parts) - len(weekly)
        ) * 12 / 365
    elif day_of_month not in ("*", "?"):
        days *= _cron_values(day_of_month, 1, 31) * 12 / 365
    days *= _cron_values(month, 1, 12) / 12
    return days * _cron_values(hours_field, 0, 23) * _cron_values(minutes, 0, 59)


def _schedule(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    """A schedule starting one of the kit's monitoring jobs (its input carries the
    CreateProcessingJob request) costs the job's instances for MONITORING_RUN_HOURS a run.
    The invocations themselves are free (the first 14 million a month)."""
    target = r.inputs.get("target") or {}
    try:
        payload = json.loads(target.get("input") or "{}")
    except (TypeError, ValueError):
        payload = {}
    request = payload.get("request") if isinstance(payload, dict) else None
    cluster = (
        ((request or {}).get("ProcessingResources") or {}).get("ClusterConfig")
        if isinstance(request, dict)
        else None
    )
    if not isinstance(cluster, dict):
        return 0.0, 0.0, "invocations: the first 14 million a month are free"
    instance, count = str(cluster.get("InstanceType")), int(cluster.get("InstanceCount") or 1)
    runs = runs_per_month(str(r.inputs.get("scheduleExpression", "")), ctx.hours)
    fixed = runs * MONITORING_RUN_HOURS * count * _instance_hour("processing", instance, ctx)
    return fixed, 0.0, f"{runs:.0f} runs x 10 min on {count} x {instance}"


def _mlflow_server(r: RecordedResource, ctx: Context) -> tuple[float, float, str]:
    size = str(r.inputs.get("trackingServerSize", "Small")).lower()
    return ctx.hours * ctx.usd(f"sagemaker-mlflow-{size}-hour"), 0.0, f"{size} tracking server"


RULES: dict[str, Rule] = {
    "aws:kms/key:Key": _kms_key,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ec2/flowLog:FlowLog": lambda r, ctx: (0.0, 0.0, "priced with its log group"),
    "aws:kinesis/stream:Stream": _kinesis,
    "aws:lambda/function:Function": _lambda,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:dynamodb/table:Table": _dynamodb,
    "aws:sagemaker/featureGroup:FeatureGroup": _feature_group,
    "aws-native:sagemaker:FeatureGroup": _feature_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:ecr/repository:Repository": _repository,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _composite_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sqs/queue:Queue": _queue,
    "aws:sns/topic:Topic": _topic,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": _monitoring_schedule,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:sagemaker/pipeline:Pipeline": _pipeline,
    "aws:athena/workgroup:Workgroup": _athena_workgroup,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": _mlflow_server,
}


def estimate_cost(
    resources: Sequence[RecordedResource],
    *,
    region: str,
    load: LoadSettings,
    component_of: Callable[[RecordedResource], str],
    prices: PriceTable | None = None,
) -> CostEstimate:
    """Price every cloud resource of a recording (providers and components excluded)."""
    table = prices or load_prices()
    ctx = Context(region, load, table, resources)
    priced: list[ResourceCost] = []
    unpriced: list[tuple[str, str, str]] = []
    for r in resources:
        if not r.custom or r.type.startswith("pulumi:providers:") or r.type in FREE_TYPES:
            continue
        rule = RULES.get(r.type)
        if rule is None:
            unpriced.append((r.urn, r.type, "no pricing rule for this type"))
            continue
        try:
            fixed, usage, basis = rule(r, ctx)
        except KeyError as missing:
            unpriced.append((r.urn, r.type, f"no price for {missing} in {region}"))
            continue
        priced.append(ResourceCost(r.urn, r.name, r.type, component_of(r), fixed, usage, basis))
    return CostEstimate(region, load, table, tuple(priced), tuple(unpriced))
