"""The platform base every blueprint stands on: network, stack key, alerting, artifacts;
and the platform context built from them, which every ML component receives."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pydantic import model_validator

from mlkit.settings import StackSettings
from modules.common import Durability
from modules.network import FlowLogArgs, Network, NetworkArgs
from modules.network.settings import NetworkSettings
from modules.observability import Observability, ObservabilityArgs, SageMakerJobLogGroups
from modules.observability.settings import ObservabilitySettings
from modules.platform import Platform
from modules.security import SecureBucket, SecureBucketArgs, StackKey, StackKeyArgs
from modules.security.code_signing import LambdaCodeSigning, LambdaCodeSigningArgs
from modules.security.settings import SecuritySettings
from modules.training import ATHENA_RESULTS_EXPIRY_DAYS, ATHENA_RESULTS_PREFIX

ARTIFACT_EXPIRATIONS = {ATHENA_RESULTS_PREFIX: ATHENA_RESULTS_EXPIRY_DAYS}
"""Scratch prefixes of the artifacts bucket (its one lifecycle configuration): the training
pipeline's Athena query results (metadata and manifests of its UNLOADs)."""


class PlatformSettings(StackSettings):
    """The settings every blueprint has: the platform base's network, security and
    observability, and what prod requires of them."""

    network: NetworkSettings = NetworkSettings()
    """The VPC."""
    security: SecuritySettings = SecuritySettings()
    """The stack key and bucket lifecycle."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Alerting and log retention."""

    @model_validator(mode="after")
    def _prod_invariants(self) -> PlatformSettings:
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
        return self


NO_MONITORING_JOBS = (
    "not deployed: build functions/monitoring/Dockerfile, push it to ECR, set "
    "mlkit:monitoring.jobImage (repo@sha256:...)"
)


def monitoring_job_image(settings: PlatformSettings, image: str) -> str:
    """`monitoring.jobImage`, refused unless it is in the stack's region (SageMaker pulls a
    job's image from the job's region)."""
    image_region = image.split(".dkr.ecr.")[1].split(".")[0]
    if image_region != settings.region:
        raise settings.config_error(
            "monitoring.jobImage",
            f"the image is in {image_region}, the stack in {settings.region}: push it to "
            "the stack's region (or replicate it there)",
        )
    return image


BASE_COMPONENTS = {
    "network": "VPC with private subnets only, S3/DynamoDB gateway endpoints, "
    "interface endpoints and flow logs per environment",
    "security": "one rotating KMS key per stack; secure buckets; least-privilege IAM",
    "observability": "KMS-encrypted alert topic with the stack's subscribers; log groups",
}


@dataclass(frozen=True)
class PlatformBase:
    """What blueprints build on: the platform context every component receives, and the
    base's own components (for the stack outputs)."""

    platform: Platform
    key: StackKey
    observability: Observability
    network: Network
    artifacts: SecureBucket

    def outputs(self) -> dict[str, pulumi.Input[object]]:
        return {
            "kmsKeyArn": self.key.key_arn,
            "alertTopicArn": self.observability.alert_topic_arn,
            "vpcId": self.network.vpc_id,
            "privateSubnetIds": self.network.private_subnet_ids,
            "workloadSecurityGroupId": self.network.workload_security_group_id,
            "artifactsBucket": self.artifacts.bucket_name,
        }


def availability_zones(settings: PlatformSettings) -> list[str]:
    """The first `network.azCount` available AZs of the stack's region."""
    count = settings.network.az_count
    names = aws.get_availability_zones(state="available").names
    if len(names) < count:
        raise settings.config_error(
            "network.azCount", f"{count} zones asked for, {settings.region} has {len(names)}"
        )
    return list(names[:count])


def build_platform_base(
    settings: PlatformSettings,
    stack: str,
    required_endpoints: Sequence[str] = (),
    artifact_expirations: Mapping[str, int] = ARTIFACT_EXPIRATIONS,
) -> PlatformBase:
    """The base of `stack`; `required_endpoints` are interface endpoints the blueprint's own
    workloads cannot run without, added to those the settings list (`athena` only while
    `network.athenaJobsInVpc`: the jobs calling it run in the VPC); `artifact_expirations`
    are the scratch prefixes of the artifacts bucket its components write (prefix -> days)."""
    tags = settings.stack_tags()
    durability = Durability.from_setting(settings.durability)
    account_id = aws.get_caller_identity_output().account_id
    key = StackKey(
        f"{stack}-kms",
        StackKeyArgs(
            account_id=account_id,
            region=settings.region,
            durability=durability,
            deletion_window_days=settings.security.key_deletion_window_days,
            tags=tags,
        ),
    )
    alerting = settings.observability
    observability = Observability(
        f"{stack}-observability",
        ObservabilityArgs(
            account_id=account_id,
            kms_key_arn=key.key_arn,
            alert_emails=alerting.alert_emails,
            alert_https_endpoint=(
                alerting.alert_https_endpoint.get_secret_value()
                if alerting.alert_https_endpoint
                else None
            ),
            tags=tags,
            sagemaker_job_log_groups=SageMakerJobLogGroups(
                retention_days=alerting.log_retention_days, durability=durability
            )
            if alerting.sagemaker_job_log_groups
            else None,
        ),
    )
    net = settings.network
    flow_logs = FlowLogArgs(
        account_id=account_id,
        kms_key_arn=key.key_arn,
        retention_days=alerting.log_retention_days,
        durability=durability,
    )
    network = Network(
        f"{stack}-network",
        NetworkArgs(
            region=settings.region,
            availability_zones=availability_zones(settings),
            cidr_block=str(net.cidr_block),
            interface_endpoints=tuple(
                dict.fromkeys(
                    [
                        *net.interface_endpoints,
                        *(e for e in required_endpoints if e != "athena" or net.athena_jobs_in_vpc),
                    ]
                )
            ),
            endpoint_az_count=net.endpoint_az_count,
            flow_logs=flow_logs if net.flow_logs else None,
            tags=tags,
        ),
    )
    access_logs = None
    if settings.security.access_logs:
        access_logs = SecureBucket(
            f"{stack}-access-logs",
            SecureBucketArgs(
                kms_key_arn=None,
                receives_access_logs_from=account_id,
                logging_bucket_prefix=f"{stack}-",
                durability=durability,
                noncurrent_version_retention_days=(
                    settings.security.noncurrent_version_retention_days
                ),
                tags=tags,
            ),
        ).bucket_name
    artifacts = SecureBucket(
        f"{stack}-artifacts",
        SecureBucketArgs(
            kms_key_arn=key.key_arn,
            durability=durability,
            noncurrent_version_retention_days=settings.security.noncurrent_version_retention_days,
            expire_prefixes=artifact_expirations,
            tags=tags,
            access_log_bucket=access_logs,
        ),
    )
    require_code_signing = None
    if settings.security.code_signing:
        require_code_signing = functools.cache(
            lambda: (
                LambdaCodeSigning(
                    f"{stack}-code-signing",
                    LambdaCodeSigningArgs(
                        stack=stack, code_bucket_name=artifacts.bucket_name, tags=tags
                    ),
                ).signing
            )
        )
    platform = Platform(
        stack=stack,
        region=settings.region,
        account_id=account_id,
        durability=durability,
        kms_key_arn=key.key_arn,
        artifacts_bucket_name=artifacts.bucket_name,
        artifacts_bucket_arn=artifacts.bucket_arn,
        alert_topic_arn=observability.alert_topic_arn,
        subnet_ids=network.private_subnet_ids,
        security_group_ids=[network.workload_security_group_id],
        log_retention_days=alerting.log_retention_days,
        tracing=alerting.tracing,
        athena_jobs_in_vpc=net.athena_jobs_in_vpc,
        functions_in_vpc=net.functions_in_vpc,
        require_interface_endpoints=network.require_interface_endpoints,
        access_log_bucket_name=access_logs,
        sagemaker_job_log_groups=alerting.sagemaker_job_log_groups,
        noncurrent_version_retention_days=settings.security.noncurrent_version_retention_days,
        require_code_signing=require_code_signing,
        tags=tags,
    )
    return PlatformBase(platform, key, observability, network, artifacts)
