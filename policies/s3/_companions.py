"""Joining buckets to their companion resources, current and deprecated type tokens alike."""

from __future__ import annotations

from collections.abc import Sequence

from policies.common import BUCKET, by_bucket
from policies.control import Resource

BUCKET_TYPES = (BUCKET, "aws:s3/bucketV2:BucketV2")
# Each companion with its deprecated `...V2` alias (same inputs).
ENCRYPTION_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"


def all_buckets(resources: Sequence[Resource]) -> list[Resource]:
    """Buckets, including the deprecated `BucketV2` alias of pulumi-aws v7."""
    return [r for r in resources if r.type in BUCKET_TYPES]


def companions(resources: Sequence[Resource], *types: str) -> dict[str, list[Resource]]:
    """Companion resources of any of `types`, grouped by the bucket they configure."""
    grouped: dict[str, list[Resource]] = {}
    for type_ in types:
        for key, found in by_bucket(resources, type_).items():
            grouped.setdefault(key, []).extend(found)
    return grouped


def access_log_targets(resources: Sequence[Resource]) -> set[str]:
    """Buckets (as companions name them) that receive server access logs of another."""
    return {
        str(r.props.get("targetBucket"))
        for r in resources
        if r.type in LOGGING_TYPES and r.props.get("targetBucket")
    }
