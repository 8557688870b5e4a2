"""The kit's CloudWatch metric alarm."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags


def metric_alarm(
    name: str,
    *,
    alarm_name: pulumi.Input[str],
    description: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    threshold: float,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    statistic: str | None = "Sum",
    extended_statistic: str | None = None,
    period: int = 300,
    evaluation_periods: int = 1,
    comparison: str = "GreaterThanThreshold",
) -> aws.cloudwatch.MetricAlarm:
    """An alarm notifying the alert topic on ALARM and OK; no data is not breaching (an idle
    endpoint is healthy)."""
    return aws.cloudwatch.MetricAlarm(
        name,
        name=alarm_name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dict(dimensions),
        statistic=None if extended_statistic else statistic,
        extended_statistic=extended_statistic,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        threshold=threshold,
        comparison_operator=comparison,
        treat_missing_data="notBreaching",
        actions_enabled=True,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=resource_tags(name, tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
