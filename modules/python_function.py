"""A Python Lambda function the kit deploys from `functions/`: with its encrypted log group
and a role holding exactly the given statements plus its own logging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.observability import encrypted_log_group
from modules.platform import Platform
from modules.security.iam import allow, service_role

LAMBDA_RUNTIME = "python3.12"


@dataclass
class PythonFunctionArgs:
    code_dir: str
    """Folder under the project with `handler.py` defining `handler(event, context)`."""
    environment: Mapping[str, pulumi.Input[str]]
    """Environment variables: the handler's contract."""
    statements: Sequence[Mapping[str, Any]]
    """What the function may do besides writing its logs (least privilege)."""
    memory_mb: int = 256
    """Memory (and so CPU) of the function; default 256."""
    timeout_seconds: int = 60
    """Longest run; default 60."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the calling component (its `platform.component_tags(...)` and extras); default
    none."""


def python_function(
    name: str, platform: Platform, args: PythonFunctionArgs, parent: pulumi.Resource
) -> aws.lambda_.Function:
    """Creates `<name>` (function, physical name too, so its log group is known up front),
    `<name>-logs` and `<name>-role` (with `<name>-role-policy`), children of `parent`. The
    platform gives the account the role trusts, the key of the logs and the environment, and
    the logs' retention and durability."""
    logs = encrypted_log_group(
        f"{name}-logs",
        log_group_name=f"/aws/lambda/{name}",
        retention_days=platform.log_retention_days,
        kms_key_arn=platform.kms_key_arn,
        durability=platform.durability,
        tags=args.tags,
        parent=parent,
    )
    role = service_role(
        f"{name}-role",
        service="lambda.amazonaws.com",
        account_id=platform.account_id,
        statements=[
            *args.statements,
            allow(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [pulumi.Output.concat(logs.arn, ":*")],
                sid="Logs",
            ),
        ],
        tags=args.tags,
        parent=parent,
    )
    return aws.lambda_.Function(
        name,
        name=name,
        runtime=LAMBDA_RUNTIME,
        handler="handler.handler",
        code=pulumi.FileArchive(args.code_dir),
        role=role.arn,
        memory_size=args.memory_mb,
        timeout=args.timeout_seconds,
        kms_key_arn=platform.kms_key_arn,
        environment={"variables": dict(args.environment)},
        logging_config={"log_format": "Text", "log_group": logs.name},
        tags=resource_tags(name, args.tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs]),
    )


def invoke_on_rule(
    name: str,
    permission_name: str,
    rule: aws.cloudwatch.EventRule,
    function: aws.lambda_.Function,
    parent: pulumi.Resource,
) -> None:
    """EventBridge `rule` invokes `function` (target `name`, retried for an hour), allowed by
    a Lambda permission (`permission_name`) for that rule only."""
    opts = pulumi.ResourceOptions(parent=parent)
    aws.cloudwatch.EventTarget(
        name,
        rule=rule.name,
        arn=function.arn,
        retry_policy={"maximum_retry_attempts": 4, "maximum_event_age_in_seconds": 3600},
        opts=opts,
    )
    aws.lambda_.Permission(
        permission_name,
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=opts,
    )
