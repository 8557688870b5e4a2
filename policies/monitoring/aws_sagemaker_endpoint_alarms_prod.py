"""Production endpoints have latency and server-error alarms that notify someone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from policies.common import is_array, is_object, non_empty_array, object_at
from policies.control import Control, Resource
from policies.serving._endpoints import ENDPOINT, endpoint_name

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NAMESPACE = "AWS/SageMaker"
REQUIRED_METRICS = ("ModelLatency", "Invocation5XXErrors")


def _metrics(alarm: Resource) -> Iterator[Mapping[str, Any]]:
    """The metrics an alarm watches: its own, or those of its metric-math queries."""
    yield alarm.props
    queries = alarm.props.get("metricQueries")
    for query in queries if is_array(queries) else []:
        metric = object_at(query, "metric")
        if metric:
            yield metric


def _watches(alarm: Resource, metric_name: str, endpoint: str) -> bool:
    for metric in _metrics(alarm):
        dimensions = metric.get("dimensions")
        if (
            metric.get("namespace") == NAMESPACE
            and metric.get("metricName") == metric_name
            and is_object(dimensions)
            and dimensions.get("EndpointName") == endpoint
        ):
            return True
    return False


def _notifies(alarm: Resource) -> bool:
    return non_empty_array(alarm.props.get("alarmActions"))


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    alarms = [r for r in resources if r.type == METRIC_ALARM]
    for endpoint in (r for r in resources if r.type == ENDPOINT):
        name = endpoint_name(endpoint)
        for metric_name in REQUIRED_METRICS:
            watching = [a for a in alarms if _watches(a, metric_name, name)]
            if not watching:
                yield endpoint, f"endpoint has no {metric_name} alarm"
            elif not any(_notifies(a) for a in watching):
                yield endpoint, f"endpoint's {metric_name} alarm has no alarm action"


CONTROL = Control(
    id="aws-sagemaker-endpoint-alarms-prod",
    description="In prod every SageMaker endpoint has a ModelLatency and an "
    "Invocation5XXErrors alarm (AWS/SageMaker, EndpointName dimension) with an alarm action.",
    why="Latency and server errors are how a bad model version or an overloaded variant "
    "shows first; the same alarms drive the deployment's automatic rollback. Without an "
    "action nobody hears about them. No anchor rule checks SageMaker endpoint alarms.",
    severity="high",
    mirrors=("mlkit",),
    remediation="Add aws.cloudwatch.MetricAlarm on ModelLatency and Invocation5XXErrors for "
    "the endpoint with alarm_actions = the alerts topic (modules.monitoring.EndpointAlarms "
    "does).",
    resource_types=(ENDPOINT, METRIC_ALARM),
    stack_check=check,
    environments=("prod",),
    tags=("monitoring", "serving"),
)
