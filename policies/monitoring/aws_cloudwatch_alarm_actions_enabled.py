"""CloudWatch alarms act when they fire."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import non_empty_array
from policies.control import Control, Resource

ALARMS = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)


def check(alarm: Resource) -> Iterable[str]:
    if alarm.props.get("actionsEnabled") is False:
        yield "alarm actions are disabled (actionsEnabled false)"
    if not non_empty_array(alarm.props.get("alarmActions")):
        yield "alarm has no alarm action"


CONTROL = Control(
    id="aws-cloudwatch-alarm-actions-enabled",
    description="Metric and composite alarms keep actionsEnabled on and have at least one "
    "alarmActions entry.",
    why="Endpoint, feature-pipeline and drift alarms page the team and start retraining; an "
    "alarm without an enabled action changes state on a dashboard nobody watches.",
    severity="medium",
    mirrors=(
        "CKV_AWS_319",
        "AWS Config cloudwatch-alarm-action-check",
        "AWS Config cloudwatch-alarm-action-enabled-check",
    ),
    remediation="Leave actions_enabled at its default (True) and set alarm_actions to the "
    "stack's alerts topic (modules.observability.Observability).",
    resource_types=ALARMS,
    check=check,
    tags=("monitoring",),
)
