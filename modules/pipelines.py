"""SageMaker pipelines of the kit: code uploaded to the artifacts bucket, the pipeline
resource from a rendered definition, and a schedule that starts it.

Definitions are generated once with the sagemaker SDK into committed JSON templates
(`functions/*/...json`); the components fill in the stack's values with the template's own
render function, so the plan never imports the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.platform import Platform
from modules.schedules import schedule, schedule_group, scheduler_role
from modules.security.iam import ServiceRole, allow

PROJECT_DIR = Path(__file__).resolve().parents[1]
"""The kit's folder: code assets are named relative to it (the Pulumi program's directory)."""
PIPELINE_START_ACTIONS = ["sagemaker:StartPipelineExecution"]


def upload_code(
    name: str,
    platform: Platform,
    *,
    paths: Sequence[Path],
    key_prefix: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> list[aws.s3.BucketObjectv2]:
    """Each file, flat by file name, under `s3://<artifacts>/<key_prefix>` (ending in `/`),
    encrypted with the stack key: `<name>-code-<file stem>`."""
    if not key_prefix.endswith("/"):
        raise ValueError("key_prefix must end in '/'")
    objects = []
    for path in paths:
        object_name = f"{name}-code-{path.stem.replace('_', '-')}"
        objects.append(
            aws.s3.BucketObjectv2(
                object_name,
                bucket=platform.artifacts_bucket_name,
                key=f"{key_prefix}{path.name}",
                source=pulumi.FileAsset(path.relative_to(PROJECT_DIR).as_posix()),
                server_side_encryption="aws:kms",
                kms_key_id=platform.kms_key_arn,
                tags=resource_tags(object_name, tags),
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    return objects


def sagemaker_pipeline(
    name: str,
    platform: Platform,
    *,
    render: Callable[..., dict[str, Any]],
    template: Mapping[str, Any],
    role: ServiceRole,
    parameter_defaults: Mapping[str, pulumi.Input[Any]],
    description: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    athena_steps: Sequence[str] = (),
    **render_args: pulumi.Input[Any],
) -> aws.sagemaker.Pipeline:
    """Pipeline `<name>` (resource `<name>-pipeline`): `render(template, subnet_ids=...,
    security_group_ids=..., kms_key_arn=..., role_arn=..., parameter_defaults=...,
    **render_args)` with the platform's network and key and the resolved values, as JSON.
    `athena_steps` (the template's networked steps) leave the VPC when the platform runs
    Athena jobs outside it (`Platform.athena_jobs_in_vpc`)."""
    outside_vpc = () if platform.athena_jobs_in_vpc else tuple(athena_steps)
    definition = pulumi.Output.all(
        subnets=platform.subnet_ids,
        security_groups=platform.security_group_ids,
        kms_key_arn=platform.kms_key_arn,
        role_arn=role.arn,
        defaults=dict(parameter_defaults),
        extra=dict(render_args),
    ).apply(
        lambda v: json.dumps(
            without_vpc(
                render(
                    template,
                    subnet_ids=v["subnets"],
                    security_group_ids=v["security_groups"],
                    kms_key_arn=v["kms_key_arn"],
                    role_arn=v["role_arn"],
                    parameter_defaults=v["defaults"],
                    **v["extra"],
                ),
                outside_vpc,
            ),
            sort_keys=True,
        )
    )
    return aws.sagemaker.Pipeline(
        f"{name}-pipeline",
        pipeline_name=name,
        pipeline_display_name=name,
        pipeline_description=description,
        pipeline_definition=definition,
        role_arn=role.arn,
        tags=resource_tags(f"{name}-pipeline", tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def without_vpc(definition: dict[str, Any], steps: Sequence[str]) -> dict[str, Any]:
    """`definition` with the processing steps named in `steps` taken out of the VPC (their
    `NetworkConfig.VpcConfig` removed; isolation stays as it was, off for these steps).
    Raises ValueError for a step that is not a processing step of the definition."""
    if not steps:
        return definition
    found = {
        step["Name"]: step
        for step in definition.get("Steps", [])
        if step.get("Type") == "Processing" and step["Name"] in steps
    }
    missing = sorted(set(steps) - set(found))
    if missing:
        raise ValueError(f"no processing steps {missing} in the pipeline definition")
    for step in found.values():
        step["Arguments"]["NetworkConfig"].pop("VpcConfig", None)
    return definition


def pipeline_schedule(
    name: str,
    platform: Platform,
    *,
    pipeline: aws.sagemaker.Pipeline,
    expression: str,
    description: str,
    parameters: Mapping[str, str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.scheduler.Schedule:
    """EventBridge Scheduler starts `pipeline` on `expression` (UTC) with `parameters`
    (the run's pipeline parameters): group `<name>`, role `<name>-scheduler-role` allowed to
    start that pipeline only, schedule `<name>-start`."""
    group = schedule_group(
        name,
        platform,
        purpose=f"{name} could not start its pipeline after its retries",
        tags=tags,
        parent=parent,
    )
    role = scheduler_role(
        f"{name}-scheduler-role",
        platform,
        group_name=name,
        statements=[allow(PIPELINE_START_ACTIONS, [pipeline.arn], sid="StartPipeline")],
        tags=tags,
        parent=parent,
    )
    return schedule(
        f"{name}-start",
        platform,
        group=group,
        expression=expression,
        description=description,
        target={
            "arn": pipeline.arn,
            "role_arn": role.arn,
            "sagemaker_pipeline_parameters": {
                "pipeline_parameters": [
                    {"name": key, "value": value} for key, value in sorted(parameters.items())
                ]
            },
        },
        parent=parent,
    )
