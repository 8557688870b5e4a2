"""Real-time fraud: card transactions scored in milliseconds with features seconds fresh.

Transactions stream into Kinesis; the aggregator keeps per-card rolling counts and sums in
the online feature store and every transaction in the offline store. Training reads the
offline store, the scoring API the online store: one definition per feature group, so the
two cannot skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blueprints import Blueprint
from blueprints.base import BASE_COMPONENTS, build_platform_base
from blueprints.settings import StackSettings
from modules.feature_store import FeatureGroupSpec, FeatureStore, FeatureStoreArgs
from modules.feature_store.ingestion import StreamingIngestion, StreamingIngestionArgs
from modules.metadata import Metadata, MetadataArgs

TRANSACTIONS_GROUP = "transactions"


def build(settings: StackSettings, stack: str) -> Mapping[str, Any]:
    assert settings.feature_store and settings.streaming and settings.model  # validated
    assert settings.metadata
    base = build_platform_base(settings, stack)
    groups = [
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
        )
        for group in settings.feature_store.feature_groups
    ]
    model_name = f"{stack}-fraud-model"
    consumers = {reference.split(".")[0]: [model_name] for reference in settings.model.features}
    features = FeatureStore(
        f"{stack}-features",
        FeatureStoreArgs(
            groups=groups,
            account_id=base.account_id,
            region=settings.region,
            kms_key_arn=base.key.key_arn,
            durability=base.durability,
            noncurrent_version_retention_days=settings.security.noncurrent_version_retention_days,
            consumers=consumers,
            tags=base.tags,
        ),
    )
    streaming = settings.streaming
    ingestion = StreamingIngestion(
        f"{stack}-ingestion",
        StreamingIngestionArgs(
            account_id=base.account_id,
            kms_key_arn=base.key.key_arn,
            aggregate_group_name=features.group_names[streaming.aggregate_group],
            aggregate_group_arn=features.group_arns[streaming.aggregate_group],
            transactions_group_name=features.group_names[TRANSACTIONS_GROUP],
            transactions_group_arn=features.group_arns[TRANSACTIONS_GROUP],
            windows=streaming.windows,
            durability=base.durability,
            log_retention_days=settings.observability.log_retention_days,
            on_demand=streaming.capacity_mode == "on-demand",
            shard_count=streaming.shard_count if streaming.capacity_mode == "provisioned" else 1,
            retention_hours=streaming.retention_hours,
            batch_size=streaming.batch_size,
            max_retries=streaming.max_retries,
            tags=base.tags,
        ),
    )
    metadata = Metadata(
        model_name,
        MetadataArgs(
            account_id=base.account_id,
            kms_key_arn=base.key.key_arn,
            artifacts_bucket_name=base.artifacts.bucket_name,
            artifacts_bucket_arn=base.artifacts.bucket_arn,
            alert_topic_arn=base.observability.alert_topic_arn,
            mlflow=settings.metadata.mlflow,
            description="Card-transaction fraud scores (XGBoost, binary:logistic)",
            tags=base.tags,
        ),
    )
    return base.outputs() | {
        "modelPackageGroup": metadata.model_package_group_name,
        "featureGroups": features.group_names,
        "offlineStoreUri": features.offline_s3_uri,
        "featureRegistry": features.registry,
        "transactionStream": ingestion.stream_name,
        "deadLetterQueueUrl": ingestion.dead_letter_queue_url,
    }


BLUEPRINT = Blueprint(
    key="realtime-fraud",
    summary="streaming card features, a gated training pipeline, a low-latency scoring API "
    "and drift monitoring that can trigger retraining",
    components=BASE_COMPONENTS
    | {
        "feature_store": "SageMaker feature groups (online KMS, offline Iceberg + Glue), "
        "feature registry; Kinesis stream aggregated by Lambda into the online store",
        "metadata": "model package group with approval notifications; MLflow on SageMaker "
        "(serverless app or tracking server by environment)",
    },
    build=build,
)
