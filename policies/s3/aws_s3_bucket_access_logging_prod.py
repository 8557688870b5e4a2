"""Production data buckets log every request to an access-log bucket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import bucket_key
from policies.control import Control, Resource
from policies.s3._companions import LOGGING_TYPES, access_log_targets, all_buckets, companions


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    logging = companions(resources, *LOGGING_TYPES)
    targets = access_log_targets(resources)
    for bucket in all_buckets(resources):
        key = bucket_key(bucket)
        if key in targets:
            if key in logging:
                yield bucket, "access-log bucket logs its own access (S3 advises against it)"
        elif key not in logging:
            yield bucket, "bucket has no server access logging (aws.s3.BucketLogging)"


CONTROL = Control(
    id="aws-s3-bucket-access-logging-prod",
    description="Every production bucket but the access-log bucket delivers S3 server access "
    "logs to it; the access-log bucket does not log itself.",
    why="Training sets, features and captured requests live in these buckets: server access "
    "logs record every request (including denied ones and those CloudTrail data events "
    "leave out unless paid for) for audits and incident response. A log bucket that logs "
    "itself feeds an endless loop of log objects.",
    severity="medium",
    mirrors=("CKV_AWS_18", "AWS Config s3-bucket-logging-enabled"),
    remediation="Set security.accessLogs (prod does): modules.security.SecureBucket then adds "
    "aws.s3.BucketLogging to the stack's access-log bucket.",
    stack_check=check,
    environments=("prod",),
    tags=("s3", "logging"),
)
