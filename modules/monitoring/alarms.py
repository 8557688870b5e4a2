"""The kit's CloudWatch metric alarm, whose description states exactly what it evaluates."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags

COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
MAX_EVALUATION_SECONDS = 7 * 86400
"""CloudWatch: an alarm evaluates at most 7 days (period x evaluation periods)..."""
MAX_SHORT_PERIOD_EVALUATION_SECONDS = 86400
"""...and at most 1 day when its period is under an hour."""
MISSING_DATA = {
    "notBreaching": "missing data counts as not breaching",
    "breaching": "missing data counts as breaching",
    "ignore": "missing data keeps the alarm's state",
    "missing": "missing data is not evaluated",
}


def period_text(seconds: int) -> str:
    """`60` -> `1 minute`, `300` -> `5 minutes`, `3600` -> `1 hour`."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def number_text(value: float) -> str:
    """`5.0` -> `5`, `0.85` -> `0.85`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def evaluation_text(
    *,
    statistic: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    period: int,
    comparison: str,
    threshold: float,
    unit: str | None,
    datapoints: int,
    evaluation_periods: int,
    treat_missing_data: str,
) -> str:
    """What an alarm evaluates, in words built from the same values the alarm is given."""
    where = ", ".join(f"{key}={value}" for key, value in dimensions.items())
    limit = number_text(threshold) + (f" {unit}" if unit else "")
    return (
        f"Fires when the {statistic} of {namespace} {metric} ({where}) per {period_text(period)}"
        f" is {COMPARISONS[comparison]} {limit} in {datapoints} of {evaluation_periods}"
        f" {'period' if evaluation_periods == 1 else 'periods'}; "
        f"{MISSING_DATA[treat_missing_data]}."
    )


def metric_alarm(
    name: str,
    *,
    alarm_name: pulumi.Input[str],
    purpose: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    threshold: float,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
    statistic: str | None = "Sum",
    extended_statistic: str | None = None,
    period: int = 300,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: str = "GreaterThanThreshold",
    treat_missing_data: str = "notBreaching",
    unit: str | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm notifying the alert topic on ALARM and OK. Its description is `purpose`
    followed by exactly what it evaluates (statistic, metric, dimensions, period, comparison,
    threshold in `unit`, datapoints, missing data), written from the values it is given.
    Defaults: Sum per 5 minutes, 1 of 1 period, `>`, no data is not breaching (an idle
    endpoint is healthy). Raises ValueError for a comparison, missing-data treatment,
    datapoint count or evaluation range CloudWatch would not take."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}")
    if treat_missing_data not in MISSING_DATA:
        raise ValueError(f"unknown missing-data treatment {treat_missing_data!r}")
    datapoints = evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm
    if not 1 <= datapoints <= evaluation_periods:
        raise ValueError("datapoints_to_alarm must be between 1 and evaluation_periods")
    if period < 60 or period % 60:
        raise ValueError("period must be a multiple of 60 seconds")
    # PutMetricAlarm's limit on the evaluation range (period x evaluation periods).
    limit = MAX_EVALUATION_SECONDS if period >= 3600 else MAX_SHORT_PERIOD_EVALUATION_SECONDS
    if period * evaluation_periods > limit:
        raise ValueError(
            f"period x evaluation_periods is {period * evaluation_periods} s; CloudWatch "
            f"evaluates at most {limit} s with a period of {period} s"
        )
    keys = list(dimensions)
    description = pulumi.Output.all(*[dimensions[key] for key in keys]).apply(
        lambda values: (
            f"{purpose}. "
            + evaluation_text(
                statistic=extended_statistic or statistic or "",
                namespace=namespace,
                metric=metric,
                dimensions=dict(zip(keys, values, strict=True)),
                period=period,
                comparison=comparison,
                threshold=threshold,
                unit=unit,
                datapoints=datapoints,
                evaluation_periods=evaluation_periods,
                treat_missing_data=treat_missing_data,
            )
        )
    )
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
        datapoints_to_alarm=datapoints,
        threshold=threshold,
        comparison_operator=comparison,
        treat_missing_data=treat_missing_data,
        actions_enabled=True,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=resource_tags(name, tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
