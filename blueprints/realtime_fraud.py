"""Real-time fraud: card transactions scored in milliseconds with features seconds fresh.

Transactions stream into Kinesis; the aggregator keeps per-card rolling counts and sums in
the online feature store and every transaction in the offline store. Training reads the
offline store, the scoring API the online store: one definition per feature group, so the
two cannot skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from blueprints import Blueprint
from blueprints.base import BASE_COMPONENTS, PlatformBase, build_platform_base, code_version
from blueprints.settings import StackSettings
from functions.training.definition import MONITORING_BASELINE_DIR, load_images
from modules.feature_store import (
    FeatureGroupSpec,
    FeatureStore,
    FeatureStoreArgs,
    deployed_group_name,
    model_input_schema,
)
from modules.feature_store.ingestion import StreamingIngestion, StreamingIngestionArgs
from modules.metadata import Metadata, MetadataArgs, lineage_tags
from modules.monitoring import (
    DashboardArgs,
    EndpointAlarms,
    EndpointAlarmsArgs,
    FeaturePipelineAlarms,
    PipelineAlarmsArgs,
    RetrainingTrigger,
    RetrainingTriggerArgs,
    ServiceDashboard,
)
from modules.monitoring.model_monitor import (
    DataQualityArgs,
    DataQualityMonitoring,
    ModelQualityArgs,
    ModelQualityMonitoring,
)
from modules.serving import (
    PRIMARY_VARIANT,
    EndpointCapacity,
    RealtimeEndpoint,
    RealtimeEndpointArgs,
)
from modules.serving.api import JwtAuth, ScoringApi, ScoringApiArgs
from modules.training import Training, TrainingArgs, image_repository_arn

TRANSACTIONS_GROUP = "transactions"
NO_ENDPOINT = "not deployed: set mlkit:serving.modelPackageArn to an approved model package"
# The training pipeline's data-set step reads these groups (pipeline parameter -> group).
PIPELINE_GROUPS = {
    "TransactionsS3Uri": "transactions",
    "CardAggregatesS3Uri": "card_aggregates",
    "CustomerProfileS3Uri": "customer_profile",
}


def build(settings: StackSettings, stack: str) -> Mapping[str, Any]:
    assert settings.feature_store and settings.streaming and settings.model  # validated
    assert settings.metadata and settings.serving and settings.monitoring
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
            durability=base.durability,
            mlflow=settings.metadata.mlflow,
            description="Card-transaction fraud scores (XGBoost, binary:logistic)",
            tags=base.tags,
        ),
    )
    training = train(settings, stack, base, groups, features, metadata)
    serving_outputs = serve(settings, stack, base, groups, features, metadata, training)
    FeaturePipelineAlarms(
        f"{stack}-feature-alarms",
        PipelineAlarmsArgs(
            aggregator_function_name=ingestion.function_name,
            dead_letter_queue_name=ingestion.dead_letter_queue_name,
            alert_topic_arn=base.observability.alert_topic_arn,
            max_iterator_age_seconds=settings.monitoring.max_iterator_age_seconds,
            tags=base.tags | {"mlkit:component": "monitoring"},
        ),
    )
    dashboard_outputs: dict[str, Any] = {}
    if settings.monitoring.dashboard:
        dashboard = ServiceDashboard(
            f"{stack}-fraud",
            DashboardArgs(
                region=settings.region,
                endpoint_name=endpoint_name(stack) if settings.serving.model_package_arn else None,
                variant_name=PRIMARY_VARIANT,
                aggregator_function_name=f"{stack}-ingestion-aggregator",
                dead_letter_queue_name=f"{stack}-ingestion-dead-letters",
            ),
        )
        dashboard_outputs["dashboard"] = dashboard.dashboard_name
    return (
        base.outputs()
        | {
            "modelPackageGroup": metadata.model_package_group_name,
            "featureGroups": features.group_names,
            "offlineStoreUri": features.offline_s3_uri,
            "featureRegistry": features.registry,
            "transactionStream": ingestion.stream_name,
            "deadLetterQueueUrl": ingestion.dead_letter_queue_url,
            "trainingPipeline": training.pipeline_name,
            "imageRepository": training.repository_url,
        }
        | serving_outputs
        | dashboard_outputs
    )


def train(
    settings: StackSettings,
    stack: str,
    base: PlatformBase,
    groups: list[FeatureGroupSpec],
    features: FeatureStore,
    metadata: Metadata,
) -> Training:
    """The training pipeline over the offline store, registering into the model group."""
    assert settings.training and settings.model
    missing = sorted(set(PIPELINE_GROUPS.values()) - {g.name for g in groups})
    if missing:
        raise settings.config_error(
            "featureStore.featureGroups",
            f"the training pipeline reads groups {missing}; declare them",
        )
    offline_prefix = pulumi.Output.concat(
        features.offline_s3_uri,
        "/",
        base.account_id,
        "/sagemaker/",
        settings.region,
        "/offline-store/",
    )
    by_name = {group.name: group for group in groups}
    defaults = online_defaults(settings, groups)

    def feature(group: FeatureGroupSpec, name: str, kind: str) -> dict[str, Any]:
        default = defaults.get(group.name, {}).get(name)
        return {"name": name, "type": kind} | ({} if default is None else {"default": default})

    feature_schema = {
        "featureGroups": [
            {
                "name": group.name,
                "recordIdentifier": group.record_identifier,
                "eventTime": group.event_time,
                "features": [feature(group, f, t) for f, t in group.features.items()],
            }
            for group in groups
        ],
        "label": settings.model.label,
        "order": [reference.split(".")[1] for reference in settings.model.features],
    }
    return Training(
        f"{stack}-training",
        TrainingArgs(
            account_id=base.account_id,
            region=settings.region,
            kms_key_arn=base.key.key_arn,
            durability=base.durability,
            artifacts_bucket_name=base.artifacts.bucket_name,
            artifacts_bucket_arn=base.artifacts.bucket_arn,
            offline_bucket_arn=pulumi.Output.concat("arn:aws:s3:::", features.offline_bucket_name),
            offline_group_uris={
                parameter: pulumi.Output.concat(
                    offline_prefix, deployed_group_name(f"{stack}-features", by_name[g].name)
                )
                for parameter, g in PIPELINE_GROUPS.items()
            },
            labels_uri=pulumi.Output.concat(
                "s3://", base.artifacts.bucket_name, "/ground-truth/labels"
            ),
            feature_schema=feature_schema,
            model_package_group_name=metadata.model_package_group_name,
            model_package_group_arn=metadata.model_package_group_arn,
            subnet_ids=base.network.private_subnet_ids,
            security_group_ids=[base.network.workload_security_group_id],
            images=region_images(settings),
            auc_threshold=settings.training.auc_threshold,
            training_instance_type=settings.training.training_instance_type,
            processing_instance_type=settings.training.processing_instance_type,
            training_window_days=settings.training.training_window_days,
            code_version=code_version(),
            tags=base.tags,
        ),
    )


def online_defaults(
    settings: StackSettings, groups: list[FeatureGroupSpec]
) -> dict[str, dict[str, int | float]]:
    """Values for online features with no record. A card with no transaction in a window has
    a count and a sum of zero: the one place where a missing value has a true default. Training
    fills the same defaults, so the two see the same value."""
    assert settings.streaming
    aggregate = next(g for g in groups if g.name == settings.streaming.aggregate_group)
    zero = {"integral": 0, "fractional": 0.0}
    return {
        aggregate.name: {
            feature: zero[kind]
            for feature, kind in aggregate.features.items()
            if feature.startswith(("txn_count_", "txn_amount_"))
        }
    }


def region_images(settings: StackSettings) -> dict[str, str]:
    """The pinned SageMaker images (processing, training, monitoring) of the stack's region."""
    images = load_images().get(settings.region)
    if images is None:
        raise settings.config_error(
            "aws:region", f"no pinned SageMaker images for {settings.region} (see images.json)"
        )
    return images


def endpoint_name(stack: str) -> str:
    return f"{stack}-fraud"


def serve(
    settings: StackSettings,
    stack: str,
    base: PlatformBase,
    groups: list[FeatureGroupSpec],
    features: FeatureStore,
    metadata: Metadata,
    training: Training,
) -> dict[str, Any]:
    """The endpoint, its alarms and the scoring API, when an approved package is named; and
    where inputs are captured, drift monitoring that can start retraining."""
    assert settings.serving and settings.monitoring and settings.model and settings.streaming
    assert settings.training
    serving = settings.serving
    if serving.model_package_arn is None:
        pulumi.log.info(f"mlkit: no model endpoint in {stack}: {NO_ENDPOINT}")
        return {"endpoint": NO_ENDPOINT}
    name = endpoint_name(stack)
    used_groups = sorted({reference.split(".")[0] for reference in settings.model.features})
    lineage = lineage_tags(
        model_package_group=f"{stack}-fraud-model",
        model_package_arn=serving.model_package_arn,
        feature_groups=[deployed_group_name(f"{stack}-features", g) for g in used_groups],
        code_version=code_version(),
    )
    alarms = EndpointAlarms(
        f"{stack}-endpoint-alarms",
        EndpointAlarmsArgs(
            endpoint_name=name,
            variant_name=PRIMARY_VARIANT,
            alert_topic_arn=base.observability.alert_topic_arn,
            latency_p99_ms=settings.monitoring.latency_p99_ms,
            max_5xx_per_5_minutes=settings.monitoring.max_5xx_per_5_minutes,
            tags=base.tags,
        ),
    )
    images = region_images(settings)
    endpoint = RealtimeEndpoint(
        f"{stack}-serving",
        RealtimeEndpointArgs(
            endpoint_name=name,
            model_package_arn=serving.model_package_arn,
            account_id=base.account_id,
            region=settings.region,
            kms_key_arn=base.key.key_arn,
            artifacts_bucket_name=base.artifacts.bucket_name,
            artifacts_bucket_arn=base.artifacts.bucket_arn,
            subnet_ids=base.network.private_subnet_ids,
            security_group_ids=[base.network.workload_security_group_id],
            image_repository_arns=[image_repository_arn(images["training"])],
            capacity=EndpointCapacity(
                serverless=serving.mode == "serverless",
                instance_type=serving.instance_type,
                min_instances=serving.min_instances,
                max_instances=serving.max_instances,
                target_invocations_per_instance=serving.target_invocations_per_instance,
                serverless_memory_mb=serving.serverless_memory_mb,
                serverless_max_concurrency=serving.serverless_max_concurrency,
            ),
            data_capture_percent=serving.data_capture_percent,
            shadow_model_package_arn=serving.shadow_model_package_arn,
            canary_percent=serving.canary_percent,
            canary_wait_minutes=serving.canary_wait_minutes,
            rollback_alarm_names=[alarms.latency_alarm_name, alarms.errors_alarm_name],
            tags=base.tags | lineage,
        ),
        # Rollback alarms must exist before the first deployment can refer to them.
        opts=pulumi.ResourceOptions(depends_on=[alarms]),
    )
    defaults = online_defaults(settings, groups)
    schema = model_input_schema(
        groups,
        settings.model.features,
        {g.name: deployed_group_name(f"{stack}-features", g.name) for g in groups},
        defaults,
    )
    api = ScoringApi(
        f"{stack}-scoring",
        ScoringApiArgs(
            account_id=base.account_id,
            region=settings.region,
            endpoint_name=endpoint.endpoint_name,
            endpoint_arn=endpoint.endpoint_arn,
            model_package_arn=serving.model_package_arn,
            model_schema=schema,
            feature_group_arns=[
                features.group_arns[group.name]
                for group in groups
                if group.online and group.name in used_groups
            ],
            kms_key_arn=base.key.key_arn,
            log_retention_days=settings.observability.log_retention_days,
            durability=base.durability,
            jwt=JwtAuth(serving.jwt_issuer, serving.jwt_audience)
            if serving.api_auth == "jwt" and serving.jwt_issuer
            else None,
            tags=base.tags | lineage,
        ),
    )
    outputs: dict[str, Any] = {}
    if serving.data_capture_percent:
        monitor_job = {
            "endpoint_name": endpoint.endpoint_name,
            "account_id": base.account_id,
            "region": settings.region,
            "kms_key_arn": base.key.key_arn,
            "artifacts_bucket_name": base.artifacts.bucket_name,
            "artifacts_bucket_arn": base.artifacts.bucket_arn,
            "subnet_ids": base.network.private_subnet_ids,
            "security_group_ids": [base.network.workload_security_group_id],
            "image_uri": images["monitoring"],
            "image_repository_arn": image_repository_arn(images["monitoring"]),
            "alert_topic_arn": base.observability.alert_topic_arn,
            "tags": base.tags,
        }
        drift = DataQualityMonitoring(
            f"{stack}-data-quality",
            DataQualityArgs(
                features=schema["order"],
                baseline_uri=pulumi.Output.concat(
                    "s3://", base.artifacts.bucket_name, "/training/", MONITORING_BASELINE_DIR
                ),
                schedule=settings.monitoring.data_quality_schedule,
                drift_threshold=settings.monitoring.drift_threshold,
                **monitor_job,
            ),
        )
        quality = ModelQualityMonitoring(
            f"{stack}-model-quality",
            ModelQualityArgs(
                ground_truth_uri=pulumi.Output.concat(
                    "s3://", base.artifacts.bucket_name, "/ground-truth/monitoring"
                ),
                min_auc=settings.training.auc_threshold,
                schedule=settings.monitoring.model_quality_schedule,
                **monitor_job,
            ),
        )
        outputs["driftAlarm"] = drift.drift_alarm_name
        outputs["modelQualityAlarm"] = quality.quality_alarm_name
        if settings.monitoring.retrain_on_drift:
            trigger = RetrainingTrigger(
                f"{stack}-retraining",
                RetrainingTriggerArgs(
                    account_id=base.account_id,
                    region=settings.region,
                    alarm_names=[drift.drift_alarm_name, quality.quality_alarm_name],
                    pipeline_name=training.pipeline_name,
                    min_interval_hours=settings.monitoring.retrain_min_interval_hours,
                    kms_key_arn=base.key.key_arn,
                    log_retention_days=settings.observability.log_retention_days,
                    durability=base.durability,
                    tags=base.tags,
                ),
            )
            outputs["retrainGuard"] = trigger.function_name
    return outputs | {
        "endpoint": endpoint.endpoint_name,
        "scoreUrl": api.score_url,
        "modelInputSchema": schema,
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
        "training": "SageMaker pipeline (point-in-time data set from the offline store, "
        "validate, train, evaluate, AUC gate, register pending approval) in the VPC with "
        "network isolation; ECR repository (immutable, scanned)",
        "serving": "VPC-only endpoint from an approved package (serverless in dev; "
        "instances with autoscaling, data capture, canary blue/green and rollback alarms "
        "in prod; optional shadow); IAM/JWT scoring API enforcing the model's input schema",
        "monitoring": "endpoint latency/5xx/4xx alarms; Model Monitor data quality on "
        "captured inputs with one drift alarm per feature; drift -> guarded retraining; "
        "feature freshness and dead-letter alarms; dashboard",
    },
    build=build,
)
