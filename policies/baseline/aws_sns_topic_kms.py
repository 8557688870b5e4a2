"""SNS topics encrypt messages with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.baseline._props import aws_managed_key
from policies.common import text
from policies.control import Control, Resource

TOPICS = ("aws:sns/topic:Topic", "aws-native:sns:Topic")


def check(topic: Resource) -> Iterable[str]:
    key = text(topic.props.get("kmsMasterKeyId"))
    if not key:
        yield "topic is not encrypted with a KMS key (kmsMasterKeyId)"
    elif aws_managed_key(key, "sns"):
        yield "topic uses the AWS managed key alias/aws/sns, not a customer-managed key"


CONTROL = Control(
    id="aws-sns-topic-kms",
    description="SNS topics encrypt at rest with a customer-managed KMS key (kmsMasterKeyId, "
    "not alias/aws/sns).",
    why="Alert and drift notifications name endpoints, models and data issues. The AWS "
    "managed key aws/sns cannot be granted to CloudWatch alarms or EventBridge (its policy "
    "is fixed), so encrypted alerts need a customer-managed key anyway.",
    severity="high",
    mirrors=(
        "CKV_AWS_26",
        "AWS Config sns-encrypted-kms",
        "prowler sns_topics_kms_encryption_at_rest_enabled",
    ),
    remediation="Set kms_master_key_id to the stack key on aws.sns.Topic and let "
    "cloudwatch.amazonaws.com and events.amazonaws.com use it in the key policy "
    "(modules.observability and modules.security.StackKey do).",
    resource_types=TOPICS,
    check=check,
    tags=("encryption", "observability"),
)
