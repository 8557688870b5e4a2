"""Roles attach no broad AWS managed policies."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import as_list
from policies.control import Control, Resource

# Resources attaching managed policies to roles, and the input holding the ARN(s).
ATTACHMENT_INPUTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/role:Role": "managedPolicyArns",
    "aws-native:iam:Role": "managedPolicyArns",
}


def broad_aws_managed(arn: str) -> str | None:
    """The policy's name if `arn` is an AWS managed `...FullAccess` or AdministratorAccess."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or parts[4] != "aws":
        return None
    name = parts[5].rsplit("/", 1)[-1]
    return name if name.endswith("FullAccess") or name == "AdministratorAccess" else None


def check(resource: Resource) -> Iterable[str]:
    for arn in as_list(resource.props.get(ATTACHMENT_INPUTS[resource.type])):
        name = broad_aws_managed(arn) if isinstance(arn, str) else None
        if name:
            yield f"attaches the AWS managed policy {name}"


CONTROL = Control(
    id="aws-iam-role-no-full-access-managed-policy",
    description="No role attachment, role managed_policy_arns or policy attachment attaches an "
    "AWS managed policy named AdministratorAccess or ending in FullAccess.",
    why="AmazonSageMakerFullAccess, AmazonS3FullAccess and the like are the shortcut of ML "
    "tutorials: they grant every bucket, every endpoint and iam:PassRole to any job.",
    severity="high",
    mirrors=(
        "CKV_AWS_274",
        "CKV2_AWS_51",
        "AWS Config iam-policy-blacklisted-check",
        "prowler iam_role_administratoraccess_policy",
    ),
    remediation="Replace the managed policy with an inline policy listing the actions and "
    "resources the workload needs (modules.security.iam.allow).",
    resource_types=tuple(ATTACHMENT_INPUTS),
    check=check,
    tags=("iam",),
)
