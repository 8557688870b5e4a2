"""Every bucket's policy denies requests made without TLS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from policies.common import bucket_key, is_object, object_at
from policies.control import Control, Resource
from policies.iam._documents import is_public, matches, policy_statements, strings
from policies.s3._companions import POLICY, all_buckets, companions

MISSING = "bucket has no policy denying requests without TLS"
NOT_DENIED = (
    "bucket policy does not deny requests without TLS (aws:SecureTransport false) to the "
    "bucket and its objects"
)


def insecure_transport(statement: dict[str, Any]) -> bool:
    """The condition matches requests without TLS: `Bool`/`BoolIfExists` on
    `aws:SecureTransport` = false (as text or a boolean)."""
    for operator, block in object_at(statement, "Condition").items():
        if operator.lower() not in ("bool", "boolifexists") or not is_object(block):
            continue
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            if key.lower() == "aws:securetransport" and any(
                v is False or (isinstance(v, str) and v.lower() == "false") for v in values
            ):
                return True
    return False


def covers(patterns: list[str], name: str) -> bool:
    """Some Resource pattern covers the bucket `name`'s ARN, in any partition."""
    for pattern in patterns:
        partition = pattern.split(":")[1] if pattern.startswith("arn:") else "aws"
        if matches(pattern, f"arn:{partition}:s3:::{name}", ignore_case=False):
            return True
    return False


def denies_insecure_transport(statement: dict[str, Any], bucket: str) -> bool:
    """A Deny to everyone of every S3 action on the bucket and its objects without TLS."""
    resources = strings(statement.get("Resource"))
    return (
        statement.get("Effect") == "Deny"
        and is_public(statement)
        and any(matches(action, "s3:*") for action in strings(statement.get("Action")))
        and insecure_transport(statement)
        and covers(resources, bucket)
        and covers(resources, f"{bucket}/any-object")
    )


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    policies = companions(resources, POLICY)
    for bucket in all_buckets(resources):
        key = bucket_key(bucket)
        found = policies.get(key, [])
        if not found:
            yield bucket, MISSING
            continue
        denied = False
        for policy in found:
            statements = policy_statements(policy.props.get("policy")) or []
            denied = denied or any(denies_insecure_transport(s, key) for s in statements)
        if not denied:
            for policy in found:
                yield policy, NOT_DENIED


CONTROL = Control(
    id="aws-s3-bucket-tls-only",
    description="Every S3 bucket's policy denies all S3 actions on the bucket and its objects "
    "to everyone when aws:SecureTransport is false.",
    why="Feature data and captured inference requests must not cross the network in clear "
    "text, from a notebook, a job or a misconfigured client alike.",
    severity="high",
    mirrors=(
        "AWS Config s3-bucket-ssl-requests-only",
        "prowler s3_bucket_secure_transport_policy",
    ),
    remediation="Add an aws.s3.BucketPolicy statement: Effect Deny, Principal '*', Action "
    "'s3:*', Resource the bucket ARN and '<arn>/*', Condition Bool aws:SecureTransport "
    "'false' (modules.security.SecureBucket does).",
    stack_check=check,
    tags=("s3", "encryption"),
)
