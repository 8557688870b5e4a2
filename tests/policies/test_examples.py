"""The first controls, written as the pattern: a compliant fixture passes, then one change
per rule branch fails with its exact message."""

from __future__ import annotations

import json

from tests.policies.conftest import make, messages

BUCKET = "aws:s3/bucket:Bucket"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ALL_ON = {
    "bucket": "data-bucket",
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}


def test_public_access_block_compliant() -> None:
    bucket = make(BUCKET, "data", {"bucket": "data-bucket"})
    assert (
        messages("aws-s3-bucket-public-access-block", bucket, make(BLOCK, "data-pab", ALL_ON)) == []
    )


def test_public_access_block_missing() -> None:
    bucket = make(BUCKET, "data", {"bucket": "data-bucket"})
    assert messages("aws-s3-bucket-public-access-block", bucket) == [
        "data: bucket has no public access block"
    ]


def test_public_access_block_partly_off() -> None:
    bucket = make(BUCKET, "data", {"bucket": "data-bucket"})
    block = make(
        BLOCK, "data-pab", ALL_ON | {"ignorePublicAcls": False, "restrictPublicBuckets": None}
    )
    assert messages("aws-s3-bucket-public-access-block", bucket, block) == [
        "data-pab: public access block leaves ignorePublicAcls, restrictPublicBuckets off"
    ]


def test_key_rotation() -> None:
    assert (
        messages("aws-kms-key-rotation", make("aws:kms/key:Key", "k", {"enableKeyRotation": True}))
        == []
    )
    assert messages("aws-kms-key-rotation", make("aws:kms/key:Key", "k", {})) == [
        "k: KMS key rotation is not enabled"
    ]


def policy(*statements: dict) -> dict:
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def test_no_wildcard_action() -> None:
    role_policy = "aws:iam/rolePolicy:RolePolicy"
    scoped = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert (
        messages("aws-iam-policy-no-wildcard-action", make(role_policy, "p", policy(scoped, deny)))
        == []
    )
    star = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    service = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}
    assert messages(
        "aws-iam-policy-no-wildcard-action", make(role_policy, "p", policy(star, service))
    ) == [
        "p: policy allows the wildcard action '*'",
        "p: policy allows the wildcard action 's3:*'",
    ]
