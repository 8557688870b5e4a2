"""Every bucket encrypts by default with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.baseline._props import aws_managed_key
from policies.common import bucket_key, items, object_at, text
from policies.control import Control, Resource
from policies.s3._companions import (
    ENCRYPTION_TYPES,
    access_log_targets,
    all_buckets,
    companions,
)

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def problem(configuration: Resource) -> str | None:
    """What keeps an encryption configuration from a customer-managed KMS default (None: ok)."""
    defaults = [
        object_at(rule, "applyServerSideEncryptionByDefault")
        for rule in items(configuration.props.get("rules"))
    ]
    defaults = [d for d in defaults if d]
    if not defaults:
        return "encryption configuration sets no default encryption"
    findings = []
    for default in defaults:
        algorithm = text(default.get("sseAlgorithm"))
        key = text(default.get("kmsMasterKeyId"))
        if algorithm not in KMS_ALGORITHMS:
            findings.append(f"default encryption is {algorithm or 'unset'}, not aws:kms")
        elif not key:
            findings.append(f"default encryption is {algorithm} without a kmsMasterKeyId")
        elif aws_managed_key(key, "s3"):
            findings.append("default encryption uses the AWS managed key alias/aws/s3")
        else:
            return None
    return findings[0]


def log_target_problem(configuration: Resource) -> str | None:
    """S3 delivers server access logs only to buckets whose default encryption is SSE-S3."""
    for rule in items(configuration.props.get("rules")):
        algorithm = text(object_at(rule, "applyServerSideEncryptionByDefault").get("sseAlgorithm"))
        if algorithm != "AES256":
            return (
                f"bucket receives server access logs, but its default encryption is "
                f"{algorithm or 'unset'}: S3 delivers them only to SSE-S3 (AES256) buckets"
            )
    return None


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    configurations = companions(resources, *ENCRYPTION_TYPES)
    targets = access_log_targets(resources)
    for bucket in all_buckets(resources):
        found = configurations.get(bucket_key(bucket), [])
        if not found:
            yield bucket, "bucket has no server-side encryption configuration"
        for configuration in found:
            rule = log_target_problem if bucket_key(bucket) in targets else problem
            message = rule(configuration)
            if message:
                yield configuration, message


CONTROL = Control(
    id="aws-s3-bucket-sse-kms",
    description="Every S3 bucket encrypts new objects by default with SSE-KMS (aws:kms or "
    "aws:kms:dsse) under a customer-managed key; a bucket receiving server access logs with "
    "SSE-S3, the only default encryption S3 delivers those logs to.",
    why="Training sets, offline features and captured requests are confidential: a "
    "customer-managed key puts every read behind a key policy and in CloudTrail, and "
    "revoking the key cuts access to the data; SSE-S3 and the AWS managed key aws/s3 do "
    "neither. The deprecated inline bucket input is not read: use the companion resource.",
    severity="high",
    mirrors=(
        "CKV_AWS_145",
        "AWS Config s3-default-encryption-kms",
        "prowler s3_bucket_kms_encryption",
    ),
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm "
    "'aws:kms' and kms_master_key_id set to the stack key (modules.security.SecureBucket "
    "does).",
    stack_check=check,
    tags=("s3", "encryption"),
)
