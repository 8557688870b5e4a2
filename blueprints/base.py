"""The platform base every blueprint stands on: network, stack key, alerting, artifacts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache

import pulumi
import pulumi_aws as aws

from blueprints.settings import StackSettings
from modules.common import Durability
from modules.network import FlowLogArgs, Network, NetworkArgs
from modules.observability import Observability, ObservabilityArgs
from modules.security import SecureBucket, SecureBucketArgs, StackKey, StackKeyArgs

BASE_COMPONENTS = {
    "network": "VPC with private subnets only, S3/DynamoDB gateway endpoints, "
    "interface endpoints and flow logs per environment",
    "security": "one rotating KMS key per stack; secure buckets; least-privilege IAM",
    "observability": "KMS-encrypted alert topic with the stack's subscribers; log groups",
}


@dataclass
class PlatformBase:
    """What blueprints build on; components take these as args."""

    account_id: pulumi.Output[str]
    durability: Durability
    tags: dict[str, str]
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


@cache
def code_version() -> str:
    """The kit's git commit, for lineage tags; `unknown` outside a git checkout."""
    from blueprints.stackfile import PROJECT_ROOT

    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def availability_zones(settings: StackSettings) -> list[str]:
    """The first `network.azCount` available AZs of the stack's region."""
    count = settings.network.az_count
    names = aws.get_availability_zones(state="available").names
    if len(names) < count:
        raise settings.config_error(
            "network.azCount", f"{count} zones asked for, {settings.region} has {len(names)}"
        )
    return list(names[:count])


def build_platform_base(settings: StackSettings, stack: str) -> PlatformBase:
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
            interface_endpoints=net.interface_endpoints,
            flow_logs=flow_logs if net.flow_logs else None,
            tags=tags,
        ),
    )
    artifacts = SecureBucket(
        f"{stack}-artifacts",
        SecureBucketArgs(
            kms_key_arn=key.key_arn,
            durability=durability,
            noncurrent_version_retention_days=settings.security.noncurrent_version_retention_days,
            tags=tags,
        ),
    )
    return PlatformBase(account_id, durability, tags, key, observability, network, artifacts)
