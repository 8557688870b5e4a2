"""EventBridge Scheduler: the kit's schedules live in a group of their component, encrypt
their payload with the stack key and start their target with a role scoped to it. A start
that still fails after the retries (the target refused it: permissions, validation,
throttling) is dropped, and emits no event of the target's own: each group alarms on its
dropped invocations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.platform import Platform
from modules.security.iam import ServiceRole, allow, service_role

SCHEDULE_RETRY_POLICY = {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3}
"""A missed start is retried for an hour, then dropped (the next run comes on schedule)."""


DROPPED_ALARM_PERIOD = 3600


def schedule_group(
    name: str,
    platform: Platform,
    *,
    purpose: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.scheduler.ScheduleGroup:
    """Group `<name>` (resource `<name>-schedules`) and alarm `<name>-dropped`
    (`<name>-schedules-dropped`) on its invocations dropped after the retries; `purpose`
    opens the alarm's description."""
    # Imported here: the monitoring package builds schedules with this module.
    from modules.monitoring.alarms import metric_alarm

    group = aws.scheduler.ScheduleGroup(
        f"{name}-schedules",
        name=name,
        tags=resource_tags(f"{name}-schedules", tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    metric_alarm(
        f"{name}-dropped",
        alarm_name=f"{name}-schedules-dropped",
        purpose=purpose,
        namespace="AWS/Scheduler",
        metric="InvocationDroppedCount",
        dimensions={"ScheduleGroup": group.name},
        threshold=0,
        period=DROPPED_ALARM_PERIOD,
        topic_arn=platform.alert_topic_arn,
        tags=tags,
        parent=parent,
    )
    return group


def scheduler_role(
    name: str,
    platform: Platform,
    *,
    group_name: str,
    statements: Sequence[Mapping[str, Any]],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> ServiceRole:
    """The role schedules of group `group_name` start their targets with: `statements` plus
    decrypting their own payload (Scheduler asks KMS with the schedule's ARN as encryption
    context, so the grant covers this group's schedules only)."""
    schedules = pulumi.Output.concat(
        "arn:aws:scheduler:", platform.region, ":", platform.account_id, ":schedule/",
        group_name, "/*",
    )  # fmt: skip
    return service_role(
        name,
        service="scheduler.amazonaws.com",
        account_id=platform.account_id,
        statements=[
            *statements,
            allow(
                ["kms:Decrypt"],
                [platform.kms_key_arn],
                sid="SchedulePayload",
                conditions={
                    "ArnLike": {"kms:EncryptionContext:aws:scheduler:schedule-arn": schedules}
                },
            ),
        ],
        tags=tags,
        parent=parent,
    )


def schedule(
    name: str,
    platform: Platform,
    *,
    group: aws.scheduler.ScheduleGroup,
    expression: str,
    description: str,
    target: Mapping[str, Any],
    parent: pulumi.Resource,
) -> aws.scheduler.Schedule:
    """Schedule `<name>` (physical name too) in `group`, in UTC, at exact times, its payload
    encrypted with the stack key; `target` gets the kit's retry policy."""
    return aws.scheduler.Schedule(
        f"{name}-schedule",
        name=name,
        group_name=group.name,
        description=description,
        schedule_expression=expression,
        schedule_expression_timezone="UTC",
        flexible_time_window={"mode": "OFF"},
        kms_key_arn=platform.kms_key_arn,
        state="ENABLED",
        target=dict(target) | {"retry_policy": SCHEDULE_RETRY_POLICY},
        opts=pulumi.ResourceOptions(parent=parent),
    )
