"""Least-privilege IAM: statement builders that refuse wildcards, and service roles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags

# Actions AWS does not scope to resources: the only ones allowed on Resource "*".
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
# Scopable actions a service checks on '*' when a resource is created: SageMaker validates a
# VPC job's execution role for its network-interface actions and fails the CreateProcessingJob
# if they carry "any conditions or resource filters" (SageMaker developer guide, execution
# roles). The only other actions allowed on Resource "*".
SERVICE_CHECKED_UNSCOPED_ACTIONS = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    }
)
ALLOWED_ON_ANY_RESOURCE = UNSCOPED_ACTIONS | SERVICE_CHECKED_UNSCOPED_ACTIONS


def allow(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement. Raises ValueError for `*` or `service:*` actions, and for
    Resource `*` unless every action is one AWS cannot scope (UNSCOPED_ACTIONS) or checks on
    `*` (SERVICE_CHECKED_UNSCOPED_ACTIONS)."""
    if not actions or not resources:
        raise ValueError("an IAM statement needs at least one action and one resource")
    for action in actions:
        service, _, verb = action.partition(":")
        if action == "*" or verb == "*" or not service or not verb:
            raise ValueError(f"IAM action '{action}' is a wildcard or malformed")
    if "*" in resources and not set(actions) <= ALLOWED_ON_ANY_RESOURCE:
        scoped = sorted(set(actions) - ALLOWED_ON_ANY_RESOURCE)
        raise ValueError(f"IAM actions {scoped} must name resources, not '*'")
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": list(resources),
    }
    if sid:
        statement = {"Sid": sid} | statement
    if conditions:
        statement["Condition"] = dict(conditions)
    return statement


# AWSLambdaVPCAccessExecutionRole's actions, which Lambda calls with a function's role to
# manage the function's network interfaces in a VPC.
LAMBDA_VPC_INTERFACE_ACTIONS = [
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:UnassignPrivateIpAddresses",
]
LAMBDA_VPC_DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]


def lambda_vpc_statements(
    region: str, account_id: pulumi.Input[str], function_name: str
) -> list[dict[str, Any]]:
    """What a function in a VPC needs: Lambda's network-interface actions on every EC2
    resource of the account and region (`arn:aws:ec2:<region>:<account>:*/*`, the form the
    Lambda guide gives: narrower ARNs can fail Lambda's checks), the Describe ones on '*'
    (they take no resource), and a Deny of all of them for calls the function's own code
    makes: those carry `lambda:SourceFunctionArn`, Lambda's own calls do not (Lambda guide,
    "Using the lambda:SourceFunctionArn condition key")."""
    function_arn = pulumi.Output.concat(
        "arn:aws:lambda:", region, ":", account_id, ":function:", function_name
    )
    everything = sorted({*LAMBDA_VPC_INTERFACE_ACTIONS, *LAMBDA_VPC_DESCRIBE_ACTIONS})
    return [
        allow(
            LAMBDA_VPC_INTERFACE_ACTIONS,
            [pulumi.Output.concat("arn:aws:ec2:", region, ":", account_id, ":*/*")],
            sid="VpcInterfaces",
        ),
        allow(LAMBDA_VPC_DESCRIBE_ACTIONS, ["*"], sid="DescribeVpc"),
        {
            "Sid": "NotFromFunctionCode",
            "Effect": "Deny",
            "Action": everything,
            "Resource": ["*"],
            "Condition": {"ArnEquals": {"lambda:SourceFunctionArn": [function_arn]}},
        },
    ]


# What SageMaker needs to attach a job or model to the stack's private subnets, on '*' (see
# SERVICE_CHECKED_UNSCOPED_ACTIONS).
VPC_DESCRIBE_ACTIONS = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]
VPC_INTERFACE_ACTIONS = sorted(SERVICE_CHECKED_UNSCOPED_ACTIONS)
IMAGE_PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def image_repository_arn(image_uri: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` -> the repository's ARN."""
    registry, _, path = image_uri.partition("/")
    account, _, rest = registry.partition(".dkr.ecr.")
    region = rest.split(".amazonaws.com")[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{path.split(':')[0]}"


SAGEMAKER_KEY_ACTIONS = [
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
]
"""What a SageMaker pipeline's role needs of the stack key: its jobs' volumes and outputs,
and the grants SageMaker creates for them."""


SAGEMAKER_ARTIFACT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
"""What a SageMaker pipeline's role does under its own prefix of the artifacts bucket: jobs
read their inputs and write (multipart) outputs there, and the kit's jobs clean staging up."""


def pass_own_role(
    account_id: pulumi.Input[str], role_name: str, *, sid: str = "PassOwnRoleToJobs"
) -> dict[str, Any]:
    """`iam:PassRole` on the role `role_name` (Pulumi's physical name `<role_name>-<suffix>`),
    to SageMaker only: a pipeline hands its own role to the jobs and models it creates."""
    return allow(
        ["iam:PassRole"],
        [pulumi.Output.concat("arn:aws:iam::", account_id, ":role/", role_name, "-*")],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        sid=sid,
    )


def sagemaker_job_statements(
    *,
    region: str,
    account_id: pulumi.Input[str],
    image_repository_arns: Sequence[pulumi.Input[str]],
    in_vpc: bool = True,
    create_log_groups: bool = True,
) -> list[dict[str, Any]]:
    """What a SageMaker job or model needs besides its data: pull its images, write logs and
    metrics, and, in the stack's VPC (`in_vpc`), attach network interfaces to the private
    subnets. `create_log_groups=False` where the stack made the log groups (KMS, retention):
    SageMaker then cannot create an unencrypted, never-expiring one in their place."""
    region_account = pulumi.Output.concat(":", region, ":", account_id, ":")
    vpc = [
        allow(VPC_DESCRIBE_ACTIONS, ["*"], sid="DescribeVpc"),
        allow(VPC_INTERFACE_ACTIONS, ["*"], sid="VpcInterfaces"),
    ]
    return [
        allow(["ecr:GetAuthorizationToken"], ["*"], sid="RegistryLogin"),
        allow(IMAGE_PULL_ACTIONS, list(image_repository_arns), sid="Images"),
        *(vpc if in_vpc else []),
        allow(
            # The execution-role permissions SageMaker's API reference lists for jobs.
            [
                *(["logs:CreateLogGroup"] if create_log_groups else []),
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            [pulumi.Output.concat("arn:aws:logs", region_account, "log-group:/aws/sagemaker/*")],
            sid="Logs",
        ),
        allow(["cloudwatch:PutMetricData"], ["*"], sid="Metrics"),
    ]


def policy_document(*statements: Mapping[str, Any]) -> pulumi.Output[str]:
    """A policy document as JSON text; statements may hold Outputs (ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Trust `service` (e.g. `sagemaker.amazonaws.com`) on behalf of this account only,
    which closes the confused-deputy path."""
    return policy_document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


@dataclass(frozen=True)
class ServiceRole:
    """A service role and its inline policy."""

    role: aws.iam.Role
    policy: aws.iam.RolePolicy

    @property
    def arn(self) -> pulumi.Output[str]:
        """The role's ARN, known once its policy is attached: services check a role's
        permissions when a resource is created (a feature group, a model, an event source
        mapping), so whatever takes this ARN waits for the policy, not only the role."""
        return pulumi.Output.all(self.role.arn, self.policy.id).apply(lambda arn_id: arn_id[0])


def service_role(
    name: str,
    *,
    service: str,
    account_id: pulumi.Input[str],
    statements: Sequence[Mapping[str, Any]],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> ServiceRole:
    """A role `service` can assume, with one inline policy of `statements` and no managed
    policies. Creates `<name>` (the role) and `<name>-policy`."""
    role = aws.iam.Role(
        name,
        assume_role_policy=service_trust_policy(service, account_id),
        tags=resource_tags(name, tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=policy_document(*statements),
        opts=pulumi.ResourceOptions(parent=role),
    )
    return ServiceRole(role, policy)
