"""Stack settings: the one typed view of a stack file (`stacks/Pulumi.<stack>.yaml`).

Keys live under the `mlkit:` namespace, except the region, which is the AWS provider's own
`aws:region`. Environment profiles (`PROFILES`) supply defaults; the stack file overrides them.
Both `pulumi up` and the offline plan turn config into settings through `settings_from_config`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Mapping
from functools import cache
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic
from pulumi import RunError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "mlkit"
REGION_KEY = "aws:region"
# Namespaces whose keys belong to providers; mlkit passes them through untouched.
PROVIDER_NAMESPACES = ("aws", "aws-native", "kubernetes", "pulumi")

Environment = Literal["dev", "staging", "prod"]
BlueprintKey = Literal["platform-base", "realtime-fraud"]
Durability = Literal["retain", "destroy"]
InterfaceEndpoint = Literal[
    "sagemaker.api", "sagemaker.runtime", "sts", "logs", "ecr.api", "ecr.dkr", "kinesis-streams"
]
# The only values CloudWatch Logs accepts for a log group's retention.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
]  # fmt: skip

SECRET_PLACEHOLDER = "[secret]"


class ConfigError(RunError):
    """Invalid stack config. Each problem names the file and the field path; `pulumi up`
    prints a RunError without a traceback, and the command line exits 2 with it."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {message}" for path, message in problems))


class SecretValue(str):
    """A config string that came from a Pulumi `secure:` value."""


def _require_secret(value: Any) -> Any:
    if value is not None and not isinstance(value, SecretValue):
        raise ValueError(
            "must be a secure value: set it with `pulumi config set --secret --path ...`"
        )
    return value


# A setting that must never be written to a stack file in plain text.
Secret = Annotated[SecretStr, BeforeValidator(_require_secret)]


@cache
def aws_regions() -> frozenset[str]:
    """Regions of the standard `aws` partition where SageMaker exists, from the endpoint data
    botocore ships (read directly: creating a botocore session costs 0.1 s of every plan)."""
    botocore_dir = importlib.util.find_spec("botocore").submodule_search_locations[0]  # type: ignore[union-attr]
    endpoints = json.loads((Path(botocore_dir) / "data" / "endpoints.json").read_text())
    aws = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    return frozenset(aws["regions"]) & frozenset(aws["services"]["api.sagemaker"]["endpoints"])


def _known_region(value: str) -> str:
    if value not in aws_regions():
        raise ValueError(f"'{value}' is not an AWS region with SageMaker (e.g. eu-west-1)")
    return value


Region = Annotated[
    str, AfterValidator(_known_region), Field(json_schema_extra={"format": "aws-region"})
]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Section(BaseModel):
    """A block of settings: camelCase keys in the stack file, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class Tags(BaseModel):
    """Tags on every taggable resource. `owner` and `cost-center` are required; other keys are
    the team's own. The kit adds `mlkit:blueprint`, `mlkit:environment`, `mlkit:component`."""

    __pydantic_extra__: dict[str, TagValue]

    model_config = ConfigDict(
        extra="allow", coerce_numbers_to_str=True, frozen=True, use_attribute_docstrings=True
    )
    owner: TagValue
    """Team that owns the stack; alarms and costs are routed by it."""
    cost_center: TagValue = Field(alias="cost-center")
    """Cost center the stack is billed to."""

    @model_validator(mode="after")
    def _no_reserved_keys(self) -> Tags:
        for key in self.__pydantic_extra__ or {}:
            if key.startswith(("aws:", f"{NAMESPACE}:")) or not 0 < len(key) <= 128:
                raise ValueError(f"tag key '{key}' is reserved or longer than 128 characters")
        return self

    def as_dict(self) -> dict[str, str]:
        return {"owner": self.owner, "cost-center": self.cost_center} | dict(
            self.__pydantic_extra__ or {}
        )


def _private_cidr(value: IPv4Network) -> IPv4Network:
    if not value.is_private or not 16 <= value.prefixlen <= 24:
        raise ValueError("must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16")
    return value


class NetworkSettings(Section):
    """The VPC: private subnets only, no NAT gateway, no internet gateway."""

    cidr_block: Annotated[IPv4Network, AfterValidator(_private_cidr)] = IPv4Network("10.0.0.0/16")
    """Private IPv4 range of the VPC (/16 to /24); each AZ gets a sixteenth of it."""
    az_count: int = Field(2, ge=2, le=6)
    """Availability zones to spread private subnets over (2-6)."""
    interface_endpoints: tuple[InterfaceEndpoint, ...] = ()
    """Private paths to AWS APIs for workloads in the VPC; each costs about $7/month per AZ
    (S3 and DynamoDB gateway endpoints are always there, and free)."""
    flow_logs: bool = False
    """Record all VPC traffic to an encrypted log group."""

    @model_validator(mode="after")
    def _unique_endpoints(self) -> NetworkSettings:
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise ValueError("interfaceEndpoints lists an endpoint twice")
        return self


class SecuritySettings(Section):
    """The stack's KMS key and the lifecycle of its buckets."""

    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Days a scheduled deletion of the stack key waits (7-30)."""
    noncurrent_version_retention_days: int = Field(30, ge=1, le=3650)
    """Days replaced or deleted object versions are kept in the stack's buckets."""


class ObservabilitySettings(Section):
    """Where alarms go and how long logs are kept."""

    log_retention_days: LogRetentionDays = 30
    """Retention of every log group of the stack (a value CloudWatch Logs accepts)."""
    alert_emails: tuple[Email, ...] = ()
    """Addresses subscribed to the alert topic; each confirms by email."""
    alert_https_endpoint: Secret | None = None
    """Paging integration URL (PagerDuty, Opsgenie). It carries a token: set it with
    `pulumi config set --secret --path mlkit:observability.alertHttpsEndpoint URL`."""


FeatureType = Literal["string", "integral", "fractional"]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
# A SageMaker schedule expression, e.g. cron(0 * ? * * *) for hourly.
Cron = Annotated[str, Field(pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")]
ModelPackageArn = Annotated[
    str, Field(pattern=r"^arn:aws:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w-]+/\d+$")
]


class FeatureGroupSettings(Section):
    """One feature group: the single definition training and serving both read."""

    name: Identifier
    """Group name (snake_case); the deployed group is `<stack>-<name>` with dashes."""
    description: str = ""
    """What the group holds."""
    owner: TagValue
    """Team that owns the features (registry and alert routing)."""
    record_identifier: Identifier
    """Feature that identifies a record (e.g. `card_id`)."""
    event_time: Identifier
    """Feature with the record's event time (ISO-8601 string or epoch seconds)."""
    online: bool = True
    """Served at low latency to inference (KMS-encrypted online store)."""
    offline: bool = True
    """Kept for training in the offline store (Iceberg on the secure bucket, Glue catalog)."""
    ttl_days: int | None = Field(None, ge=1, le=3650)
    """Online records expire after this many days; none keeps them."""
    features: dict[Identifier, FeatureType]
    """Feature name -> type (`string`, `integral`, `fractional`)."""

    @model_validator(mode="after")
    def _consistent(self) -> FeatureGroupSettings:
        for role in ("record_identifier", "event_time"):
            if getattr(self, role) not in self.features:
                raise ValueError(f"{to_camel(role)} '{getattr(self, role)}' is not in features")
        if self.features[self.event_time] == "integral":
            raise ValueError("eventTime must be a string or fractional feature")
        if not (self.online or self.offline):
            raise ValueError("a feature group needs an online or an offline store")
        if self.ttl_days is not None and not self.online:
            raise ValueError("ttlDays applies to the online store only")
        return self


class FeatureStoreSettings(Section):
    """Feature groups and the backend that serves them."""

    backend: Literal["sagemaker"] = "sagemaker"
    """Feature store implementation."""
    feature_groups: tuple[FeatureGroupSettings, ...]
    """The feature groups."""

    @model_validator(mode="after")
    def _unique(self) -> FeatureStoreSettings:
        names = [group.name for group in self.feature_groups]
        if not names:
            raise ValueError("featureGroups: declare at least one group")
        if len(set(names)) != len(names):
            raise ValueError("featureGroups: two groups share a name")
        return self

    def group(self, name: str) -> FeatureGroupSettings | None:
        return next((g for g in self.feature_groups if g.name == name), None)


class StreamingSettings(Section):
    """Kinesis ingestion and the Lambda that aggregates per-card features."""

    capacity_mode: Literal["on-demand", "provisioned"] = "provisioned"
    """`provisioned` with one shard is the cheapest for low traffic (~$11/month);
    `on-demand` scales by itself (~$29/month fixed per stream)."""
    shard_count: int = Field(1, ge=1, le=500)
    """Shards in provisioned mode (1 MB/s or 1,000 records/s in each)."""
    retention_hours: int = Field(24, ge=24, le=8760)
    """How long records stay replayable."""
    aggregate_group: Identifier = "card_aggregates"
    """Online feature group the aggregator writes (needs `txn_count_<w>`, `txn_amount_<w>`)."""
    windows: dict[Annotated[str, Field(pattern=r"^\d+[mhd]$")], int] = {
        "10m": 600, "1h": 3600, "24h": 86400,
    }  # fmt: skip
    """Rolling windows, label -> seconds."""
    batch_size: int = Field(100, ge=1, le=10000)
    """Records per aggregator invocation."""
    max_retries: int = Field(3, ge=0, le=10000)
    """Retries of a failing batch before it is recorded in the dead-letter queue."""

    @model_validator(mode="after")
    def _whole_minutes(self) -> StreamingSettings:
        # The aggregator keeps one-minute buckets: a window must be made of whole buckets.
        for label, seconds in self.windows.items():
            if seconds <= 0 or seconds % 60:
                raise ValueError(f"windows: '{label}' must be a positive number of whole minutes")
        if not self.windows:
            raise ValueError("windows: declare at least one window")
        return self


class ModelSettings(Section):
    """The model's input schema: which features, in which order. Training builds its data
    set with it and the scoring API enforces it, so they cannot drift apart."""

    label: Identifier = "is_fraud"
    """Ground-truth column joined to transactions for training."""
    features: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")], ...] = (
        Field(min_length=1)
    )
    """`group.feature` references, in the model's order."""


class TrainingSettings(Section):
    """The training pipeline and its evaluation gate."""

    backend: Literal["sagemaker"] = "sagemaker"
    """Training implementation."""
    auc_threshold: float = Field(0.85, gt=0.5, le=1.0)
    """A model registers only if its validation AUC reaches this."""
    training_instance_type: InstanceType = "ml.m5.xlarge"
    """Instance type of the training job."""
    processing_instance_type: InstanceType = "ml.m5.large"
    """Instance type of data preparation and evaluation jobs."""
    training_window_days: int = Field(90, ge=1, le=3650)
    """Days of labelled transactions in a training set."""


class MetadataSettings(Section):
    """Model registry and experiment tracking."""

    backend: Literal["sagemaker"] = "sagemaker"
    """Registry implementation."""
    mlflow: Literal["none", "serverless", "small", "medium", "large"] = "serverless"
    """Experiment tracking: none, the pay-per-use MLflow app, or a dedicated tracking server
    of that size (about $0.7-2.9 an hour, and some 25 minutes to create)."""


class ServingSettings(Section):
    """The real-time endpoint and the scoring API in front of it."""

    backend: Literal["sagemaker"] = "sagemaker"
    """Serving implementation."""
    model_package_arn: ModelPackageArn | None = None
    """Approved model package to serve; none deploys everything but the endpoint."""
    shadow_model_package_arn: ModelPackageArn | None = None
    """Challenger that receives a copy of the traffic; its answers are only logged."""
    mode: Literal["serverless", "instances"] = "serverless"
    """`serverless` scales to zero (no data capture, no canary); `instances` for production."""
    instance_type: InstanceType = "ml.c5.xlarge"
    """Instance type in `instances` mode."""
    min_instances: int = Field(1, ge=1, le=100)
    """Instances always running (and the autoscaling floor)."""
    max_instances: int = Field(4, ge=1, le=100)
    """Autoscaling ceiling."""
    target_invocations_per_instance: int = Field(600, ge=1)
    """Autoscaling target, invocations per instance per minute."""
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    """Memory of a serverless endpoint."""
    serverless_max_concurrency: int = Field(5, ge=1, le=200)
    """Concurrent invocations of a serverless endpoint."""
    data_capture_percent: int = Field(0, ge=0, le=100)
    """Share of requests and responses captured for monitoring (instances mode only)."""
    canary_percent: int = Field(10, ge=1, le=50)
    """Traffic shifted to a new model first in blue/green deployments."""
    canary_wait_minutes: int = Field(10, ge=1, le=60)
    """Minutes the canary bakes before the rest of the traffic shifts."""
    api_auth: Literal["iam", "jwt"] = "iam"
    """Scoring API authorization: SigV4-signed callers, or a JWT from an identity provider."""
    jwt_issuer: str | None = None
    """Issuer URL, required with `apiAuth: jwt`."""
    jwt_audience: tuple[str, ...] = ()
    """Accepted audiences, required with `apiAuth: jwt`."""

    @model_validator(mode="after")
    def _consistent(self) -> ServingSettings:
        if self.max_instances < self.min_instances:
            raise ValueError("maxInstances is below minInstances")
        if self.mode == "serverless" and self.data_capture_percent:
            raise ValueError("dataCapturePercent: serverless endpoints cannot capture data")
        if self.mode == "serverless" and self.shadow_model_package_arn:
            raise ValueError("shadowModelPackageArn: needs mode 'instances'")
        if self.api_auth == "jwt" and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("apiAuth jwt needs jwtIssuer and jwtAudience")
        if self.shadow_model_package_arn and not self.model_package_arn:
            raise ValueError("shadowModelPackageArn: needs a modelPackageArn to shadow")
        return self


class MonitoringSettings(Section):
    """Drift and quality monitoring, alarms, and the retraining trigger."""

    backend: Literal["sagemaker"] = "sagemaker"
    """Monitoring implementation."""
    data_quality_schedule: Cron = "cron(0 * ? * * *)"
    """When captured inputs are compared with the training baseline."""
    model_quality_schedule: Cron = "cron(0 0 ? * * *)"
    """When predictions are compared with delayed ground-truth labels."""
    latency_p99_ms: int = Field(100, ge=1)
    """Alarm when p99 model latency exceeds this."""
    max_5xx_per_5_minutes: int = Field(5, ge=1)
    """Alarm when the endpoint returns more 5xx errors than this in 5 minutes."""
    max_iterator_age_seconds: int = Field(60, ge=1)
    """Alarm when the aggregator falls this far behind the stream."""
    drift_threshold: float = Field(0.1, gt=0, le=1)
    """Baseline drift distance of a feature above which its drift alarm fires."""
    dashboard: bool = True
    """A CloudWatch dashboard for the service ($3/month each beyond an account's first three)."""
    retrain_on_drift: bool = True
    """A drift alarm starts the training pipeline (still behind the evaluation gate)."""
    retrain_min_interval_hours: float = Field(24, gt=0)
    """Minimum time between two retraining runs started by alarms."""


class LoadSettings(Section):
    """The load the cost estimate prices usage at (`plan`'s `cost.atLoadMonthlyUsd`)."""

    requests_per_second: float = Field(1.0, ge=0)
    """Scoring requests per second, averaged over the month."""
    events_per_second: float = Field(1.0, ge=0)
    """Events (transactions) per second on the stream, averaged over the month."""
    event_kb: float = Field(1.0, gt=0, le=1024)
    """Average event size in KB."""
    training_runs_per_month: int = Field(4, ge=0)
    """Training pipeline runs per month."""
    training_hours_per_run: float = Field(1.0, ge=0)
    """Hours of the training job in each run."""
    stored_gb: float = Field(10.0, ge=0)
    """Data kept in the stack's buckets and offline store."""
    log_gb_per_month: float = Field(1.0, ge=0)
    """Logs ingested per month (flow logs, function logs)."""


class StackSettings(Section):
    """Everything a blueprint needs to know about one stack."""

    blueprint: BlueprintKey
    """Which reference blueprint the stack deploys."""
    environment: Environment
    """Environment profile that supplies the defaults."""
    region: Region
    """AWS region (the provider's own `aws:region` key)."""
    tags: Tags
    """Tags on every taggable resource."""
    durability: Durability
    """`retain`: stateful resources protected and kept on destroy (required in prod);
    `destroy`: `pulumi destroy` removes everything, buckets included."""
    network: NetworkSettings = NetworkSettings()
    """The VPC."""
    security: SecuritySettings = SecuritySettings()
    """The stack key and bucket lifecycle."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Alerting and log retention."""
    load: LoadSettings = LoadSettings()
    """Expected load, for the cost estimate only."""
    feature_store: FeatureStoreSettings | None = None
    """Feature groups (realtime-fraud)."""
    streaming: StreamingSettings | None = None
    """Stream ingestion and aggregation (realtime-fraud)."""
    model: ModelSettings | None = None
    """The model's input schema (realtime-fraud)."""
    training: TrainingSettings | None = None
    """Training pipeline (realtime-fraud)."""
    metadata: MetadataSettings | None = None
    """Registry and experiment tracking (realtime-fraud)."""
    serving: ServingSettings | None = None
    """Endpoint and scoring API (realtime-fraud)."""
    monitoring: MonitoringSettings | None = None
    """Monitoring, alarms and retraining (realtime-fraud)."""
    _source: str = PrivateAttr("stack config")

    def config_error(self, path: str, message: str) -> ConfigError:
        """An error about a setting that is valid on its own but not in this account or
        region (found while building), naming the stack file like validation errors do.
        `path` is under `mlkit:` unless it names its namespace (`aws:region`)."""
        key = path if ":" in path else f"{NAMESPACE}:{path}"
        return ConfigError(self._source, [(key, message)])

    @model_validator(mode="after")
    def _sections_of_the_blueprint(self) -> StackSettings:
        needed = BLUEPRINT_SECTIONS[self.blueprint]
        for field_name in OPTIONAL_SECTIONS:
            present = getattr(self, field_name) is not None
            key = to_camel(field_name)
            if field_name in needed and not present:
                raise ValueError(f"{key}: required by blueprint {self.blueprint}")
            if present and field_name not in needed:
                raise ValueError(f"{key}: not used by blueprint {self.blueprint}")
        return self

    @model_validator(mode="after")
    def _references(self) -> StackSettings:
        if self.feature_store is None:
            return self
        store = self.feature_store
        if self.model is not None:
            for reference in self.model.features:
                group_name, _, feature = reference.partition(".")
                group = store.group(group_name)
                if group is None or feature not in group.features:
                    raise ValueError(f"model: feature '{reference}' is not in featureStore")
                if group.features[feature] == "string":
                    raise ValueError(
                        f"model: feature '{reference}' is a string; the model takes numbers"
                        " (encode it as a feature first)"
                    )
        if self.streaming is not None:
            group = store.group(self.streaming.aggregate_group)
            if group is None or not group.online:
                raise ValueError(
                    f"streaming: aggregateGroup '{self.streaming.aggregate_group}' must be an"
                    " online feature group"
                )
            for label in self.streaming.windows:
                for feature in (f"txn_count_{label}", f"txn_amount_{label}"):
                    if feature not in group.features:
                        raise ValueError(f"streaming: '{group.name}' lacks feature '{feature}'")
        return self

    @model_validator(mode="after")
    def _prod_invariants(self) -> StackSettings:
        if self.environment != "prod":
            return self
        if self.durability != "retain":
            raise ValueError("durability: prod stacks must use 'retain' so data survives")
        alerting = self.observability
        if not alerting.alert_emails and alerting.alert_https_endpoint is None:
            raise ValueError(
                "observability: prod stacks need alertEmails or alertHttpsEndpoint,"
                " or alarms reach nobody"
            )
        serving = self.serving
        if serving is not None and (serving.mode != "instances" or serving.min_instances < 2):
            raise ValueError(
                "serving: prod endpoints need mode 'instances' and minInstances >= 2 (one per AZ)"
            )
        if serving is not None and not serving.data_capture_percent:
            raise ValueError("serving: prod endpoints need dataCapturePercent > 0 for monitoring")
        return self

    def stack_tags(self) -> dict[str, str]:
        """Tags every resource of the stack carries."""
        return self.tags.as_dict() | {
            f"{NAMESPACE}:blueprint": self.blueprint,
            f"{NAMESPACE}:environment": self.environment,
        }


# Sections beyond the platform base, and the blueprints that use them.
OPTIONAL_SECTIONS = (
    "feature_store", "streaming", "model", "training", "metadata", "serving", "monitoring",
)  # fmt: skip
BLUEPRINT_SECTIONS: dict[str, frozenset[str]] = {
    "platform-base": frozenset(),
    "realtime-fraud": frozenset(
        {"feature_store", "streaming", "model", "training", "metadata", "serving", "monitoring"}
    ),
}


def component_backends() -> dict[str, tuple[str, ...]]:
    """Component -> the backends its settings accept (the base components run on AWS only)."""
    backends = {"network": ("aws",), "security": ("aws",), "observability": ("aws",)}
    for field_name in OPTIONAL_SECTIONS:
        annotation = StackSettings.model_fields[field_name].annotation
        section = next(a for a in get_args(annotation) if isinstance(a, type))
        if "backend" in section.model_fields:
            backends[field_name] = get_args(section.model_fields["backend"].annotation)
    return backends


# Defaults per environment, in stack-file form; the stack file is merged over them. Sections
# a blueprint does not use are left out of its merge.
PROFILES: dict[str, dict[str, Any]] = {
    "dev": {
        "durability": "destroy",
        "network": {"azCount": 2, "interfaceEndpoints": [], "flowLogs": False},
        "security": {"keyDeletionWindowDays": 7, "noncurrentVersionRetentionDays": 7},
        "observability": {"logRetentionDays": 14},
        "load": {
            "requestsPerSecond": 0.1, "eventsPerSecond": 0.5, "trainingRunsPerMonth": 2,
            "storedGb": 5, "logGbPerMonth": 1,
        },
        "featureStore": {},
        "streaming": {"capacityMode": "provisioned", "shardCount": 1, "retentionHours": 24},
        "model": {},
        "training": {"trainingInstanceType": "ml.m5.large"},
        "metadata": {"mlflow": "serverless"},
        "serving": {"mode": "serverless", "dataCapturePercent": 0},
        "monitoring": {"retrainMinIntervalHours": 24, "dashboard": False},
    },
    "staging": {
        "durability": "destroy",
        "network": {
            "azCount": 2,
            "interfaceEndpoints": ["sagemaker.api", "sagemaker.runtime", "sts", "logs"],
            "flowLogs": True,
        },
        "security": {"keyDeletionWindowDays": 14, "noncurrentVersionRetentionDays": 30},
        "observability": {"logRetentionDays": 30},
        "load": {
            "requestsPerSecond": 1, "eventsPerSecond": 5, "trainingRunsPerMonth": 4,
            "storedGb": 50, "logGbPerMonth": 10,
        },
        "featureStore": {},
        "streaming": {"capacityMode": "provisioned", "shardCount": 1, "retentionHours": 48},
        "model": {},
        "training": {"trainingInstanceType": "ml.m5.xlarge"},
        "metadata": {"mlflow": "serverless"},
        "serving": {
            "mode": "instances", "instanceType": "ml.m5.large", "minInstances": 1,
            "maxInstances": 2, "dataCapturePercent": 100,
        },
        "monitoring": {"retrainMinIntervalHours": 24},
    },
    "prod": {
        "durability": "retain",
        "network": {
            "azCount": 3,
            "interfaceEndpoints": [
                "sagemaker.api", "sagemaker.runtime", "sts", "logs", "ecr.api", "ecr.dkr",
            ],
            "flowLogs": True,
        },
        "security": {"keyDeletionWindowDays": 30, "noncurrentVersionRetentionDays": 90},
        "observability": {"logRetentionDays": 365},
        "load": {
            "requestsPerSecond": 50, "eventsPerSecond": 200, "trainingRunsPerMonth": 8,
            "storedGb": 500, "logGbPerMonth": 100,
        },
        "featureStore": {},
        "streaming": {"capacityMode": "on-demand", "retentionHours": 168},
        "model": {},
        "training": {"trainingInstanceType": "ml.m5.xlarge"},
        "metadata": {"mlflow": "serverless"},
        "serving": {
            "mode": "instances", "instanceType": "ml.c5.xlarge", "minInstances": 2,
            "maxInstances": 6, "dataCapturePercent": 20,
        },
        "monitoring": {"retrainMinIntervalHours": 24},
    },
}  # fmt: skip


DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"


@cache
def blueprint_defaults(blueprint: str) -> dict[str, Any]:
    """A blueprint's reference settings (`blueprints/defaults/<blueprint>.yaml`), between
    the environment profile and the stack file; none for blueprints without the file."""
    import yaml

    path = DEFAULTS_DIR / f"{blueprint}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursing into mappings; lists are replaced, not appended."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any, secret: bool) -> Any:
    """A config value as Pulumi passes it (objects as JSON text) back to Python data; every
    string under a secret key becomes a SecretValue."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):  # plain text that starts with a brace
            value = json.loads(value)
    if not secret:
        return value
    if isinstance(value, str):
        return SecretValue(value)
    if isinstance(value, Mapping):
        return {key: _decode(item, True) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, True) for item in value]
    return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    head, *rest = loc
    path = REGION_KEY if head == "region" else f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the settings block at `loc` accepts, for 'unknown key' messages."""
    model: type[BaseModel] | None = StackSettings
    for part in loc:
        fields = {f.alias or n: f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(str(part))
        candidates = [field.annotation, *get_args(field.annotation)] if field else []
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if model is None or model is Tags:
        return []
    keys = sorted(f.alias or n for n, f in model.model_fields.items())
    return [k for k in keys if k != "region"] if model is StackSettings else keys


def _problems(error: pydantic.ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            message = "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif item["type"] == "missing":
            message = "required"
        if not loc:  # a whole-stack check names its own field first
            field, _, message = message.partition(": ")
            loc = (field,)
        problems.append((_field_path(loc), message))
    return problems


def settings_from_config(
    config: Mapping[str, Any], secret_keys: set[str], source: str
) -> StackSettings:
    """Validate a stack's config (full keys such as `mlkit:network`, values as Pulumi passes
    them) into settings. Raises ConfigError naming `source` and each bad field."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in config.items():
        namespace, sep, name = key.partition(":")
        if key == REGION_KEY:
            values["region"] = value
        elif namespace == NAMESPACE and sep and name == "region":
            problems.append((key, f"the region is the provider's key: use '{REGION_KEY}'"))
        elif namespace == NAMESPACE and sep and name:
            values[name] = _decode(value, key in secret_keys)
        elif namespace not in PROVIDER_NAMESPACES or not sep:
            problems.append((key, f"unknown config key (expected '{NAMESPACE}:<name>')"))
    if problems:
        raise ConfigError(source, problems)

    environment = values.get("environment")
    if not isinstance(environment, str) or environment not in PROFILES:
        allowed = ", ".join(f"'{name}'" for name in PROFILES)
        found = "required" if environment is None else f"'{environment}' is not one of {allowed}"
        raise ConfigError(source, [(f"{NAMESPACE}:environment", found)])
    blueprint = values.get("blueprint")
    blueprint = blueprint if isinstance(blueprint, str) else None  # validation reports it
    unused = {to_camel(name) for name in OPTIONAL_SECTIONS} - {
        to_camel(name) for name in BLUEPRINT_SECTIONS.get(str(blueprint), ())
    }
    profile = {key: value for key, value in PROFILES[environment].items() if key not in unused}
    try:
        defaults = blueprint_defaults(str(blueprint)) if blueprint in BLUEPRINT_SECTIONS else {}
        merged = deep_merge(deep_merge(profile, defaults), values)
        settings = StackSettings.model_validate(merged)
    except pydantic.ValidationError as error:
        raise ConfigError(source, _problems(error)) from None
    settings._source = source
    return settings
