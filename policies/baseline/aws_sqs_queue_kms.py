"""SQS queues encrypt messages with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.baseline._props import aws_managed_key
from policies.common import text
from policies.control import Control, Resource

QUEUES = ("aws:sqs/queue:Queue", "aws-native:sqs:Queue")


def check(queue: Resource) -> Iterable[str]:
    key = text(queue.props.get("kmsMasterKeyId"))
    if key and aws_managed_key(key, "sqs"):
        yield "queue uses the AWS managed key alias/aws/sqs, not a customer-managed key"
    elif not key and queue.props.get("sqsManagedSseEnabled") is True:
        yield "queue uses SQS-managed encryption (SSE-SQS), not a customer-managed KMS key"
    elif not key:
        yield "queue is not encrypted with a KMS key (kmsMasterKeyId)"


CONTROL = Control(
    id="aws-sqs-queue-kms",
    description="SQS queues encrypt at rest with a customer-managed KMS key (kmsMasterKeyId, "
    "not alias/aws/sqs); SQS-managed encryption (SSE-SQS) alone is reported.",
    why="Dead-letter queues hold the raw events that failed ingestion, card data included. "
    "SSE-SQS (the default of new queues) and the AWS managed key aws/sqs encrypt, but no "
    "key policy governs who decrypts and no key use reaches CloudTrail; the stack key "
    "gives the queue the same control as the stream it buffers.",
    severity="high",
    mirrors=(
        "CKV_AWS_27",
        "CKV2_AWS_73",
        "prowler sqs_queues_server_side_encryption_enabled",
    ),
    remediation="Set kms_master_key_id to the stack key on aws.sqs.Queue (the ingestion "
    "dead-letter queue does).",
    resource_types=QUEUES,
    check=check,
    tags=("encryption", "feature-store"),
)
