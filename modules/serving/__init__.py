"""Serving: a SageMaker real-time endpoint built from an approved model package (and, in
`api.py`, the scoring API in front of it), or batch serving of precomputed predictions
(`batch.py`: a table of generations, its loader, lookup API and scoring pipeline). Backends:
`BACKENDS` (role `endpoint`: `sagemaker`) and `BATCH_BACKENDS` (role `batch`: `dynamodb`),
contracts in `contract.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.observability import encrypted_log_group
from modules.platform import Platform
from modules.security.iam import allow, sagemaker_job_statements, service_role
from modules.serving.contract import BACKENDS
from modules.serving.contract import ServingEndpoint as ServingEndpoint

PRIMARY_VARIANT = "primary"
SHADOW_VARIANT = "shadow"


@dataclass
class EndpointCapacity:
    """How the endpoint runs: on instances (autoscaled) or serverless (scales to zero)."""

    serverless: bool
    """Serverless inference: no idle cost, no data capture, no canary."""
    instance_type: str = "ml.c5.xlarge"
    """Instance type on instances; default `ml.c5.xlarge`."""
    min_instances: int = 1
    """Instances always running; the autoscaling floor; default 1."""
    max_instances: int = 4
    """The autoscaling ceiling; default 4."""
    target_invocations_per_instance: int = 600
    """Autoscaling target (invocations per instance per minute); default 600."""
    serverless_memory_mb: int = 2048
    """Memory of a serverless endpoint; default 2048."""
    serverless_max_concurrency: int = 5
    """Concurrency of a serverless endpoint; default 5."""


@dataclass
class RealtimeEndpointArgs:
    """The endpoint's own args; the platform gives the account, region, key (volumes,
    captured data), the artifacts bucket (model artifacts under `training/`, captured data
    under `data-capture/`) and the private subnets and security groups of the containers."""

    endpoint_name: str
    """Name of the endpoint (known before it exists, so alarms can watch it)."""
    model_package_arn: pulumi.Input[str]
    """Approved model package to serve."""
    image_repository_arns: Sequence[str]
    """ECR repositories the model package images come from (pull rights)."""
    capacity: EndpointCapacity
    """Instances or serverless."""
    data_capture_percent: int = 0
    """Share of requests and responses captured for monitoring (instances only); default 0."""
    shadow_model_package_arn: pulumi.Input[str] | None = None
    """Challenger served a copy of the traffic (instances only); default none."""
    canary_percent: int = 10
    """Capacity that takes traffic first in a blue/green update; default 10."""
    canary_wait_minutes: int = 10
    """Baking time of the canary; default 10."""
    rollback_alarm_names: Sequence[pulumi.Input[str]] = ()
    """Alarms that roll an update back while it bakes; default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags (e.g. lineage tags); default none."""


@BACKENDS.register(
    "sagemaker",
    "VPC-only SageMaker endpoint from an approved package: serverless, or instances with "
    "autoscaling, data capture, canary blue/green with rollback alarms, optional shadow",
)
class RealtimeEndpoint(pulumi.ComponentResource):
    """A VPC-only, network-isolated model from an approved package, its endpoint configuration
    (KMS, data capture, optional shadow variant) and the endpoint. On instances: blue/green
    updates that shift a canary first and roll back on alarms, and target-tracking
    autoscaling on invocations per instance. Serverless: scales to zero."""

    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    data_capture_uri: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: RealtimeEndpointArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:serving:RealtimeEndpoint", name, None, opts)
        capacity = args.capacity
        if capacity.serverless and (args.data_capture_percent or args.shadow_model_package_arn):
            raise ValueError("serverless endpoints support neither data capture nor shadows")
        if capacity.max_instances < capacity.min_instances:
            raise ValueError("max_instances is below min_instances")
        tags = platform.component_tags("serving") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        bucket_arn, key_arn = platform.artifacts_bucket_arn, platform.kms_key_arn

        role = service_role(
            f"{name}-role",
            service="sagemaker.amazonaws.com",
            account_id=platform.account_id,
            statements=[
                allow(
                    ["s3:GetObject"],
                    [pulumi.Output.concat(bucket_arn, "/training/*")],
                    sid="ModelArtifacts",
                ),
                *(
                    [
                        allow(
                            ["s3:PutObject"],
                            [pulumi.Output.concat(bucket_arn, "/data-capture/*")],
                            sid="DataCapture",
                        )
                    ]
                    if args.data_capture_percent
                    else []
                ),
                allow(["kms:Decrypt", "kms:GenerateDataKey"], [key_arn], sid="Key"),
                *sagemaker_job_statements(
                    region=platform.region,
                    account_id=platform.account_id,
                    image_repository_arns=args.image_repository_arns,
                    in_vpc=not capacity.serverless,
                    create_log_groups=False,  # the endpoint's group is made below
                ),
            ],
            tags=tags,
            parent=self,
        )

        # Serverless inference supports neither VPC configuration nor network isolation (its
        # documented feature exclusions): SageMaker refuses such a model on a serverless
        # variant. On instances the model runs in the private subnets, isolated.
        placement: dict[str, object] = (
            {}
            if capacity.serverless
            else {
                "enable_network_isolation": True,
                "vpc_config": {
                    "subnets": platform.subnet_ids,
                    "security_group_ids": list(platform.security_group_ids),
                },
            }
        )

        def model(role_name: str, package_arn: pulumi.Input[str]) -> aws.sagemaker.Model:
            return aws.sagemaker.Model(
                f"{name}-{role_name}-model",
                primary_container={"model_package_name": package_arn},
                execution_role_arn=role.arn,
                **placement,
                tags=resource_tags(
                    f"{name}-{role_name}-model", tags, {"mlkit:model-package": package_arn}
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role.policy]),
            )

        primary = model(PRIMARY_VARIANT, args.model_package_arn)
        if capacity.serverless:
            variant = {
                "variant_name": PRIMARY_VARIANT,
                "model_name": primary.name,
                "serverless_config": {
                    "memory_size_in_mb": capacity.serverless_memory_mb,
                    "max_concurrency": capacity.serverless_max_concurrency,
                },
            }
        else:
            variant = {
                "variant_name": PRIMARY_VARIANT,
                "model_name": primary.name,
                "instance_type": capacity.instance_type,
                "initial_instance_count": capacity.min_instances,
                "initial_variant_weight": 1,
            }
        shadows = []
        if args.shadow_model_package_arn:
            shadow = model(SHADOW_VARIANT, args.shadow_model_package_arn)
            shadows = [
                {
                    "variant_name": SHADOW_VARIANT,
                    "model_name": shadow.name,
                    "instance_type": capacity.instance_type,
                    "initial_instance_count": 1,
                    "initial_variant_weight": 1,
                }
            ]
        self.data_capture_uri = None
        data_capture = None
        if args.data_capture_percent:
            self.data_capture_uri = pulumi.Output.concat(
                "s3://", platform.artifacts_bucket_name, "/data-capture/", args.endpoint_name
            )
            data_capture = {
                "enable_capture": True,
                "initial_sampling_percentage": args.data_capture_percent,
                "destination_s3_uri": self.data_capture_uri,
                "kms_key_id": key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
                "capture_content_type_header": {"csv_content_types": ["text/csv"]},
            }
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            shadow_production_variants=shadows or None,
            data_capture_config=data_capture,
            # SageMaker rejects a volume key for serverless variants (they have no volume).
            kms_key_arn=None if capacity.serverless else key_arn,
            tags=resource_tags(f"{name}-config", tags),
            opts=child,
        )
        deployment = None
        if not capacity.serverless:
            deployment = {
                "blue_green_update_policy": {
                    "traffic_routing_configuration": {
                        "type": "CANARY",
                        "canary_size": {"type": "CAPACITY_PERCENT", "value": args.canary_percent},
                        "wait_interval_in_seconds": args.canary_wait_minutes * 60,
                    },
                    "termination_wait_in_seconds": 300,
                },
                "auto_rollback_configuration": {
                    "alarms": [{"alarm_name": alarm} for alarm in args.rollback_alarm_names]
                }
                if args.rollback_alarm_names
                else None,
            }
        # SageMaker writes the endpoint's container logs here; made first, with the stack key
        # and retention, so that it is not created unencrypted and never expiring.
        endpoint_logs = encrypted_log_group(
            f"{name}-endpoint-logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{args.endpoint_name}",
            retention_days=platform.log_retention_days,
            kms_key_arn=key_arn,
            durability=platform.durability,
            tags=tags,
            parent=self,
        )
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=deployment,
            tags=resource_tags(f"{name}-endpoint", tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint_logs]),
        )
        if not capacity.serverless:
            target = aws.appautoscaling.Target(
                f"{name}-scaling-target",
                service_namespace="sagemaker",
                resource_id=pulumi.Output.concat(
                    "endpoint/", endpoint.name, "/variant/", PRIMARY_VARIANT
                ),
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=capacity.min_instances,
                max_capacity=capacity.max_instances,
                tags=resource_tags(f"{name}-scaling-target", tags),
                opts=child,
            )
            aws.appautoscaling.Policy(
                f"{name}-scaling-policy",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration={
                    "target_value": capacity.target_invocations_per_instance,
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                    },
                    # Scale out fast on a spike, in slowly so a dip does not drop capacity.
                    "scale_out_cooldown": 60,
                    "scale_in_cooldown": 300,
                },
                opts=child,
            )
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "data_capture_uri": self.data_capture_uri,
            }
        )


# The batch role's backends register on import (after the endpoint's, which they do not use).
from modules.serving.batch import BatchLookup as BatchLookup  # noqa: E402
from modules.serving.batch import BatchLookupArgs as BatchLookupArgs  # noqa: E402
from modules.serving.batch import BatchScoringArgs as BatchScoringArgs  # noqa: E402
from modules.serving.contract import BATCH_BACKENDS as BATCH_BACKENDS  # noqa: E402
from modules.serving.contract import BatchPredictions as BatchPredictions  # noqa: E402
