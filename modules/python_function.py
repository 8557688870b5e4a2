"""A Python Lambda function the kit deploys from `functions/`: with its encrypted log group
and a role holding exactly the given statements plus its own logging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.failures import failure_queue
from modules.observability import encrypted_log_group
from modules.platform import Platform
from modules.security.iam import allow, lambda_vpc_statements, service_role

LAMBDA_RUNTIME = "python3.12"
ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations, stated
CODE_TAG = "mlkit:code"  # the function's code folder, by which the cost model knows it
CODE_PREFIX = "functions/"  # where signed functions' code goes in the artifacts bucket


@dataclass
class PythonFunctionArgs:
    code_dir: str
    """Folder under the project with `handler.py` defining `handler(event, context)`."""
    environment: Mapping[str, pulumi.Input[str]]
    """Environment variables: the handler's contract."""
    statements: Sequence[Mapping[str, Any]]
    """What the function may do besides writing its logs (least privilege)."""
    calls: Sequence[str] = ()
    """The AWS APIs the handler calls, as interface endpoint services (`sagemaker.runtime`,
    `sqs`, ...; not S3 or DynamoDB, which the VPC's gateways serve): a function in the VPC
    (`platform.functions_in_vpc`) requires their endpoints. What Lambda does for the function
    (logs, event source polling, failure destinations) is not the handler's. Default none."""
    outside_vpc: str | None = None
    """Why this function stays on Lambda's network even when functions run in the VPC (it
    calls an API the VPC has no endpoint for); default None."""
    reserved_concurrency: int | None = None
    """Concurrent executions reserved for the function (and its ceiling); default None."""
    memory_mb: int = 256
    """Memory (and so CPU) of the function; default 256."""
    timeout_seconds: int = 60
    """Longest run; default 60."""
    invoked_asynchronously: bool = False
    """Invoked by EventBridge or another asynchronous source: events the function still fails
    on after Lambda's retries go to an encrypted `<name>-failed-events` queue (its on-failure
    destination), alarmed on the alert topic, instead of being dropped; default False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the calling component (its `platform.component_tags(...)` and extras); default
    none."""


def python_function(
    name: str, platform: Platform, args: PythonFunctionArgs, parent: pulumi.Resource
) -> aws.lambda_.Function:
    """Creates `<name>` (function, physical name too, so its log group is known up front),
    `<name>-logs` and `<name>-role` (with `<name>-role-policy`), children of `parent`. The
    platform gives the account the role trusts, the key of the logs and the environment, the
    logs' retention and durability, and whether functions are traced (X-Ray, active)."""
    logs = encrypted_log_group(
        f"{name}-logs",
        log_group_name=f"/aws/lambda/{name}",
        retention_days=platform.log_retention_days,
        kms_key_arn=platform.kms_key_arn,
        durability=platform.durability,
        tags=args.tags,
        parent=parent,
    )
    statements = [
        *args.statements,
        allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(logs.arn, ":*")],
            sid="Logs",
        ),
    ]
    if platform.tracing:
        # X-Ray's write actions take no resource (service authorization reference).
        statements.append(
            allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid="Tracing")
        )
    vpc_config, endpoints = None, []
    if platform.functions_in_vpc and args.outside_vpc is None:
        if platform.require_interface_endpoints is None:
            raise ValueError(f"{name}: functions run in the VPC, but the platform has none")
        # Lambda sends the functions' traces and logs itself, outside the VPC (Lambda guide,
        # "Giving Lambda functions access to resources in an Amazon VPC").
        endpoints = platform.require_interface_endpoints(args.calls)
        vpc_config = {
            "subnet_ids": platform.subnet_ids,
            "security_group_ids": list(platform.security_group_ids),
        }
        statements += lambda_vpc_statements(platform.region, platform.account_id, name)
    failed_events = None
    if args.invoked_asynchronously:
        failed_events = failure_queue(
            f"{name}-failed-events",
            platform,
            purpose=f"Events {name} failed on after {ASYNC_RETRIES} retries wait in its queue",
            tags=args.tags,
            parent=parent,
        )
        # Lambda sends to the destination with the function's role, encrypting with the key.
        statements.append(allow(["sqs:SendMessage"], [failed_events.arn], sid="FailedEvents"))
        statements.append(
            allow(
                ["kms:GenerateDataKey", "kms:Decrypt"],
                [platform.kms_key_arn],
                sid="FailedEventsKey",
            )
        )
    code = _code(name, platform, args, parent)
    role = service_role(
        f"{name}-role",
        service="lambda.amazonaws.com",
        account_id=platform.account_id,
        statements=statements,
        tags=args.tags,
        parent=parent,
    )
    function = aws.lambda_.Function(
        name,
        name=name,
        runtime=LAMBDA_RUNTIME,
        handler="handler.handler",
        **code,
        role=role.arn,
        memory_size=args.memory_mb,
        timeout=args.timeout_seconds,
        kms_key_arn=platform.kms_key_arn,
        environment={"variables": dict(args.environment)},
        logging_config={"log_format": "Text", "log_group": logs.name},
        tracing_config={"mode": "Active" if platform.tracing else "PassThrough"},
        vpc_config=vpc_config,
        reserved_concurrent_executions=args.reserved_concurrency,
        tags=resource_tags(name, args.tags, {CODE_TAG: args.code_dir}),
        # A function in the VPC is invoked only once the endpoints of what it calls exist.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs, *endpoints]),
    )
    if failed_events is not None:
        _on_failure(name, function, failed_events, parent)
    return function


def _code(
    name: str, platform: Platform, args: PythonFunctionArgs, parent: pulumi.Resource
) -> dict[str, Any]:
    """The function's code arguments: the folder itself (sent with the request), or, with code
    signing, the object a Signer job signed (Lambda reads it from S3 at deploy time, with the
    deployer's credentials)."""
    if platform.require_code_signing is None:
        return {"code": pulumi.FileArchive(args.code_dir)}
    signing = platform.require_code_signing()
    bucket = signing.code_bucket_name
    source_key = f"{CODE_PREFIX}{name}/code.zip"
    source = aws.s3.BucketObjectv2(
        f"{name}-code",
        bucket=bucket,
        key=source_key,
        source=pulumi.FileArchive(args.code_dir),
        server_side_encryption="aws:kms",
        kms_key_id=platform.kms_key_arn,
        tags=resource_tags(f"{name}-code", args.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    # Signer signs one version of the object (its bucket is versioned, as Signer requires);
    # new code is a new version, so a new job and a new signed object.
    job = aws.signer.SigningJob(
        f"{name}-signing",
        profile_name=signing.profile_name,
        source={
            "s3": {
                "bucket": bucket,
                "key": source_key,
                "version": source.version_id,
            }
        },
        destination={
            "s3": {
                "bucket": bucket,
                "prefix": f"{CODE_PREFIX}{name}/signed/",
            }
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return {
        "s3_bucket": bucket,
        "s3_key": job.signed_objects.apply(lambda signed: signed[0].s3s[0].key),
        "code_signing_config_arn": signing.config_arn,
    }


def _on_failure(
    name: str, function: aws.lambda_.Function, queue: aws.sqs.Queue, parent: pulumi.Resource
) -> None:
    aws.lambda_.FunctionEventInvokeConfig(
        f"{name}-async",
        function_name=function.name,
        maximum_retry_attempts=ASYNC_RETRIES,
        destination_config={"on_failure": {"destination": queue.arn}},
        opts=pulumi.ResourceOptions(parent=parent),
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
