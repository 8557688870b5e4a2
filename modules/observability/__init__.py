"""Observability: the stack's encrypted alert topic, and encrypted log groups with retention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.common import Durability, resource_tags
from modules.security.iam import policy_document

# Services that publish alarms and events to the alert topic.
ALERT_PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]


def encrypted_log_group(
    name: str,
    *,
    log_group_name: pulumi.Input[str],
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    durability: Durability,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.LogGroup:
    """A log group encrypted with the stack key, with retention. Modules create the log
    groups of their own workloads with this, so none is left at 'never expire'."""
    return aws.cloudwatch.LogGroup(
        name,
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        deletion_protection_enabled=durability.deletion_protection,
        tags=resource_tags(name, tags),
        opts=durability.options(parent),
    )


@dataclass
class ObservabilityArgs:
    account_id: pulumi.Input[str]
    """Account whose alarms and rules may publish to the topic."""
    kms_key_arn: pulumi.Input[str]
    """Stack key; its policy must let CloudWatch and EventBridge use it (StackKey does)."""
    alert_emails: Sequence[str] = ()
    """Addresses subscribed to alerts (each confirms by email)."""
    alert_https_endpoint: pulumi.Input[str] | None = None
    """Secret HTTPS integration URL (PagerDuty, Opsgenie) subscribed to alerts."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""
    sagemaker_job_log_groups: SageMakerJobLogGroups | None = None
    """Make SageMaker's job log groups (per account and region) with the stack key; default
    None (SageMaker creates them itself on the first job)."""


SAGEMAKER_JOB_LOG_GROUPS = ("ProcessingJobs", "TrainingJobs")


@dataclass(frozen=True)
class SageMakerJobLogGroups:
    retention_days: int
    """Retention of both groups."""
    durability: Durability
    """How they survive deletes."""


class Observability(pulumi.ComponentResource):
    """The alert topic every alarm of the stack notifies: KMS-encrypted, publishable only by
    CloudWatch alarms and EventBridge rules of this account, with the stack's subscribers."""

    alert_topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:observability:Observability", name, None, opts)
        if len(set(args.alert_emails)) != len(args.alert_emails):
            raise ValueError("alert_emails lists an address twice")
        tags = dict(args.tags) | {"mlkit:component": "observability"}
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-alerts",
            kms_master_key_id=args.kms_key_arn,
            tags=resource_tags(f"{name}-alerts", tags),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=policy_document(
                {
                    "Sid": "AlarmsAndEventsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": ALERT_PUBLISHERS},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                }
            ),
            opts=child,
        )
        for index, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        if args.alert_https_endpoint is not None:
            aws.sns.TopicSubscription(
                f"{name}-alerts-https",
                topic=topic.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(args.alert_https_endpoint),
                endpoint_auto_confirms=True,
                opts=child,
            )
        if args.sagemaker_job_log_groups is not None:
            for kind in SAGEMAKER_JOB_LOG_GROUPS:
                encrypted_log_group(
                    f"{name}-sagemaker-{kind.lower()}",
                    log_group_name=f"/aws/sagemaker/{kind}",
                    retention_days=args.sagemaker_job_log_groups.retention_days,
                    kms_key_arn=args.kms_key_arn,
                    durability=args.sagemaker_job_log_groups.durability,
                    tags=tags,
                    parent=self,
                )
        self.alert_topic_arn = topic.arn
        self.register_outputs({"alert_topic_arn": self.alert_topic_arn})
