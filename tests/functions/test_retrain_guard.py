"""The retraining guard Lambda against a real pipeline in moto's server.

What moto 5.2.5 does with pipeline executions (checked, and the tests are built around it):
* StartTime is the server's wall clock at start, so the guard's clock is moved relative to
  the StartTime moto reports (monkeypatching ``guard.now``), never by sleeping.
* Every execution is ``Succeeded`` at once; the ``Executing`` branch is tested on the pure
  ``blocking_reason`` with hand-made summaries.
* SortBy/SortOrder are ignored (oldest first), which the guard tolerates by picking the newest
  by StartTime itself.
* ClientRequestToken is stored but not used for idempotency (the same token twice gives two
  executions), so the tests check the token the guard sends and its derivation, not dedup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.retrain_guard import handler as guard

PIPELINE = "mlkit-train"
ALARM = "mlkit-prod-feature-drift"
ROLE_ARN = "arn:aws:iam::123456789012:role/mlkit-pipeline"
DISPLAY_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")
DEFINITION = {
    "Version": "2020-12-01",
    "Metadata": {},
    "Parameters": [{"Name": "TriggeredBy", "Type": "String", "DefaultValue": "manual"}],
    "Steps": [
        {
            "Name": "CheckTrigger",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "Equals",
                        "LeftValue": {"Get": "Parameters.TriggeredBy"},
                        "RightValue": "manual",
                    }
                ],
                "IfSteps": [],
                "ElseSteps": [],
            },
        }
    ],
}


def alarm_event(
    event_id: str = "11111111-2222-3333-4444-555555555555",
    state: str = "ALARM",
    previous: str = "OK",
    alarm: str = ALARM,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": "123456789012",
        "time": "2026-03-01T12:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": state, "reason": "Threshold Crossed: drift 0.31 > 0.2"},
            "previousState": {"value": previous, "reason": "ok"},
        },
    }


@pytest.fixture
def guard_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("MIN_INTERVAL_HOURS", "6")


@pytest.fixture
def sagemaker(aws: str, guard_env: None) -> Iterator[Any]:
    """The test's SageMaker client, with the pipeline created; the guard's client is fresh."""
    guard._sagemaker.cache_clear()
    client = boto3.client("sagemaker")
    client.create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=json.dumps(DEFINITION), RoleArn=ROLE_ARN
    )
    yield client
    guard._sagemaker.cache_clear()


@pytest.fixture
def sent_starts(sagemaker: Any) -> list[dict[str, Any]]:
    """The StartPipelineExecution parameters the guard's client sends."""
    sent: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    guard._sagemaker().meta.events.register(
        "provide-client-params.sagemaker.StartPipelineExecution", capture
    )
    return sent


def executions(client: Any) -> list[dict[str, Any]]:
    return client.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def set_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(guard, "now", lambda: moment)


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_first_alarm_starts_an_execution(sagemaker, sent_starts, capsys) -> None:
    result = guard.handler(alarm_event(), None)

    assert result["started"] is True
    arn = result["executionArn"]
    assert arn.startswith(f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{PIPELINE}/")
    (summary,) = executions(sagemaker)
    assert summary["PipelineExecutionArn"] == arn
    assert summary["PipelineExecutionDisplayName"] == "retrain-mlkit-prod-feature-drift"
    assert summary["PipelineExecutionDescription"] == (
        "Retraining triggered by alarm mlkit-prod-feature-drift at 2026-03-01T12:00:00Z: "
        "Threshold Crossed: drift 0.31 > 0.2"
    )
    parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert parameters["PipelineParameters"] == [{"Name": "TriggeredBy", "Value": ALARM}]
    assert [start["ClientRequestToken"] for start in sent_starts] == [
        guard.request_token_for(PIPELINE, "11111111-2222-3333-4444-555555555555")
    ]
    assert log_lines(capsys) == [
        {
            "guard": "retrain",
            "pipeline": PIPELINE,
            "alarm": ALARM,
            "eventId": "11111111-2222-3333-4444-555555555555",
            "started": True,
            "executionArn": arn,
        }
    ]


def test_second_alarm_inside_the_interval_does_not_start(sagemaker, monkeypatch, capsys) -> None:
    first = guard.handler(alarm_event("event-1"), None)
    (summary,) = executions(sagemaker)
    started_at = summary["StartTime"]
    set_clock(monkeypatch, started_at + timedelta(minutes=30))
    capsys.readouterr()

    result = guard.handler(alarm_event("event-2"), None)

    started_iso = started_at.astimezone(UTC).isoformat(timespec="seconds")
    reason = (
        f"execution {first['executionArn']} started {started_iso}, 0.50 h ago, "
        "less than MIN_INTERVAL_HOURS=6"
    )
    assert result == {"started": False, "reason": reason}
    assert len(executions(sagemaker)) == 1
    assert log_lines(capsys) == [
        {
            "guard": "retrain",
            "pipeline": PIPELINE,
            "alarm": ALARM,
            "eventId": "event-2",
            "started": False,
            "reason": reason,
        }
    ]


def test_starts_again_once_the_interval_has_passed(sagemaker, monkeypatch) -> None:
    first = guard.handler(alarm_event("event-1"), None)
    (summary,) = executions(sagemaker)
    set_clock(monkeypatch, summary["StartTime"] + timedelta(hours=6))

    second = guard.handler(alarm_event("event-2"), None)

    assert second["started"] is True
    arns = {execution["PipelineExecutionArn"] for execution in executions(sagemaker)}
    assert arns == {first["executionArn"], second["executionArn"]}
    assert len(arns) == 2


def test_a_redelivered_event_sends_the_same_request_token(
    sagemaker, sent_starts, monkeypatch
) -> None:
    # Past the interval both deliveries reach StartPipelineExecution; SageMaker then returns
    # the first execution for the repeated token (moto does not, so only the token is checked).
    guard.handler(alarm_event("event-1"), None)
    (summary,) = executions(sagemaker)
    set_clock(monkeypatch, summary["StartTime"] + timedelta(hours=7))
    guard.handler(alarm_event("event-1"), None)

    tokens = [start["ClientRequestToken"] for start in sent_starts]
    assert tokens == [guard.request_token_for(PIPELINE, "event-1")] * 2


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            alarm_event(state="OK", previous="ALARM"),
            "ignored: alarm mlkit-prod-feature-drift changed to OK, not ALARM",
        ),
        (
            alarm_event(state="INSUFFICIENT_DATA"),
            "ignored: alarm mlkit-prod-feature-drift changed to INSUFFICIENT_DATA, not ALARM",
        ),
        (
            alarm_event(previous="ALARM"),
            "ignored: alarm mlkit-prod-feature-drift was already in ALARM",
        ),
        (
            {"id": "x", "source": "aws.s3", "detail-type": "Object Created", "detail": {}},
            "ignored: not a CloudWatch alarm state change "
            "(source='aws.s3', detail-type='Object Created')",
        ),
    ],
    ids=["ok", "insufficient-data", "alarm-to-alarm", "other-source"],
)
def test_events_that_are_not_a_transition_into_alarm_are_ignored(
    sagemaker, capsys, event, reason
) -> None:
    assert guard.handler(event, None) == {"started": False, "reason": reason}
    assert executions(sagemaker) == []
    (line,) = log_lines(capsys)
    assert (line["started"], line["reason"]) == (False, reason)


def test_an_alarm_event_without_an_id_is_rejected(sagemaker) -> None:
    event = alarm_event()
    del event["id"]
    with pytest.raises(ValueError, match=re.escape("alarm event lacks 'id'")):
        guard.handler(event, None)
    assert executions(sagemaker) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MIN_INTERVAL_HOURS": "6"}, "PIPELINE_NAME is not set"),
        ({"PIPELINE_NAME": PIPELINE}, "MIN_INTERVAL_HOURS is not set"),
        (
            {"PIPELINE_NAME": PIPELINE, "MIN_INTERVAL_HOURS": "six"},
            "MIN_INTERVAL_HOURS must be a number, got 'six'",
        ),
        (
            {"PIPELINE_NAME": PIPELINE, "MIN_INTERVAL_HOURS": "0"},
            "MIN_INTERVAL_HOURS must be a finite number > 0, got '0'",
        ),
        (
            {"PIPELINE_NAME": PIPELINE, "MIN_INTERVAL_HOURS": "-2"},
            "MIN_INTERVAL_HOURS must be a finite number > 0, got '-2'",
        ),
        (
            {"PIPELINE_NAME": PIPELINE, "MIN_INTERVAL_HOURS": "nan"},
            "MIN_INTERVAL_HOURS must be a finite number > 0, got 'nan'",
        ),
    ],
    ids=["no-pipeline", "no-interval", "not-a-number", "zero", "negative", "nan"],
)
def test_bad_configuration_raises_before_any_aws_call(monkeypatch, env, message) -> None:
    monkeypatch.delenv("PIPELINE_NAME", raising=False)
    monkeypatch.delenv("MIN_INTERVAL_HOURS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(guard, "_sagemaker", lambda: pytest.fail("AWS called"))
    with pytest.raises(guard.ConfigError, match=f"^{re.escape(message)}$"):
        guard.handler(alarm_event(), None)


def test_fractional_interval_is_accepted() -> None:
    config = guard.load_config({"PIPELINE_NAME": PIPELINE, "MIN_INTERVAL_HOURS": "0.25"})
    assert config == guard.Config(PIPELINE, timedelta(minutes=15), 0.25)


# The decision on hand-made summaries: covers what moto cannot show (Executing, ordering).
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIX_HOURS = guard.Config(PIPELINE, timedelta(hours=6), 6.0)
ARN = f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{PIPELINE}/execution/"


def summary(name: str, start: datetime, status: str = "Succeeded") -> dict[str, Any]:
    return {
        "PipelineExecutionArn": ARN + name,
        "StartTime": start,
        "PipelineExecutionStatus": status,
    }


def test_no_executions_allows_a_start() -> None:
    assert guard.blocking_reason([], T0, SIX_HOURS) is None


def test_a_running_execution_blocks_however_old() -> None:
    running = summary("old", T0 - timedelta(days=3), "Executing")
    assert guard.blocking_reason([running], T0, SIX_HOURS) == (
        f"execution {ARN}old started 2026-02-26T12:00:00+00:00 is still Executing"
    )


def test_the_newest_execution_is_found_by_start_time_not_list_order() -> None:
    oldest_first = [summary("a", T0 - timedelta(hours=9)), summary("b", T0 - timedelta(hours=2))]
    assert guard.blocking_reason(oldest_first, T0, SIX_HOURS) == (
        f"execution {ARN}b started 2026-03-01T10:00:00+00:00, 2.00 h ago, "
        "less than MIN_INTERVAL_HOURS=6"
    )


def test_exactly_the_interval_ago_allows_a_start() -> None:
    failed = summary("f", T0 - timedelta(hours=6), "Failed")
    assert guard.blocking_reason([failed], T0, SIX_HOURS) is None
    assert guard.blocking_reason([failed], T0 - timedelta(seconds=1), SIX_HOURS) == (
        f"execution {ARN}f started 2026-03-01T06:00:00+00:00, 6.00 h ago, "
        "less than MIN_INTERVAL_HOURS=6"
    )


@pytest.mark.parametrize(
    ("alarm", "display_name"),
    [
        ("mlkit-prod-feature-drift", "retrain-mlkit-prod-feature-drift"),
        ("prod/Drift: feature_x (p99)", "retrain-prod-Drift-feature-x-p99"),
        ("--", "retrain"),
        ("a" * 74 + "-" + "b" * 20, "retrain-" + "a" * 74),
        ("x" * 255, "retrain-" + "x" * 74),
    ],
    ids=["plain", "punctuation", "no-alnum", "cut-at-hyphen", "long"],
)
def test_display_name_is_valid_for_sagemaker(alarm, display_name) -> None:
    assert guard.display_name_for(alarm) == display_name
    assert DISPLAY_NAME_PATTERN.fullmatch(display_name)


def test_request_token_is_stable_per_event_and_pipeline() -> None:
    token = guard.request_token_for(PIPELINE, "event-1")
    # sha256 of "mlkit-train\nevent-1": 64 characters, within SageMaker's 32-128.
    assert token == "3356a6eacb77b32884ab968aa14927dac08df5efffc2cb5d888ed4efb1063a30"
    assert token != guard.request_token_for(PIPELINE, "event-2")
    assert token != guard.request_token_for("other-pipeline", "event-1")


def test_an_alarm_event_without_a_previous_state_is_a_transition_into_alarm() -> None:
    event = alarm_event()
    del event["detail"]["previousState"]
    assert guard.ignore_reason(event) is None


def test_an_alarm_without_a_state_reason_starts_with_the_description_prefix_only(
    sagemaker, sent_starts
) -> None:
    event = alarm_event()
    del event["detail"]["state"]["reason"]
    assert guard.handler(event, None)["started"] is True
    assert [start["PipelineExecutionDescription"] for start in sent_starts] == [
        "Retraining triggered by alarm mlkit-prod-feature-drift at 2026-03-01T12:00:00Z: "
    ]
