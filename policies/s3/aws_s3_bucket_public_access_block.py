"""Every bucket has a public access block with all four settings on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import bucket_key, buckets, by_bucket
from policies.control import Control, Resource

BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    blocks = by_bucket(resources, BLOCK)
    for bucket in buckets(resources):
        found = blocks.get(bucket_key(bucket), [])
        if not found:
            yield bucket, "bucket has no public access block"
        for block in found:
            off = [name for name in SETTINGS if block.props.get(name) is not True]
            if off:
                yield block, f"public access block leaves {', '.join(off)} off"


CONTROL = Control(
    id="aws-s3-bucket-public-access-block",
    description="Every S3 bucket has a public access block with all four settings enabled.",
    why="Feature data, training sets and captured requests are confidential; one public ACL "
    "or policy exposes them.",
    severity="critical",
    mirrors=(
        "CKV_AWS_53",
        "CKV_AWS_54",
        "CKV_AWS_55",
        "CKV_AWS_56",
        "AWS Config s3-bucket-level-public-access-prohibited",
        "prowler s3_bucket_level_public_access_block",
    ),
    remediation="Add aws.s3.BucketPublicAccessBlock with block_public_acls, "
    "block_public_policy, ignore_public_acls and restrict_public_buckets set to True "
    "(modules.security.SecureBucket does).",
    stack_check=check,
    tags=("s3",),
)
