"""Monitoring module: every alarm's exact inputs and a description that states what it
evaluates, thresholds in the metric's units, the retraining trigger, the dashboard."""

from __future__ import annotations

import json
import re

import pulumi
import pytest
from pydantic import ValidationError

from mlkit.settings import section_keys
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
    streaming_panels,
)
from modules.monitoring.alarms import metric_alarm, period_text
from modules.monitoring.settings import MonitoringSettings, processing_instance_types

TOPIC = "arn:aws:sns:eu-west-1:111122223333:alerts"  # the platform fixture's


TAGS = {"owner": "team", "cost-center": "1", "mlkit:component": "monitoring"}


def alarm(recording, name: str) -> dict:
    """An alarm's inputs without what every kit alarm has (tags, actions on the topic)."""
    inputs = dict(recording.named(name).inputs)
    assert inputs.pop("tags") == {"Name": name, **TAGS}
    assert (inputs.pop("actionsEnabled"), inputs.pop("alarmActions"), inputs.pop("okActions")) == (
        True,
        [TOPIC],
        [TOPIC],
    )
    return inputs


ENDPOINT = {
    "namespace": "AWS/SageMaker",
    "dimensions": {"EndpointName": "fraud", "VariantName": "primary"},
}


def test_endpoint_alarms_state_exactly_what_they_evaluate(record_program, platform) -> None:
    args = EndpointAlarmsArgs(
        endpoint_name="fraud",
        variant_name="primary",
        latency_p99_ms=80,
        max_5xx_per_5_minutes=3,
        max_4xx_per_5_minutes=7,
    )
    recording = record_program(lambda: EndpointAlarms("e", platform, args))
    where = "(EndpointName=fraud, VariantName=primary)"
    assert alarm(recording, "e-latency") == ENDPOINT | {
        "name": "fraud-latency-p99",
        "alarmDescription": "p99 model latency of fraud above 80 ms; rolls back a deployment in "
        f"progress. Fires when the p99 of AWS/SageMaker ModelLatency {where} per 1 minute is "
        "> 80000 microseconds in 3 of 5 periods; missing data counts as not breaching.",
        "metricName": "ModelLatency",
        "extendedStatistic": "p99",
        "period": 60,
        "evaluationPeriods": 5,
        "datapointsToAlarm": 3,
        "threshold": 80000,  # ModelLatency is in microseconds
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    assert alarm(recording, "e-5xx") == ENDPOINT | {
        "name": "fraud-5xx",
        "alarmDescription": "fraud answers with server errors (5xx); rolls back a deployment in "
        f"progress. Fires when the Sum of AWS/SageMaker Invocation5XXErrors {where} per 5 "
        "minutes is > 3 in 1 of 1 period; missing data counts as not breaching.",
        "metricName": "Invocation5XXErrors",
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 3,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    # The 4xx alarm has its own threshold (it used to share the 5xx one).
    assert alarm(recording, "e-4xx") == ENDPOINT | {
        "name": "fraud-4xx",
        "alarmDescription": "The model behind fraud rejects requests (4xx): the scoring API's "
        "schema and the model disagree. Fires when the Sum of AWS/SageMaker "
        f"Invocation4XXErrors {where} per 5 minutes is > 7 in 1 of 1 period; missing data "
        "counts as not breaching.",
        "metricName": "Invocation4XXErrors",
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 7,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latency_p99_ms": 0}, "latency_p99_ms must be positive"),
        ({"max_5xx_per_5_minutes": -1}, "max_5xx_per_5_minutes >= 0"),
        ({"max_4xx_per_5_minutes": -1}, "max_4xx_per_5_minutes must be >= 0"),
    ],
)
def test_endpoint_alarms_refuse_impossible_thresholds(
    record_program, platform, overrides, message
) -> None:
    args = EndpointAlarmsArgs(endpoint_name="fraud", variant_name="primary", **overrides)
    with pytest.raises(ValueError, match=message):
        record_program(lambda: EndpointAlarms("e", platform, args))


def test_feature_pipeline_alarms_watch_the_aggregators_own_failed_records(
    record_program, platform
) -> None:
    args = PipelineAlarmsArgs(
        aggregator_function_name="agg",
        aggregate_group_name="cards",
        dead_letter_queue_name="dlq",
        max_iterator_age_seconds=45,
    )
    recording = record_program(lambda: FeaturePipelineAlarms("p", platform, args))
    # With partial-batch responses Lambda's Errors metric stays at zero: the aggregator's own
    # Failed count (EMF, emitted even when zero) is what shows records failing.
    assert alarm(recording, "p-aggregator-failed") == {
        "name": "agg-failed-records",
        "alarmDescription": "The streaming aggregator could not process records (reported for "
        "retry); online features may be stale. Fires when the Sum of mlkit/Aggregator Failed "
        "(FeatureGroup=cards) per 5 minutes is > 0 in 1 of 1 period; missing data counts as "
        "not breaching.",
        "namespace": "mlkit/Aggregator",
        "metricName": "Failed",
        "dimensions": {"FeatureGroup": "cards"},
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 0,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    assert alarm(recording, "p-iterator-age") == {
        "name": "agg-iterator-age",
        "alarmDescription": "Online features more than 45 s behind the stream. Fires when the "
        "Maximum of AWS/Lambda IteratorAge (FunctionName=agg) per 1 minute is > 45000 "
        "milliseconds in 3 of 3 periods; missing data counts as not breaching.",
        "namespace": "AWS/Lambda",
        "metricName": "IteratorAge",
        "dimensions": {"FunctionName": "agg"},
        "statistic": "Maximum",
        "period": 60,
        "evaluationPeriods": 3,
        "datapointsToAlarm": 3,
        "threshold": 45000,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    assert alarm(recording, "p-dead-letters") == {
        "name": "dlq-not-empty",
        "alarmDescription": "Records could not be aggregated: inspect and replay the queue. "
        "Fires when the Maximum of AWS/SQS ApproximateNumberOfMessagesVisible (QueueName=dlq) "
        "per 5 minutes is > 0 in 1 of 1 period; missing data counts as not breaching.",
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": "dlq"},
        "statistic": "Maximum",
        "period": 300,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 0,
        "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching",
    }
    assert sorted(r.name for r in recording.resources if r.custom) == [
        "p-aggregator-failed",
        "p-dead-letters",
        "p-iterator-age",
    ]


def test_the_failed_alarm_reads_the_metric_the_aggregator_emits(record_program, platform) -> None:
    from functions.aggregator import handler as aggregator

    args = PipelineAlarmsArgs(
        aggregator_function_name="agg", aggregate_group_name="cards", dead_letter_queue_name="q"
    )
    inputs = (
        record_program(lambda: FeaturePipelineAlarms("p", platform, args))
        .named("p-aggregator-failed")
        .inputs
    )
    assert inputs["namespace"] == aggregator.METRIC_NAMESPACE
    assert inputs["metricName"] in aggregator.METRIC_NAMES


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"comparison": "Above"}, "unknown comparison 'Above'"),
        ({"treat_missing_data": "skip"}, "unknown missing-data treatment 'skip'"),
        ({"evaluation_periods": 2, "datapoints_to_alarm": 3}, "datapoints_to_alarm must be"),
        ({"datapoints_to_alarm": 0}, "datapoints_to_alarm must be"),
        ({"period": 90}, "period must be a multiple of 60 seconds"),
    ],
)
def test_metric_alarm_refuses_what_cloudwatch_would_not_take(
    record_program, platform, overrides, message
) -> None:
    class Parent(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("mlkit:test:Parent", "parent")
            metric_alarm(
                "a",
                alarm_name="a",
                purpose="p",
                namespace="n",
                metric="m",
                dimensions={},
                threshold=1,
                topic_arn=TOPIC,
                tags={},
                parent=self,
                **overrides,
            )

    with pytest.raises(ValueError, match=message):
        record_program(Parent)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(60, "1 minute"), (300, "5 minutes"), (3600, "1 hour"), (7200, "2 hours"), (86400, "1 day")],
)
def test_periods_are_worded_as_cloudwatch_counts_them(seconds, text) -> None:
    assert period_text(seconds) == text


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
        streaming_panels(
            endpoint_name=None,
            variant_name="primary",
            aggregator_function_name="agg",
            dead_letter_queue_name="dlq",
        )
    )
    dashboard = record_program(lambda: ServiceDashboard("d", platform, args)).named("d-dashboard")
    assert dashboard.inputs["dashboardName"] == "d"
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    assert [w["properties"]["region"] for w in widgets] == ["eu-west-1", "eu-west-1"]
    assert widgets[0]["properties"]["metrics"] == [
        ["AWS/Lambda", "IteratorAge", "FunctionName", "agg"]
    ]


def test_a_dashboard_without_panels_is_refused(record_program, platform) -> None:
    with pytest.raises(ValueError, match="a dashboard needs at least one panel"):
        record_program(lambda: ServiceDashboard("d", platform, DashboardArgs([])))


def test_dashboard_shows_the_endpoint_only_when_deployed() -> None:
    def titles(endpoint: str | None) -> list[str]:
        body = json.loads(
            dashboard_body(
                "eu-west-1",
                streaming_panels(
                    endpoint_name=endpoint,
                    variant_name="primary",
                    aggregator_function_name="agg",
                    dead_letter_queue_name="dlq",
                ),
            )
        )
        return [w["properties"]["title"] for w in body["widgets"]]

    assert titles("fraud") == [
        "Model latency (p99, microseconds)",
        "Invocations and errors",
        "Feature freshness: aggregator iterator age (ms)",
        "Aggregator errors and dead letters",
    ]
    assert titles(None) == titles("fraud")[2:]


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 * * * ? *)",
        "cron(30 4 ? * MON *)",
        "rate(1 hour)",
        "rate(6 hours)",
        "rate(1 day)",
        "rate(60 minutes)",
    ],
)
def test_schedules_at_most_hourly_in_scheduler_syntax_are_taken(expression) -> None:
    settings = MonitoringSettings.model_validate({"driftSchedule": expression})
    assert settings.drift_schedule == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(5 minutes)", "'rate(5 minutes)' runs more often than hourly"),
        ("rate(1 hours)", "the unit is singular for 1 and plural above"),
        ("rate(2 hour)", "the unit is singular for 1 and plural above"),
        ("rate(0 hours)", "the unit is singular for 1 and plural above"),
        ("cron(*/10 * * * ? *)", "minutes must be one number 0-59 (at most hourly)"),
        ("cron(0 * * * * *)", "day-of-month or day-of-week must be '?'"),
        ("cron(0 * * *)", "is not rate(value unit) or cron("),
        ("at(2026-05-04T10:00:00)", "is not rate(value unit) or cron("),
    ],
)
def test_schedules_scheduler_would_refuse_or_that_run_too_often_are_refused(
    expression, message
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        MonitoringSettings.model_validate({"qualitySchedule": expression})


def test_monitoring_settings_defaults_and_keys() -> None:
    settings = MonitoringSettings()
    assert (settings.backend, settings.job_image) == ("kit-jobs", None)
    assert (settings.drift_schedule, settings.quality_schedule) == (
        "cron(0 * * * ? *)",
        "cron(0 3 * * ? *)",
    )
    assert (settings.max_5xx_per_5_minutes, settings.max_4xx_per_5_minutes) == (5, 0)
    keys = set(section_keys(MonitoringSettings))
    assert {"max4xxPer5Minutes", "max5xxPer5Minutes", "jobImage", "minCapturedRows"} <= keys
    assert not {"dataQualitySchedule", "modelQualitySchedule"} & keys  # Model Monitor's
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b@sha256:" + "f" * 64
    assert MonitoringSettings.model_validate({"jobImage": image}).job_image == image
    with pytest.raises(ValidationError, match="is not an ECR image pinned by digest"):
        MonitoringSettings.model_validate({"jobImage": image.replace("f" * 64, "f" * 63)})


def test_the_job_instance_type_is_one_sagemaker_processing_offers() -> None:
    assert MonitoringSettings().instance_type in processing_instance_types()
    assert "ml.m5.large" in processing_instance_types()
    settings = MonitoringSettings.model_validate({"instanceType": "ml.c5.xlarge"})
    assert settings.instance_type == "ml.c5.xlarge"
    with pytest.raises(ValidationError, match=r"'ml\.m5\.mega' is not an instance type SageMaker"):
        MonitoringSettings.model_validate({"instanceType": "ml.m5.mega"})
