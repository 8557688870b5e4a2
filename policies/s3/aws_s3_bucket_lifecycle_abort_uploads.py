"""Every bucket aborts incomplete multipart uploads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from policies.common import bucket_key, items, number, object_at, text, value_at
from policies.control import Control, Resource
from policies.s3._companions import LIFECYCLE_TYPES, all_buckets, companions

NO_RULE = (
    "lifecycle configuration has no enabled rule aborting incomplete multipart uploads "
    "for the whole bucket"
)


def filtered(rule: Any) -> bool:
    """The rule is limited to some objects (a prefix, tags or object sizes)."""
    return text(value_at(rule, "prefix")) is not None or any(object_at(rule, "filter").values())


def aborts_uploads(rule: Any) -> bool:
    days = number(value_at(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation"))
    enabled = value_at(rule, "status") == "Enabled"
    return enabled and days is not None and days > 0 and not filtered(rule)


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    lifecycles = companions(resources, *LIFECYCLE_TYPES)
    for bucket in all_buckets(resources):
        found = lifecycles.get(bucket_key(bucket), [])
        if not found:
            yield bucket, "bucket has no lifecycle configuration"
        for lifecycle in found:
            if not any(aborts_uploads(rule) for rule in items(lifecycle.props.get("rules"))):
                yield lifecycle, NO_RULE


CONTROL = Control(
    id="aws-s3-bucket-lifecycle-abort-uploads",
    description="Every S3 bucket has a lifecycle configuration with an enabled, unfiltered "
    "rule that aborts incomplete multipart uploads.",
    why="Training jobs, checkpoints and data capture upload large objects in parts; parts "
    "of failed uploads are invisible in listings and billed until aborted.",
    severity="medium",
    mirrors=(
        "CKV_AWS_300",
        "CKV2_AWS_61",
        "AWS Config s3-lifecycle-policy-check",
        "prowler s3_bucket_lifecycle_enabled",
    ),
    remediation="Add an aws.s3.BucketLifecycleConfiguration rule with status 'Enabled', an "
    "empty filter and abort_incomplete_multipart_upload days_after_initiation "
    "(modules.security.SecureBucket does).",
    stack_check=check,
    tags=("s3", "cost"),
)
