"""Feature groups with an online store encrypt it with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import FEATURE_GROUP_TYPES, is_on, text, value_at
from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    online = group.props.get("onlineStoreConfig")
    if not is_on(value_at(online, "enableOnlineStore")):
        return
    if text(value_at(online, "securityConfig", "kmsKeyId")) is None:
        yield "online store has no KMS key (onlineStoreConfig.securityConfig.kmsKeyId)"


CONTROL = Control(
    id="aws-sagemaker-feature-group-online-kms",
    description="SageMaker feature groups with an online store encrypt it with a "
    "customer-managed KMS key.",
    why="The online store serves the freshest customer features to every prediction; without "
    "a key of the stack, AWS-owned keys encrypt it and neither key policy nor CloudTrail "
    "shows who decrypts them.",
    severity="high",
    mirrors=("AWS Config sagemaker-featuregroup-online-store-encryption",),
    remediation="Set online_store_config.security_config.kms_key_id on "
    "the feature group (aws-native or aws) to the stack key "
    "(modules.feature_store.FeatureStore does).",
    resource_types=FEATURE_GROUP_TYPES,
    check=check,
    tags=("feature-store",),
)
