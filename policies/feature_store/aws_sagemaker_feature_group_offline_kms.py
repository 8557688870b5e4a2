"""Feature groups with an offline store encrypt it with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import FEATURE_GROUP_TYPES, text, value_at
from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    offline = group.props.get("offlineStoreConfig")
    if offline is None:
        return
    if text(value_at(offline, "s3StorageConfig", "kmsKeyId")) is None:
        yield "offline store has no KMS key (offlineStoreConfig.s3StorageConfig.kmsKeyId)"


CONTROL = Control(
    id="aws-sagemaker-feature-group-offline-kms",
    description="SageMaker feature groups with an offline store encrypt its S3 objects with a "
    "customer-managed KMS key.",
    why="The offline store holds the full history of every feature, i.e. the training data; "
    "encrypting it with the stack key ties reads to the key policy and to CloudTrail.",
    severity="high",
    mirrors=("AWS Config sagemaker-featuregroup-encryption-at-rest",),
    remediation="Set offline_store_config.s3_storage_config.kms_key_id on "
    "the feature group (aws-native or aws) to the stack key "
    "(modules.feature_store.FeatureStore does).",
    resource_types=FEATURE_GROUP_TYPES,
    check=check,
    tags=("feature-store",),
)
