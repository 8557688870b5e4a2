"""Kinesis streams are encrypted with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import text
from policies.control import Control, Resource

AWS_MANAGED_KEY = "alias/aws/kinesis"


def check(stream: Resource) -> Iterable[str]:
    encryption = stream.props.get("encryptionType")
    key = text(stream.props.get("kmsKeyId"))
    if encryption != "KMS":
        yield f"stream is not encrypted with KMS (encryptionType {encryption or 'NONE'})"
    elif key is None:
        yield "stream has encryptionType KMS but no kmsKeyId"
    elif key == AWS_MANAGED_KEY:
        yield f"stream uses the AWS managed key {AWS_MANAGED_KEY}, not a customer-managed key"


CONTROL = Control(
    id="aws-kinesis-stream-kms",
    description="Kinesis data streams are encrypted at rest with a customer-managed KMS key.",
    why="The ingestion stream carries every raw transaction for up to its retention period; "
    "the stack key keeps those records under the key policy and CloudTrail like the stores "
    "they feed.",
    severity="high",
    mirrors=(
        "CKV_AWS_43",
        "CKV_AWS_185",
        "AWS Config kinesis-stream-encrypted",
        "prowler kinesis_stream_encrypted_at_rest",
    ),
    remediation="Set encryption_type='KMS' and kms_key_id=<stack key ARN> on aws.kinesis.Stream "
    "(modules.feature_store.StreamingIngestion does).",
    resource_types=("aws:kinesis/stream:Stream",),
    check=check,
    tags=("streaming",),
)
