"""Monitoring module: alarm metrics, thresholds in the metric's units, the retraining trigger."""

from __future__ import annotations

import json

import pytest

from modules.monitoring import (
    DashboardArgs,
    EndpointAlarms,
    EndpointAlarmsArgs,
    FeaturePipelineAlarms,
    PipelineAlarmsArgs,
    RetrainingTrigger,
    RetrainingTriggerArgs,
    ServiceDashboard,
    dashboard_body,
)

TOPIC = "arn:aws:sns:eu-west-1:111122223333:alerts"  # the platform fixture's


def test_endpoint_alarms(record_program, platform) -> None:
    args = EndpointAlarmsArgs(
        endpoint_name="fraud",
        variant_name="primary",
        latency_p99_ms=80,
        max_5xx_per_5_minutes=3,
    )
    recording = record_program(lambda: EndpointAlarms("e", platform, args))
    latency = recording.named("e-latency").inputs
    assert {k: v for k, v in latency.items() if k not in ("tags", "alarmDescription")} == {
        "actionsEnabled": True,
        "alarmActions": [TOPIC],
        "comparisonOperator": "GreaterThanThreshold",
        "datapointsToAlarm": 5,
        "dimensions": {"EndpointName": "fraud", "VariantName": "primary"},
        "evaluationPeriods": 5,
        "extendedStatistic": "p99",
        "metricName": "ModelLatency",
        "name": "fraud-latency-p99",
        "namespace": "AWS/SageMaker",
        "okActions": [TOPIC],
        "period": 60,
        "threshold": 80000,
        "treatMissingData": "notBreaching",
    }
    errors = recording.named("e-5xx").inputs
    assert (errors["metricName"], errors["statistic"], errors["threshold"], errors["period"]) == (
        "Invocation5XXErrors",
        "Sum",
        3,
        300,
    )
    assert recording.named("e-4xx").inputs["metricName"] == "Invocation4XXErrors"
    assert latency["tags"] == {
        "Name": "e-latency",
        "owner": "team",
        "cost-center": "1",
        "mlkit:component": "monitoring",
    }


def test_feature_pipeline_alarms(record_program, platform) -> None:
    args = PipelineAlarmsArgs(
        aggregator_function_name="agg",
        dead_letter_queue_name="dlq",
        max_iterator_age_seconds=45,
    )
    recording = record_program(lambda: FeaturePipelineAlarms("p", platform, args))
    age = recording.named("p-iterator-age").inputs
    assert (age["name"], age["metricName"], age["statistic"], age["threshold"]) == (
        "agg-iterator-age",
        "IteratorAge",
        "Maximum",
        45000,
    )
    dead = recording.named("p-dead-letters").inputs
    assert (dead["namespace"], dead["dimensions"], dead["threshold"]) == (
        "AWS/SQS",
        {"QueueName": "dlq"},
        0,
    )
    assert recording.named("p-aggregator-errors").inputs["dimensions"] == {"FunctionName": "agg"}
    assert recording.named("p-aggregator-errors").inputs["alarmActions"] == [TOPIC]


def trigger(record_program, platform, **overrides):
    args = RetrainingTriggerArgs(
        alarm_names=["fraud-drift"],
        pipeline_name="fraud-training",
        min_interval_hours=12,
    )
    for key, value in overrides.items():
        setattr(args, key, value)
    return record_program(lambda: RetrainingTrigger("r", platform, args))


def test_retraining_trigger_wires_alarm_to_guarded_pipeline_start(record_program, platform) -> None:
    recording = trigger(record_program, platform)
    pattern = json.loads(recording.named("r-rule").inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": ["fraud-drift"], "state": {"value": ["ALARM"]}},
    }
    guard = recording.named("r-guard").inputs
    assert guard["environment"]["variables"] == {
        "PIPELINE_NAME": "fraud-training",
        "MIN_INTERVAL_HOURS": "12",
    }
    policy = json.loads(recording.named("r-guard-role-policy").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111122223333:pipeline/fraud-training"
    ]
    permission = recording.named("r-invoke").inputs
    assert permission["principal"] == "events.amazonaws.com"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alarm_names": []}, "a retraining trigger needs at least one alarm"),
        ({"min_interval_hours": 0}, "min_interval_hours must be positive"),
    ],
)
def test_retraining_trigger_rejects_bad_args(record_program, platform, overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        trigger(record_program, platform, **overrides)


def test_dashboard_shows_the_platform_region(record_program, platform) -> None:
    args = DashboardArgs(
        endpoint_name=None,
        variant_name="primary",
        aggregator_function_name="agg",
        dead_letter_queue_name="dlq",
    )
    dashboard = record_program(lambda: ServiceDashboard("d", platform, args)).named("d-dashboard")
    assert dashboard.inputs["dashboardName"] == "d"
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    assert [w["properties"]["region"] for w in widgets] == ["eu-west-1", "eu-west-1"]


def test_dashboard_shows_the_endpoint_only_when_deployed() -> None:
    with_endpoint = json.loads(
        dashboard_body(
            region="eu-west-1",
            endpoint_name="fraud",
            variant_name="primary",
            aggregator_function_name="agg",
            dead_letter_queue_name="dlq",
        )
    )
    without = json.loads(
        dashboard_body(
            region="eu-west-1",
            endpoint_name=None,
            variant_name="primary",
            aggregator_function_name="agg",
            dead_letter_queue_name="dlq",
        )
    )
    titles = [w["properties"]["title"] for w in with_endpoint["widgets"]]
    assert titles == [
        "Model latency (p99, microseconds)",
        "Invocations and errors",
        "Feature freshness: aggregator iterator age (ms)",
        "Aggregator errors and dead letters",
    ]
    assert [w["properties"]["title"] for w in without["widgets"]] == titles[2:]
