"""Data an endpoint captures is read by a scheduled monitoring job (advisory: a note)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import is_object, number, object_at, text
from policies.control import Control, Resource
from policies.serving._endpoints import CONFIG

SCHEDULE = "aws:scheduler/schedule:Schedule"


def capture_destination(config: Resource) -> str | None:
    """Where an endpoint configuration captures to, if it captures at all."""
    capture = config.props.get("dataCaptureConfig")
    if not is_object(capture) or capture.get("enableCapture") is False:
        return None
    percentage = number(capture.get("initialSamplingPercentage"))
    if percentage is None or percentage <= 0:
        return None
    destination = text(capture.get("destinationS3Uri"))
    return destination.rstrip("/") if destination else None


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    inputs = [object_at(r.props, "target").get("input") for r in resources if r.type == SCHEDULE]
    if not all(isinstance(i, str) for i in inputs):
        return  # a schedule's input is not known yet (a preview): it may read the capture
    for config in (r for r in resources if r.type == CONFIG):
        destination = capture_destination(config)
        if destination and not any(destination in i for i in inputs):
            yield (
                config,
                f"captured data ({destination}) is not monitored: no schedule starts a job "
                "that reads it (the kit's jobs: set mlkit:monitoring.jobImage)",
            )


CONTROL = Control(
    id="aws-sagemaker-endpoint-capture-monitored",
    description="Data an endpoint configuration captures is read by a scheduled job (an "
    "EventBridge Scheduler schedule whose target input names the capture destination). "
    "Advisory in every environment: a stack may capture before its monitoring image exists.",
    why="Captured requests are customer data kept for monitoring; without a job reading them "
    "no drift or quality alarm can fire and retraining never starts. SageMaker Model Monitor, "
    "which used to read them, is closed to new customers.",
    severity="medium",
    mirrors=("mlkit",),
    remediation="Build and push the monitoring image (functions/monitoring/Dockerfile) and "
    "set mlkit:monitoring.jobImage to its digest (modules.monitoring.MonitoringJobs then "
    "schedules the drift and quality jobs).",
    resource_types=(CONFIG, SCHEDULE),
    stack_check=check,
    mandatory_in=(),
    tags=("monitoring", "serving"),
)
