"""Where work that could not be started or finished waits: an encrypted SQS queue with an
alarm, so a failure is kept for replay and someone hears of it."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.platform import Platform

FAILED_EVENT_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum: time to inspect and replay


def failure_queue(
    name: str,
    platform: Platform,
    *,
    purpose: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sqs.Queue:
    """Queue `<name>` (physical name too), KMS-encrypted with the stack key, kept 14 days and
    retained with the stack's data, and alarm `<name>-alarm` (`<name>`) notifying the alert
    topic as soon as a message waits; `purpose` opens the alarm's description."""
    # Imported here: the monitoring package builds functions, which use this module.
    from modules.monitoring.alarms import metric_alarm

    queue = aws.sqs.Queue(
        name,
        name=name,
        kms_master_key_id=platform.kms_key_arn,
        message_retention_seconds=FAILED_EVENT_RETENTION_SECONDS,
        tags=resource_tags(name, tags),
        opts=platform.durability.options(parent),  # events waiting for replay: keep them
    )
    metric_alarm(
        f"{name}-alarm",
        alarm_name=name,
        purpose=purpose,
        namespace="AWS/SQS",
        metric="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        threshold=0,
        topic_arn=platform.alert_topic_arn,
        tags=tags,
        parent=parent,
    )
    return queue
