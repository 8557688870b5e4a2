"""Every bucket disables ACLs (object ownership BucketOwnerEnforced)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import bucket_key, text, value_at
from policies.control import Control, Resource
from policies.s3._companions import OWNERSHIP, all_buckets, companions


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    controls = companions(resources, OWNERSHIP)
    for bucket in all_buckets(resources):
        found = controls.get(bucket_key(bucket), [])
        if not found:
            yield bucket, "bucket has no ownership controls enforcing BucketOwnerEnforced"
        for ownership in found:
            setting = text(value_at(ownership.props, "rule", "objectOwnership"))
            if setting != "BucketOwnerEnforced":
                yield (
                    ownership,
                    f"object ownership is {setting or 'unset'}, not BucketOwnerEnforced "
                    "(ACLs stay enabled)",
                )


CONTROL = Control(
    id="aws-s3-bucket-ownership-enforced",
    description="Every S3 bucket has ownership controls with object ownership "
    "BucketOwnerEnforced, which disables ACLs.",
    why="With ACLs disabled, the bucket owner owns every object (also those written by "
    "SageMaker jobs and other accounts) and only policies grant access, so one review of "
    "the policies covers all access. New buckets default to it since 2023; the explicit "
    "resource keeps imported or older buckets from drifting back.",
    severity="medium",
    mirrors=(
        "CKV2_AWS_65",
        "AWS Config s3-bucket-acl-prohibited",
        "prowler s3_bucket_acl_prohibited",
    ),
    remediation="Add aws.s3.BucketOwnershipControls with rule object_ownership "
    "'BucketOwnerEnforced' (modules.security.SecureBucket does).",
    stack_check=check,
    tags=("s3", "access"),
)
