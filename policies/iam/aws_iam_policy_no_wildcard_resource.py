"""IAM policies grant resource '*' only for actions AWS cannot scope to a resource."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.iam._documents import (
    IDENTITY_POLICY_TYPES,
    identity_documents,
    is_allow,
    label,
    policy_statements,
    strings,
)

# Actions whose service authorization reference lists no resource type: only '*' works.
# Keep in step with modules/security/iam.py UNSCOPED_ACTIONS (a test checks it covers them).
UNSCOPED_ACTIONS = frozenset(
    {
        "cloudwatch:PutMetricData",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ecr:GetAuthorizationToken",
        "sagemaker:ListFeatureGroups",
        "sts:GetCallerIdentity",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
)
# Scopable actions a service checks on '*' at create time: SageMaker fails CreateProcessingJob
# in a VPC when the role's network-interface actions carry "any conditions or resource
# filters" (SageMaker developer guide, execution roles). Keep in step with
# modules/security/iam.py SERVICE_CHECKED_UNSCOPED_ACTIONS.
SERVICE_CHECKED_UNSCOPED_ACTIONS = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    }
)
_UNSCOPED = frozenset(
    action.lower() for action in UNSCOPED_ACTIONS | SERVICE_CHECKED_UNSCOPED_ACTIONS
)


def check(resource: Resource) -> Iterable[str]:
    for name, document in identity_documents(resource):
        statements = policy_statements(document)
        if statements is None:
            yield f"{name} is not a readable policy document"
            continue
        for index, statement in enumerate(statements):
            if not is_allow(statement) or "*" not in strings(statement.get("Resource")):
                continue
            where = f"{name} statement {label(statement, index)}"
            if "NotAction" in statement:
                yield f"{where} allows every action but its NotAction on resource '*'"
                continue
            scoped = sorted(
                {a for a in strings(statement.get("Action")) if a.lower() not in _UNSCOPED}
            )
            if scoped:
                yield f"{where} allows {', '.join(scoped)} on resource '*'"


CONTROL = Control(
    id="aws-iam-policy-no-wildcard-resource",
    description="IAM identity policies allow resource '*' only for actions that cannot be "
    "scoped to a resource, or that a service checks on '*' (allowlists in the control); key "
    "policies are out of scope.",
    why="A resource '*' turns a permission meant for one bucket, feature group or endpoint "
    "into one on every such resource in the account, so a compromised job reaches other "
    "teams' data and models.",
    severity="high",
    mirrors=(
        "CKV_AWS_355",
        "cfn-nag W11",
        "cfn-nag W12",
    ),
    remediation="Name the resource ARNs in the statement, or split the unscopable actions into "
    "their own statement (modules.security.iam.allow refuses '*' for scopable actions).",
    resource_types=IDENTITY_POLICY_TYPES,
    check=check,
    tags=("iam",),
)
