"""Monitoring of batch serving: is a fresh, complete generation served, quickly, and did the
pipelines behind it run? A batch recommender fails quietly (yesterday's generation keeps
being served), so every alarm here watches for something that should have happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.monitoring.alarms import metric_alarm
from modules.platform import Platform

RECOMMENDATIONS_NAMESPACE = "mlkit/Recommendations"
"""The loader's metrics (functions/recommendations/loader/handler.py, EMF), per `Table`."""
FRESHNESS_PERIOD = 3600
MAX_FRESHNESS_HOURS = 168
"""CloudWatch evaluates at most 7 days of one-hour periods."""
PIPELINE_EVENT = "SageMaker Model Building Pipeline Execution Status Change"
PIPELINE_FAILURES = ["Failed", "Stopped"]


@dataclass
class BatchServingAlarmsArgs:
    """The alarms' own args; the platform gives the alert topic they notify."""

    table_name: pulumi.Input[str]
    """Recommendations table the loader publishes to (the metrics' `Table`)."""
    api_id: pulumi.Input[str]
    """HTTP API of the lookups."""
    pipeline_arns: Sequence[pulumi.Input[str]]
    """Pipelines whose failed or stopped executions alert (features, training, scoring)."""
    freshness_hours: int = 36
    """Alarm when no generation was published for this many hours (1-168); default 36."""
    min_coverage: float = 0.95
    """Alarm when a generation covers a smaller share of the users scored; default 0.95."""
    latency_p99_ms: int = 100
    """Alarm when the lookups' p99 latency exceeds this for 15 minutes; default 100."""
    max_5xx_per_5_minutes: int = 5
    """Alarm when more lookups fail in 5 minutes; default 5."""


class BatchServingAlarms(pulumi.ComponentResource):
    """Freshness (no generation published for `freshness_hours`: missing data breaches, so a
    stack that never loaded one alarms too), coverage (the newest generation's), lookup p99
    latency and 5xx errors, and an EventBridge rule sending the pipelines' failed or stopped
    executions to the alert topic."""

    freshness_alarm_name: pulumi.Output[str]
    coverage_alarm_name: pulumi.Output[str]
    latency_alarm_name: pulumi.Output[str]
    errors_alarm_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: BatchServingAlarmsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:monitoring:BatchServingAlarms", name, None, opts)
        if not 1 <= args.freshness_hours <= MAX_FRESHNESS_HOURS:
            raise ValueError(f"freshness_hours must be 1 to {MAX_FRESHNESS_HOURS}")
        if not 0 < args.min_coverage <= 1:
            raise ValueError("min_coverage must be above 0 and at most 1")
        if not args.pipeline_arns:
            raise ValueError("name the pipelines whose failures alert")
        tags = platform.component_tags("monitoring")
        topic = platform.alert_topic_arn
        table = {"Table": args.table_name}
        api = {"ApiId": args.api_id}
        freshness = metric_alarm(
            f"{name}-freshness",
            alarm_name=f"{name}-freshness",
            purpose=f"No recommendations generation was published for {args.freshness_hours} hours"
            " (the served one is older)",
            namespace=RECOMMENDATIONS_NAMESPACE,
            metric="GenerationsLoaded",
            dimensions=table,
            threshold=1,
            comparison="LessThanThreshold",
            period=FRESHNESS_PERIOD,
            evaluation_periods=args.freshness_hours,
            treat_missing_data="breaching",
            topic_arn=topic,
            tags=tags,
            parent=self,
        )
        coverage = metric_alarm(
            f"{name}-coverage",
            alarm_name=f"{name}-coverage",
            purpose="The newest generation has recommendations for too few of the users scored",
            namespace=RECOMMENDATIONS_NAMESPACE,
            metric="Coverage",
            dimensions=table,
            statistic="Minimum",
            threshold=args.min_coverage,
            comparison="LessThanThreshold",
            period=FRESHNESS_PERIOD,
            # One datapoint a load: the state holds until the next load reports.
            treat_missing_data="ignore",
            topic_arn=topic,
            tags=tags,
            parent=self,
        )
        latency = metric_alarm(
            f"{name}-latency",
            alarm_name=f"{name}-latency-p99",
            purpose="Recommendation lookups are slow",
            namespace="AWS/ApiGateway",
            metric="Latency",
            dimensions=api,
            statistic=None,
            extended_statistic="p99",
            threshold=args.latency_p99_ms,
            unit="ms",
            period=300,
            evaluation_periods=3,
            topic_arn=topic,
            tags=tags,
            parent=self,
        )
        errors = metric_alarm(
            f"{name}-errors",
            alarm_name=f"{name}-5xx",
            purpose="Recommendation lookups fail",
            namespace="AWS/ApiGateway",
            metric="5xx",
            dimensions=api,
            threshold=args.max_5xx_per_5_minutes,
            topic_arn=topic,
            tags=tags,
            parent=self,
        )
        failed = aws.cloudwatch.EventRule(
            f"{name}-pipeline-failures",
            description=f"Failed or stopped pipeline executions of {name}",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": [PIPELINE_EVENT],
                    "detail": {
                        "currentPipelineExecutionStatus": PIPELINE_FAILURES,
                        "pipelineArn": list(args.pipeline_arns),
                    },
                }
            ),
            tags=resource_tags(f"{name}-pipeline-failures", tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-pipeline-failures-alert",
            rule=failed.name,
            arn=topic,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.freshness_alarm_name = freshness.name
        self.coverage_alarm_name = coverage.name
        self.latency_alarm_name = latency.name
        self.errors_alarm_name = errors.name
        self.register_outputs(
            {
                "freshness_alarm_name": self.freshness_alarm_name,
                "coverage_alarm_name": self.coverage_alarm_name,
                "latency_alarm_name": self.latency_alarm_name,
                "errors_alarm_name": self.errors_alarm_name,
            }
        )
