"""Bucket policies grant nothing to every principal."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.iam._documents import is_allow, is_public, label, policy_statements

# Bucket policy resources and the input holding the document.
POLICY_INPUTS = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws-native:s3:BucketPolicy": "policyDocument",
}


def check(policy: Resource) -> Iterable[str]:
    statements = policy_statements(policy.props.get(POLICY_INPUTS[policy.type]))
    if statements is None:
        yield "bucket policy is not a readable policy document"
        return
    for index, statement in enumerate(statements):
        if is_allow(statement) and is_public(statement):
            yield f"bucket policy statement {label(statement, index)} allows any principal ('*')"


CONTROL = Control(
    id="aws-s3-bucket-policy-no-public-principal",
    description="S3 bucket policies have no Allow statement whose principal is '*' "
    '(or {"AWS": "*"}).',
    why="A public principal exposes training data, features or models to every AWS account "
    "(or to anonymous callers); conditions do not make such a grant reviewable, naming the "
    "principals does. Deny statements with '*' (such as the TLS-only rule) are fine.",
    severity="critical",
    mirrors=(
        "CKV_AWS_70",
        "cfn-nag F16",
        "AWS Config s3-bucket-public-read-prohibited",
        "AWS Config s3-bucket-public-write-prohibited",
        "prowler s3_bucket_policy_public_write_access",
    ),
    remediation="Name the principals (role ARNs, accounts or service principals) in every "
    "Allow statement of the bucket policy.",
    resource_types=tuple(POLICY_INPUTS),
    check=check,
    tags=("s3", "access"),
)
