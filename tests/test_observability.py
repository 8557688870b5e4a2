"""Observability module: alert topic, subscriptions, encrypted log groups."""

from __future__ import annotations

import json

import pytest

from mlkit.settings import SECRET_PLACEHOLDER
from modules.observability import Observability, ObservabilityArgs

TAGS = {"owner": "team", "cost-center": "1"}
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/k"


def observability(record_program, **kwargs):
    args = ObservabilityArgs(account_id="111122223333", kms_key_arn=KEY_ARN, tags=TAGS, **kwargs)
    return record_program(lambda: Observability("o", args))


def test_topic_is_encrypted_and_only_alarms_and_events_of_the_account_publish(
    record_program,
) -> None:
    recording = observability(record_program)
    topic = recording.named("o-alerts")
    assert topic.inputs == {
        "kmsMasterKeyId": KEY_ARN,
        "tags": {"Name": "o-alerts", "mlkit:component": "observability"} | TAGS,
    }
    policy = json.loads(recording.named("o-alerts-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "AlarmsAndEventsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:eu-west-1:123456789012:o-alerts",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        }
    ]
    assert recording.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_subscribers(record_program) -> None:
    recording = observability(
        record_program,
        alert_emails=["a@example.com", "b@example.com"],
        alert_https_endpoint=SECRET_PLACEHOLDER,
    )
    subscriptions = {
        r.name: (r.inputs["protocol"], r.inputs["endpoint"])
        for r in recording.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert subscriptions == {
        "o-alerts-email-0": ("email", "a@example.com"),
        "o-alerts-email-1": ("email", "b@example.com"),
        "o-alerts-https": ("https", SECRET_PLACEHOLDER),
    }
    assert recording.named("o-alerts-https").inputs["endpointAutoConfirms"] is True


def test_duplicate_email_is_a_construction_error(record_program) -> None:
    with pytest.raises(ValueError, match="alert_emails lists an address twice"):
        observability(record_program, alert_emails=["a@example.com", "a@example.com"])


def test_sagemaker_job_log_groups_only_when_the_stack_makes_them(record_program) -> None:
    from modules.common import Durability
    from modules.observability import SageMakerJobLogGroups

    def log_groups(recording) -> dict[str, dict]:
        return {
            r.inputs["name"]: r.inputs
            for r in recording.of_type("aws:cloudwatch/logGroup:LogGroup")
        }

    assert log_groups(observability(record_program)) == {}
    keep = Durability.from_setting("retain")
    made = log_groups(
        observability(
            record_program,
            sagemaker_job_log_groups=SageMakerJobLogGroups(retention_days=365, durability=keep),
        )
    )
    assert sorted(made) == ["/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TrainingJobs"]
    for group in made.values():
        assert (group["kmsKeyId"], group["retentionInDays"]) == (KEY_ARN, 365)
        assert group["deletionProtectionEnabled"] is True
