"""Settings of the feature store: its groups (`mlkit:featureStore`), streaming ingestion
(`mlkit:streaming`) and batch materialization (`mlkit:materialization`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from mlkit.settings import Identifier, ScheduleExpression, Section, TagValue, backend_setting
from modules.feature_store import BACKENDS, INGESTION_BACKENDS, FeatureGroupSpec

FeatureType = Literal["string", "integral", "fractional"]
StoreBackend = backend_setting(BACKENDS)
IngestionBackend = backend_setting(INGESTION_BACKENDS)
MAX_FEATURES = 2500
"""SageMaker's limit on feature definitions per feature group."""
MAX_WINDOW_BUCKETS = 10_080
"""The aggregator's limit on the longest window, in one-minute buckets (its WINDOWS refuses
more): 7 days, the buckets a card's state item holds within DynamoDB's 400 KB."""


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
    features: dict[Identifier, FeatureType] = Field(max_length=MAX_FEATURES)
    """Feature name -> type (`string`, `integral`, `fractional`), in any order (deployed
    sorted by name). Features can be added to a deployed group in place; removing one or
    changing its type is refused by SageMaker (change safety flags it: the group would have
    to be replaced, losing its data)."""
    required: tuple[Identifier, ...] = ()
    """Online features the scoring API cannot score without: with no online value for the
    request's key it answers 422. Any other feature without a value reaches the model as a
    missing value (an empty CSV field, which XGBoost treats as missing), exactly as the
    training data set leaves it; features with a true default (the aggregate group's counts
    and sums) are never missing. Default none."""

    @model_validator(mode="after")
    def _consistent(self) -> FeatureGroupSettings:
        for role in ("record_identifier", "event_time"):
            if getattr(self, role) not in self.features:
                raise ValueError(f"{to_camel(role)} '{getattr(self, role)}' is not in features")
        for name in self.required:
            if name not in self.features:
                raise ValueError(f"required: '{name}' is not in features")
        if self.required and not self.online:
            raise ValueError(
                "required applies to online groups (an offline-only group's features arrive"
                " in the request)"
            )
        if len(set(self.required)) != len(self.required):
            raise ValueError("required: a feature is listed twice")
        if self.features[self.event_time] == "integral":
            raise ValueError("eventTime must be a string or fractional feature")
        if not (self.online or self.offline):
            raise ValueError("a feature group needs an online or an offline store")
        if self.ttl_days is not None and not self.online:
            raise ValueError("ttlDays applies to the online store only")
        return self


class FeatureStoreSettings(Section):
    """Feature groups and the backend that serves them."""

    backend: StoreBackend = "sagemaker"
    """Feature store implementation."""
    feature_groups: tuple[FeatureGroupSettings, ...]
    """The feature groups."""
    adopt_existing: bool = False
    """Import groups that already exist under their deployed names instead of creating them:
    for stacks deployed with mlkit 0.1, whose groups were pulumi-aws resources (see the
    migration steps in docs/realtime-fraud.md), or groups made outside Pulumi. Importing
    fails, changing nothing, unless the settings describe each group exactly."""

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

    def specs(self) -> list[FeatureGroupSpec]:
        """The groups as the feature store component takes them."""
        return [
            FeatureGroupSpec(
                name=group.name,
                record_identifier=group.record_identifier,
                event_time=group.event_time,
                features=group.features,
                owner=group.owner,
                description=group.description,
                online=group.online,
                offline=group.offline,
                ttl_days=group.ttl_days,
                required=group.required,
            )
            for group in self.feature_groups
        ]


class StreamingSettings(Section):
    """Kinesis ingestion and the Lambda that aggregates per-card features."""

    backend: IngestionBackend = "kinesis-lambda"
    """Stream ingestion implementation."""

    capacity_mode: Literal["on-demand", "provisioned"] = "provisioned"
    """`provisioned` with one shard is the cheapest for low traffic (~$11/month);
    `on-demand` scales by itself (~$29/month fixed per stream)."""
    shard_count: int = Field(1, ge=1, le=500)
    """Shards in provisioned mode (1 MB/s or 1,000 records/s in each)."""
    retention_hours: int = Field(24, ge=24, le=8760)
    """How long records stay replayable."""
    aggregate_group: Identifier = "card_aggregates"
    """Online feature group the aggregator writes (needs `txn_count_<w>`, `txn_amount_<w>`)."""
    # pydantic copies mutable defaults per instance.
    windows: dict[Annotated[str, Field(pattern=r"^\d+[mhd]$")], int] = {  # noqa: RUF012
        "10m": 600, "1h": 3600, "24h": 86400,
    }  # fmt: skip
    """Rolling windows, label -> seconds."""
    batch_size: int = Field(100, ge=1, le=10000)
    """Records per aggregator invocation."""
    max_retries: int = Field(3, ge=0, le=10000)
    """Retries of a failing batch before it is recorded in the dead-letter queue."""
    parallelization_factor: int = Field(1, ge=1, le=10)
    """Batches of one shard the aggregator processes at once. Lambda keeps the records of one
    partition key in order whatever the factor, which is what keeps each card's windows exact:
    producers must use the card id as the partition key. One invocation handles about
    1000 / (1 ms of CPU per event x 1769 / `aggregatorMemoryMb` + ~1 ms of AWS round trips
    per event) events/s: ~130 at 256 MB, ~370 at 1024 MB. Prod (200 events/s on average, on
    an on-demand stream of at least 4 shards, so ~50 a shard) sets 2 with 1024 MB: a shard
    drains at ~730 events/s, near its 1,000 records/s write limit, so a burst or an hour of
    backlog after an outage (720,000 events) clears in under 5 minutes instead of ~10 at 1. A
    higher factor splits a quiet shard's records into smaller batches (more calls per event)
    for no gain. Dev and staging (at most 5 events/s on one shard) keep 1."""
    aggregator_memory_mb: int = Field(256, ge=128, le=10240)
    """Memory of the aggregator Lambda, which sets its CPU (one vCPU at 1,769 MB): at ~1 ms
    of CPU per event, 256 MB gives one invocation ~150 events/s of CPU, plenty for dev and
    staging; prod sets 1024 MB (~580 events/s of CPU, ~370 with the AWS round trips; see
    `parallelizationFactor`). The cost estimate prices the function by this memory."""

    @model_validator(mode="after")
    def _whole_minutes(self) -> StreamingSettings:
        # The aggregator keeps one-minute buckets: a window must be made of whole buckets, and
        # a card's buckets of the longest window must fit one DynamoDB item (the handler
        # refuses more than MAX_WINDOW_BUCKETS of them).
        for label, seconds in self.windows.items():
            if seconds <= 0 or seconds % 60:
                raise ValueError(f"windows: '{label}' must be a positive number of whole minutes")
            if seconds // 60 > MAX_WINDOW_BUCKETS:
                raise ValueError(
                    f"windows: '{label}' is longer than {MAX_WINDOW_BUCKETS} one-minute buckets"
                    " (7 days): a card's window state must fit one DynamoDB item"
                )
        if not self.windows:
            raise ValueError("windows: declare at least one window")
        return self


class MaterializationSettings(Section):
    """The daily SQL on Athena that computes offline features from the data lake."""

    schedule: ScheduleExpression = "cron(0 2 * * ? *)"
    """When the materialization queries start (UTC); each computes the features as of the
    start of that UTC day from the events before it."""
    scan_limit_gb: int = Field(100, ge=1, le=100_000)
    """Athena cancels a materialization query scanning more than this many GB (10^9 bytes;
    $5 per TB scanned: 100 GB is at most $0.50 a query)."""
