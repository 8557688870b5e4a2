"""Retraining guard Lambda (python3.12, boto3 only): a drift alarm starts the training pipeline.

Wiring: CloudWatch alarm -> EventBridge rule ("CloudWatch Alarm State Change") -> this Lambda.

Environment:
    PIPELINE_NAME       the SageMaker pipeline to start. Its definition must declare a String
                        parameter ``TriggeredBy`` (SageMaker rejects undeclared parameters).
    MIN_INTERVAL_HOURS  float > 0: the least time between two starts (no retraining storm).

Contract of ``handler(event, context)``:
    * Events that are not a CloudWatch alarm transition *into* ALARM are ignored:
      ``{"started": False, "reason": ...}``.
    * If any execution on the newest page of ``list_pipeline_executions`` is still
      ``Executing``, or the newest one (by ``StartTime``) started less than MIN_INTERVAL_HOURS
      ago, nothing is started: ``{"started": False, "reason": <names the execution and when>}``.
    * Otherwise ``start_pipeline_execution`` runs with a display name derived from the alarm
      name, a description naming alarm and reason, ``PipelineParameters``
      ``[{"Name": "TriggeredBy", "Value": <alarm name>}]`` and a ``ClientRequestToken``
      derived from the EventBridge event id, so a redelivered event cannot start a second
      execution. Returns ``{"started": True, "executionArn": ...}``.
    * Every invocation that reaches a decision prints one JSON line with it (CloudWatch Logs).
    * Bad configuration raises ``ConfigError`` before any AWS call.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
TRIGGER_PARAMETER = "TriggeredBy"
# SageMaker limits (botocore service model for StartPipelineExecution).
DISPLAY_NAME_MAX = 82
DESCRIPTION_MAX = 3072
# A page this size is enough to see the newest executions and any still running.
PAGE_SIZE = 20


class ConfigError(ValueError):
    """The Lambda's environment is missing or invalid."""


@dataclass(frozen=True)
class Config:
    pipeline_name: str
    min_interval: timedelta
    min_interval_hours: float


def load_config(environ: Mapping[str, str]) -> Config:
    """Read and validate PIPELINE_NAME and MIN_INTERVAL_HOURS."""
    pipeline_name = environ.get("PIPELINE_NAME", "").strip()
    if not pipeline_name:
        raise ConfigError("PIPELINE_NAME is not set")
    raw = environ.get("MIN_INTERVAL_HOURS", "").strip()
    if not raw:
        raise ConfigError("MIN_INTERVAL_HOURS is not set")
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigError(f"MIN_INTERVAL_HOURS must be a number, got {raw!r}") from None
    # NaN would compare false everywhere and disable the guard; inf would never retrain.
    if not math.isfinite(hours) or hours <= 0:
        raise ConfigError(f"MIN_INTERVAL_HOURS must be a finite number > 0, got {raw!r}")
    return Config(pipeline_name, timedelta(hours=hours), hours)


def now() -> datetime:
    """The current time (UTC). Module-level so tests can move the clock."""
    return datetime.now(UTC)


@cache
def _sagemaker() -> Any:
    # Created on first use, not at import: the endpoint comes from the environment
    # (AWS_ENDPOINT_URL in tests), and ignored events never need a client.
    return boto3.client("sagemaker")


def display_name_for(alarm_name: str) -> str:
    """A PipelineExecutionDisplayName matching ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}``."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", alarm_name).strip("-")
    name = f"retrain-{slug}" if slug else "retrain"
    # Truncating can leave a trailing hyphen, which the pattern forbids.
    return name[:DISPLAY_NAME_MAX].rstrip("-")


def request_token_for(pipeline_name: str, event_id: str) -> str:
    """An idempotency token (32-128 chars) that is the same for every delivery of one event.

    EventBridge delivers at least once and keeps the event id on redelivery; the pipeline
    name is mixed in so one event routed to two guards starts both pipelines.
    """
    return hashlib.sha256(f"{pipeline_name}\n{event_id}".encode()).hexdigest()


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def blocking_reason(
    executions: Sequence[Mapping[str, Any]], at: datetime, config: Config
) -> str | None:
    """Why no execution may start at ``at``, or None if one may.

    ``executions`` are pipeline execution summaries. The newest is chosen by StartTime here
    rather than trusting the list order (the API sorts on request, moto does not).
    """
    for execution in executions:
        if execution.get("PipelineExecutionStatus") == "Executing":
            return (
                f"execution {execution['PipelineExecutionArn']} started "
                f"{_utc(execution['StartTime'])} is still Executing"
            )
    if not executions:
        return None
    newest = max(executions, key=lambda execution: execution["StartTime"])
    age = at - newest["StartTime"]
    if age < config.min_interval:
        return (
            f"execution {newest['PipelineExecutionArn']} started {_utc(newest['StartTime'])}, "
            f"{age.total_seconds() / 3600:.2f} h ago, less than "
            f"MIN_INTERVAL_HOURS={config.min_interval_hours:g}"
        )
    return None


def ignore_reason(event: Mapping[str, Any]) -> str | None:
    """Why ``event`` is not a transition into ALARM, or None if it is."""
    source, detail_type = event.get("source"), event.get("detail-type")
    if source != "aws.cloudwatch" or detail_type != ALARM_DETAIL_TYPE:
        return (
            f"ignored: not a CloudWatch alarm state change "
            f"(source={source!r}, detail-type={detail_type!r})"
        )
    detail = event.get("detail", {})
    alarm = detail.get("alarmName")
    state = detail.get("state", {}).get("value")
    if state != "ALARM":
        return f"ignored: alarm {alarm} changed to {state}, not ALARM"
    # ALARM -> ALARM (e.g. a reason update) is not a new drift signal.
    if detail.get("previousState", {}).get("value") == "ALARM":
        return f"ignored: alarm {alarm} was already in ALARM"
    return None


def _log(record: Mapping[str, Any]) -> None:
    # Lambda sends stdout to CloudWatch Logs; one JSON object per line for Logs Insights.
    print(json.dumps(record, sort_keys=True), flush=True)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Start the training pipeline for a drift alarm, unless the guard says no."""
    config = load_config(os.environ)
    detail = event.get("detail", {})
    alarm_name = detail.get("alarmName")
    record: dict[str, Any] = {
        "guard": "retrain",
        "pipeline": config.pipeline_name,
        "alarm": alarm_name,
        "eventId": event.get("id"),
    }

    reason = ignore_reason(event)
    if reason is None:
        # Without an id there is no idempotency (EventBridge always sets one), and without an
        # alarm name nothing says what triggered the run: fail loudly rather than guess.
        if not event.get("id") or not alarm_name:
            raise ValueError("alarm event lacks 'id' or 'detail.alarmName'")
        executions = _sagemaker().list_pipeline_executions(
            PipelineName=config.pipeline_name,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=PAGE_SIZE,
        )["PipelineExecutionSummaries"]
        reason = blocking_reason(executions, now(), config)
    if reason is not None:
        _log(record | {"started": False, "reason": reason})
        return {"started": False, "reason": reason}

    alarm_reason = detail.get("state", {}).get("reason", "")
    description = f"Retraining triggered by alarm {alarm_name} at {event.get('time')}: "
    response = _sagemaker().start_pipeline_execution(
        PipelineName=config.pipeline_name,
        PipelineExecutionDisplayName=display_name_for(alarm_name),
        PipelineExecutionDescription=(description + alarm_reason)[:DESCRIPTION_MAX],
        PipelineParameters=[{"Name": TRIGGER_PARAMETER, "Value": alarm_name}],
        ClientRequestToken=request_token_for(config.pipeline_name, event["id"]),
    )
    arn = response["PipelineExecutionArn"]
    _log(record | {"started": True, "executionArn": arn})
    return {"started": True, "executionArn": arn}
