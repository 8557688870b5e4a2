"""SageMaker Model Monitor on the endpoint's captured data: data quality (captured inputs
against the training baseline, one alarm per feature naming it) and model quality
(predictions against delayed ground-truth labels). Together they are the `sagemaker`
backend of the monitoring role `signal` (see `contract.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.monitoring.alarms import metric_alarm
from modules.monitoring.contract import BACKENDS
from modules.platform import Platform
from modules.security.iam import allow, sagemaker_job_statements, service_role

# Model Monitor publishes per-feature drift here when publish_cloudwatch_metrics is on,
# and model-quality metrics (auc, f1, ...) in the second.
DRIFT_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"


@dataclass(kw_only=True)
class MonitorJobArgs:
    """What both kinds of monitoring job take; the platform gives the account, region, key
    (volumes, reports), the artifacts bucket (captured data, baselines, labels, reports), the
    private subnets and security groups of the jobs, and the alert topic alarms notify."""

    endpoint_name: pulumi.Input[str]
    """Endpoint whose captured data is analysed."""
    image_uri: str
    """Model Monitor analyzer image of the region."""
    image_repository_arn: str
    """Its repository (pull rights)."""
    schedule: str = "cron(0 * ? * * *)"
    """When the analysis runs; default hourly."""
    instance_type: str = "ml.m5.large"
    """Monitoring job instance type; default `ml.m5.large`."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""


@dataclass(kw_only=True)
class DataQualityArgs(MonitorJobArgs):
    features: Sequence[str]
    """Model input features in column order (captured CSV has no header: Model Monitor names
    columns `_c0`, `_c1`, ... so each alarm maps its column back to the feature)."""
    baseline_uri: pulumi.Input[str]
    """Prefix holding `statistics.json` and `constraints.json` from the training data."""
    drift_threshold: float = 0.1
    """Baseline drift distance above which a feature's alarm fires; default 0.1."""


@dataclass(kw_only=True)
class ModelQualityArgs(MonitorJobArgs):
    ground_truth_uri: pulumi.Input[str]
    """Prefix of delayed labels: JSON lines `{"groundTruthData": {"data": "1", "encoding":
    "CSV"}, "eventMetadata": {"eventId": <request id>}, "eventVersion": "0"}` under
    `yyyy/mm/dd/hh/`."""
    min_auc: float
    """Alarm when the live AUC falls below this (the training gate's threshold)."""


def job_environment(platform: Platform, args: MonitorJobArgs, role: aws.iam.Role) -> dict[str, Any]:
    """Where a monitoring job runs, the same for both kinds of job definition: one encrypted
    instance in the private subnets, network-isolated, for at most an hour."""
    return {
        "job_resources": {
            "cluster_config": {
                "instance_count": 1,
                "instance_type": args.instance_type,
                "volume_size_in_gb": 20,
                "volume_kms_key_id": platform.kms_key_arn,
            }
        },
        "network_config": {
            "enable_network_isolation": True,
            "enable_inter_container_traffic_encryption": True,
            "vpc_config": {
                "subnets": platform.subnet_ids,
                "security_group_ids": list(platform.security_group_ids),
            },
        },
        "role_arn": role.arn,
        "stopping_condition": {"max_runtime_in_seconds": 3600},
    }


def monitoring_job_role(
    name: str,
    platform: Platform,
    args: MonitorJobArgs,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """What a Model Monitor job needs: read captured data, baselines and labels, write
    reports, the key, the analyzer image, VPC interfaces, logs and metrics."""
    bucket = platform.artifacts_bucket_arn
    return service_role(
        name,
        service="sagemaker.amazonaws.com",
        account_id=platform.account_id,
        statements=[
            allow(
                ["s3:GetObject"],
                [
                    pulumi.Output.concat(bucket, "/data-capture/*"),
                    pulumi.Output.concat(bucket, "/training/*"),
                    pulumi.Output.concat(bucket, "/ground-truth/*"),
                ],
                sid="CapturedDataBaselinesLabels",
            ),
            allow(["s3:PutObject"], [pulumi.Output.concat(bucket, "/monitoring/*")], sid="Reports"),
            allow(["s3:ListBucket"], [bucket], sid="List"),
            allow(
                ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"],
                [platform.kms_key_arn],
                sid="Key",
            ),
            *sagemaker_job_statements(
                region=platform.region,
                account_id=platform.account_id,
                image_repository_arns=[args.image_repository_arn],
            ),
        ],
        tags=tags,
        parent=parent,
    )


class DataQualityMonitoring(pulumi.ComponentResource):
    """A data-quality job definition (VPC, network isolation, encrypted volume and reports)
    and its schedule on the endpoint's captured data; a drift alarm per input feature, named
    after the feature; and one composite drift alarm that fires when any feature drifts
    (it notifies the alert topic and is what the retraining trigger listens to)."""

    drift_alarm_name: pulumi.Output[str]
    schedule_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: DataQualityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:monitoring:DataQualityMonitoring", name, None, opts)
        if not args.features or len(set(args.features)) != len(args.features):
            raise ValueError("features must be non-empty and unique")
        tags = platform.component_tags("monitoring") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        reports = pulumi.Output.concat(
            "s3://", platform.artifacts_bucket_name, "/monitoring/data-quality/", args.endpoint_name
        )

        role = monitoring_job_role(f"{name}-role", platform, args, tags=tags, parent=self)
        job = aws.sagemaker.DataQualityJobDefinition(
            f"{name}-job",
            data_quality_app_specification={
                "image_uri": args.image_uri,
                "environment": {"publish_cloudwatch_metrics": "Enabled"},
            },
            data_quality_baseline_config={
                "constraints_resource": {
                    "s3_uri": pulumi.Output.concat(args.baseline_uri, "/constraints.json")
                },
                "statistics_resource": {
                    "s3_uri": pulumi.Output.concat(args.baseline_uri, "/statistics.json")
                },
            },
            data_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": args.endpoint_name,
                    "local_path": ENDPOINT_INPUT_PATH,
                    "s3_data_distribution_type": "FullyReplicated",
                    "s3_input_mode": "File",
                }
            },
            data_quality_job_output_config={
                "kms_key_id": platform.kms_key_arn,
                "monitoring_outputs": {
                    "s3_output": {
                        "s3_uri": reports,
                        "local_path": OUTPUT_PATH,
                        "s3_upload_mode": "EndOfJob",
                    }
                },
            },
            **job_environment(platform, args, role),
            tags=resource_tags(f"{name}-job", tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        schedule_name = pulumi.Output.concat(args.endpoint_name, "-data-quality")
        schedule = aws.sagemaker.MonitoringSchedule(
            f"{name}-schedule",
            name=schedule_name,
            monitoring_schedule_config={
                "monitoring_job_definition_name": job.name,
                "monitoring_type": "DataQuality",
                "schedule_config": {"schedule_expression": args.schedule},
            },
            tags=resource_tags(f"{name}-schedule", tags),
            opts=child,
        )
        feature_alarms = []
        for column, feature in enumerate(args.features):
            alarm = metric_alarm(
                f"{name}-drift-{feature.replace('_', '-')}",
                alarm_name=pulumi.Output.concat(args.endpoint_name, "-drift-", feature),
                description=f"Input feature '{feature}' (column {column}) drifted from the "
                "training baseline",
                namespace=DRIFT_NAMESPACE,
                metric=f"feature_baseline_drift__c{column}",
                dimensions={"Endpoint": args.endpoint_name, "MonitoringSchedule": schedule.name},
                statistic="Maximum",
                period=3600,
                threshold=args.drift_threshold,
                topic_arn=platform.alert_topic_arn,
                tags=tags,
                parent=self,
            )
            feature_alarms.append(alarm)
        drift = aws.cloudwatch.CompositeAlarm(
            f"{name}-drift",
            alarm_name=pulumi.Output.concat(args.endpoint_name, "-drift"),
            alarm_description="Some input feature drifted from the training baseline (see the "
            "per-feature alarms); starts retraining behind the evaluation gate",
            alarm_rule=pulumi.Output.all(*[a.name for a in feature_alarms]).apply(
                lambda names: " OR ".join(f'ALARM("{n}")' for n in names)
            ),
            actions_enabled=True,
            alarm_actions=[platform.alert_topic_arn],
            ok_actions=[platform.alert_topic_arn],
            tags=resource_tags(f"{name}-drift", tags),
            opts=child,
        )
        self.drift_alarm_name = drift.alarm_name
        self.schedule_name = schedule.name
        self.register_outputs(
            {"drift_alarm_name": self.drift_alarm_name, "schedule_name": self.schedule_name}
        )


class ModelQualityMonitoring(pulumi.ComponentResource):
    """A model-quality job definition (binary classification; VPC, network isolation,
    encrypted volume and reports) and its schedule, joining captured predictions to delayed
    labels by inference id (the scoring API sends its request id), and an alarm when the live
    AUC falls below the training gate's threshold."""

    quality_alarm_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: ModelQualityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:monitoring:ModelQualityMonitoring", name, None, opts)
        if not 0.5 < args.min_auc <= 1:
            raise ValueError("min_auc must be above 0.5 (chance) and at most 1")
        tags = platform.component_tags("monitoring") | dict(args.tags)
        role = monitoring_job_role(f"{name}-role", platform, args, tags=tags, parent=self)
        reports = pulumi.Output.concat(
            "s3://",
            platform.artifacts_bucket_name,
            "/monitoring/model-quality/",
            args.endpoint_name,
        )
        # pulumi-aws has no model-quality job definition; the aws-native provider (AWS Cloud
        # Control) does. Imported here: it adds half a second to every plan that has none.
        import pulumi_aws_native as aws_native

        # It does not read `aws:region`, so it gets the stack's region here;
        # credentials come from the environment like pulumi-aws's. Its tags are a list.
        native = aws_native.Provider(
            f"{name}-aws-native", region=platform.region, opts=pulumi.ResourceOptions(parent=self)
        )
        job = aws_native.sagemaker.ModelQualityJobDefinition(
            f"{name}-job",
            endpoint_name=args.endpoint_name,
            model_quality_app_specification={
                "image_uri": args.image_uri,
                "problem_type": "BinaryClassification",
            },
            model_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": args.endpoint_name,
                    "local_path": ENDPOINT_INPUT_PATH,
                    # The endpoint answers one probability per request (text/csv).
                    "probability_attribute": "0",
                    "probability_threshold_attribute": 0.5,
                    "s3_data_distribution_type": "FullyReplicated",
                    "s3_input_mode": "File",
                },
                "ground_truth_s3_input": {"s3_uri": args.ground_truth_uri},
            },
            model_quality_job_output_config={
                "kms_key_id": platform.kms_key_arn,
                "monitoring_outputs": [
                    {
                        "s3_output": {
                            "s3_uri": reports,
                            "local_path": OUTPUT_PATH,
                            "s3_upload_mode": "EndOfJob",
                        }
                    }
                ],
            },
            **job_environment(platform, args, role),
            tags=[{"key": k, "value": v} for k, v in resource_tags(f"{name}-job", tags).items()],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role], provider=native),
        )
        schedule = aws.sagemaker.MonitoringSchedule(
            f"{name}-schedule",
            name=pulumi.Output.concat(args.endpoint_name, "-model-quality"),
            monitoring_schedule_config={
                "monitoring_job_definition_name": job.job_definition_name,
                "monitoring_type": "ModelQuality",
                "schedule_config": {"schedule_expression": args.schedule},
            },
            tags=resource_tags(f"{name}-schedule", tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        alarm = metric_alarm(
            f"{name}-auc",
            alarm_name=pulumi.Output.concat(args.endpoint_name, "-model-quality"),
            description=f"Live AUC (predictions vs delayed labels) below {args.min_auc}",
            namespace=MODEL_METRICS_NAMESPACE,
            metric="auc",
            dimensions={"Endpoint": args.endpoint_name, "MonitoringSchedule": schedule.name},
            statistic="Minimum",
            period=86400,
            threshold=args.min_auc,
            comparison="LessThanThreshold",
            topic_arn=platform.alert_topic_arn,
            tags=tags,
            parent=self,
        )
        self.quality_alarm_name = alarm.name
        self.register_outputs({"quality_alarm_name": self.quality_alarm_name})


@dataclass(kw_only=True)
class ModelMonitorArgs:
    """Args of the `sagemaker` signal backend: both monitors on one endpoint's captured data."""

    data_quality: DataQualityArgs
    """Drift of captured inputs from the training baseline (`<name>-data-quality`)."""
    model_quality: ModelQualityArgs
    """Live quality against delayed labels (`<name>-model-quality`)."""


@dataclass(frozen=True)
class ModelMonitors:
    """The `sagemaker` signal backend's monitors; gives the `RetrainingSignal` contract."""

    data_quality: DataQualityMonitoring
    model_quality: ModelQualityMonitoring

    @property
    def drift_alarm_name(self) -> pulumi.Output[str]:
        return self.data_quality.drift_alarm_name

    @property
    def quality_alarm_name(self) -> pulumi.Output[str]:
        return self.model_quality.quality_alarm_name


@BACKENDS.register(
    "sagemaker",
    "SageMaker Model Monitor on captured data: data quality (a drift alarm per feature) and "
    "model quality (live AUC against delayed labels)",
)
def model_monitors(
    name: str,
    platform: Platform,
    args: ModelMonitorArgs,
    opts: pulumi.ResourceOptions | None = None,
) -> ModelMonitors:
    """`<name>-data-quality` and `<name>-model-quality`, side by side (two components, so a
    stack that had them keeps their URNs)."""
    return ModelMonitors(
        DataQualityMonitoring(f"{name}-data-quality", platform, args.data_quality, opts),
        ModelQualityMonitoring(f"{name}-model-quality", platform, args.model_quality, opts),
    )
