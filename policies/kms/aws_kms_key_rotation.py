"""Customer-managed keys rotate."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource


def check(key: Resource) -> Iterable[str]:
    if key.props.get("enableKeyRotation") is not True:
        yield "KMS key rotation is not enabled"


CONTROL = Control(
    id="aws-kms-key-rotation",
    description="Customer-managed KMS keys have automatic rotation enabled.",
    why="The stack key encrypts every data store of the platform; rotation limits what one "
    "leaked key version exposes.",
    severity="high",
    mirrors=(
        "CKV_AWS_7",
        "AWS Config cmk-backing-key-rotation-enabled",
        "prowler kms_cmk_rotation_enabled",
    ),
    remediation="Set enable_key_rotation=True on aws.kms.Key (modules.security.StackKey does).",
    resource_types=("aws:kms/key:Key",),
    check=check,
    tags=("kms",),
)
