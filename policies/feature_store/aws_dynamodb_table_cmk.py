"""DynamoDB tables are encrypted with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_on, text, value_at
from policies.control import Control, Resource


def check(table: Resource) -> Iterable[str]:
    sse = table.props.get("serverSideEncryption")
    if not is_on(value_at(sse, "enabled")):
        yield "table is encrypted with an AWS-owned key (serverSideEncryption not enabled)"
    elif text(value_at(sse, "kmsKeyArn")) is None:
        yield "table is encrypted with the AWS managed key aws/dynamodb (no kmsKeyArn)"


CONTROL = Control(
    id="aws-dynamodb-table-cmk",
    description="DynamoDB tables are encrypted with a customer-managed KMS key.",
    why="Streaming aggregation state and online features are customer data; with the stack "
    "key their reads follow the key policy and show in CloudTrail, and the key can be "
    "disabled in an incident.",
    severity="high",
    mirrors=(
        "CKV_AWS_119",
        "AWS Config dynamodb-table-encrypted-kms",
        "prowler dynamodb_tables_kms_cmk_encryption_enabled",
    ),
    remediation="Set server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs("
    "enabled=True, kms_key_arn=<stack key ARN>) (modules.feature_store.StreamingIngestion does).",
    resource_types=("aws:dynamodb/table:Table",),
    check=check,
    tags=("feature-store",),
)
