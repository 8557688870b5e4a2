"""Every bucket keeps object versions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import bucket_key, text, value_at
from policies.control import Control, Resource
from policies.s3._companions import VERSIONING_TYPES, all_buckets, companions


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    versionings = companions(resources, *VERSIONING_TYPES)
    for bucket in all_buckets(resources):
        found = versionings.get(bucket_key(bucket), [])
        if not found:
            yield bucket, "bucket has no versioning configuration"
        for versioning in found:
            status = text(value_at(versioning.props, "versioningConfiguration", "status"))
            if status != "Enabled":
                yield versioning, f"bucket versioning is {status or 'unset'}, not Enabled"


CONTROL = Control(
    id="aws-s3-bucket-versioning",
    description="Every S3 bucket has versioning enabled.",
    why="Models, baselines and training snapshots must be recoverable after an overwrite or "
    "a delete, and a model's lineage points at exact object versions.",
    severity="high",
    mirrors=(
        "CKV_AWS_21",
        "AWS Config s3-bucket-versioning-enabled",
        "prowler s3_bucket_object_versioning",
    ),
    remediation="Add aws.s3.BucketVersioning with versioning_configuration status 'Enabled' "
    "(modules.security.SecureBucket does).",
    stack_check=check,
    tags=("s3", "durability"),
)
