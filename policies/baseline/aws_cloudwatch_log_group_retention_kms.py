"""Log groups expire their logs and encrypt them with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import number, text
from policies.control import Control, Resource

LOG_GROUPS = ("aws:cloudwatch/logGroup:LogGroup", "aws-native:logs:LogGroup")


def check(group: Resource) -> Iterable[str]:
    value = group.props.get("retentionInDays")
    days = number(value)
    if value is not None and days is None:
        yield f"log group retentionInDays {value!r} is not a number of days"
    elif days is None or days <= 0:
        yield "log group keeps logs forever (retentionInDays unset or 0)"
    if text(group.props.get("kmsKeyId")) is None:
        yield "log group is not encrypted with a KMS key (kmsKeyId)"


CONTROL = Control(
    id="aws-cloudwatch-log-group-retention-kms",
    description="CloudWatch log groups set a retention period (retentionInDays > 0) and a KMS "
    "key (kmsKeyId).",
    why="Scoring and ingestion logs carry request payloads and feature values: they need the "
    "same key as the data, and a retention period bounds both exposure and cost.",
    severity="medium",
    mirrors=(
        "CKV_AWS_66",
        "CKV_AWS_158",
        "AWS Config cw-loggroup-retention-period-check",
        "AWS Config cloudwatch-log-group-encrypted",
        "prowler cloudwatch_log_group_retention_policy_specific_days_enabled",
        "prowler cloudwatch_log_group_kms_encryption_enabled",
    ),
    remediation="Set retention_in_days and kms_key_id (the stack key) on aws.cloudwatch.LogGroup "
    "(modules.observability log groups do).",
    resource_types=LOG_GROUPS,
    check=check,
    tags=("logging", "encryption"),
)
