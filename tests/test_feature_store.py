"""Feature store module and streaming ingestion: exact inputs, scoped IAM, argument checks."""

from __future__ import annotations

import dataclasses
import json

import pytest

from modules.common import Durability
from modules.feature_store import FeatureGroupSpec, FeatureStore, FeatureStoreArgs
from modules.feature_store.ingestion import StreamingIngestion, StreamingIngestionArgs

KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"  # the platform fixture's
RETAIN, DESTROY = Durability.from_setting("retain"), Durability.from_setting("destroy")
CARDS = FeatureGroupSpec(
    name="card_aggregates",
    record_identifier="card_id",
    event_time="event_time",
    features={"card_id": "string", "event_time": "string", "txn_count_10m": "integral"},
    owner="fraud-ml",
    ttl_days=7,
)
TRANSACTIONS = FeatureGroupSpec(
    name="transactions",
    record_identifier="transaction_id",
    event_time="event_time",
    features={"transaction_id": "string", "amount": "fractional", "event_time": "string"},
    owner="fraud-ml",
    online=False,
)


def store(
    record_program, platform, groups=(CARDS, TRANSACTIONS), durability=DESTROY, consumers=None
):
    args = FeatureStoreArgs(groups=list(groups), consumers=consumers or {"card_aggregates": ["m"]})
    on = dataclasses.replace(platform, durability=durability)
    return record_program(lambda: FeatureStore("fs", on, args))


def test_online_group_is_encrypted_with_ttl_and_offline_store_is_iceberg(
    record_program, platform
) -> None:
    cards = store(record_program, platform).named("fs-card-aggregates").inputs
    assert {k: v for k, v in cards.items() if k not in ("tags", "roleArn")} == {
        "featureGroupName": "fs-card-aggregates",
        "recordIdentifierFeatureName": "card_id",
        "eventTimeFeatureName": "event_time",
        "featureDefinitions": [
            {"featureName": "card_id", "featureType": "String"},
            {"featureName": "event_time", "featureType": "String"},
            {"featureName": "txn_count_10m", "featureType": "Integral"},
        ],
        "onlineStoreConfig": {
            "enableOnlineStore": True,
            "securityConfig": {"kmsKeyId": KEY},
            "ttlDuration": {"unit": "Days", "value": 7},
        },
        "offlineStoreConfig": {
            "dataCatalogConfig": {
                "catalog": "AwsDataCatalog",
                "database": "fs_catalog",
                "tableName": "fs_card_aggregates",
            },
            "s3StorageConfig": {
                "kmsKeyId": KEY,
                "s3Uri": "s3://fs-offline-bucket/offline-store",
            },
            "tableFormat": "Iceberg",
        },
    }
    assert cards["roleArn"] == "arn:aws:iam::123456789012:role/fs-offline-role"
    assert cards["tags"] == {
        "Name": "fs-card-aggregates",
        "owner": "team",
        "cost-center": "1",
        "mlkit:component": "feature_store",
        "mlkit:feature-owner": "fraud-ml",
    }


def test_offline_only_group_has_no_online_store(record_program, platform) -> None:
    transactions = store(record_program, platform).named("fs-transactions").inputs
    assert "onlineStoreConfig" not in transactions
    assert transactions["offlineStoreConfig"]["tableFormat"] == "Iceberg"


def test_offline_role_is_scoped_to_its_bucket_key_and_catalog(record_program, platform) -> None:
    policy = json.loads(
        store(record_program, platform).named("fs-offline-role-policy").inputs["policy"]
    )
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources == {
        "OfflineStoreData": ["arn:aws:s3:::fs-offline-bucket", "arn:aws:s3:::fs-offline-bucket/*"],
        "StackKey": [KEY],
        "OfflineStoreCatalog": [
            "arn:aws:glue:eu-west-1:111122223333:catalog",
            "arn:aws:glue:eu-west-1:111122223333:database/fs_catalog",
            "arn:aws:glue:eu-west-1:111122223333:table/fs_catalog/*",
        ],
    }


def test_registry_names_owners_features_and_consumers(record_program, platform) -> None:
    recording = store(record_program, platform)
    registry = json.loads(recording.named("fs-registry").inputs["content"])
    assert registry["featureGroups"][0] == {
        "name": "card_aggregates",
        "deployedName": "fs-card-aggregates",
        "owner": "fraud-ml",
        "description": "",
        "recordIdentifier": "card_id",
        "eventTime": "event_time",
        "stores": ["online", "offline"],
        "features": [
            {"name": "card_id", "type": "string"},
            {"name": "event_time", "type": "string"},
            {"name": "txn_count_10m", "type": "integral"},
        ],
        "consumers": ["m"],
    }
    assert registry["featureGroups"][1]["consumers"] == []
    assert recording.named("fs-registry").inputs["key"] == "registry/feature-registry.json"


@pytest.mark.parametrize("durability", [RETAIN, DESTROY])
def test_groups_and_catalog_follow_durability(record_program, platform, durability) -> None:
    recording = store(record_program, platform, durability=durability)
    kept = durability.protect
    for name in ("fs-card-aggregates", "fs-transactions", "fs-catalog", "fs-offline-bucket"):
        resource = recording.named(name)
        assert (resource.protect, resource.retain_on_delete) == (kept, kept), name


@pytest.mark.parametrize(
    ("groups", "consumers", "message"),
    [
        ((CARDS, CARDS), None, "feature groups must be non-empty and uniquely named"),
        ((CARDS,), {"nope": ["m"]}, "consumers name unknown feature groups ['nope']"),
    ],
)
def test_conflicting_args_raise(record_program, platform, groups, consumers, message) -> None:
    with pytest.raises(ValueError) as raised:
        store(record_program, platform, groups=groups, consumers=consumers)
    assert str(raised.value) == message


def ingestion(record_program, platform, **overrides):
    args = StreamingIngestionArgs(
        aggregate_group_name="fs-card-aggregates",
        aggregate_group_arn="arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fs-card-aggregates",
        transactions_group_name="fs-transactions",
        transactions_group_arn="arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fs-transactions",
        windows={"10m": 600, "1h": 3600},
    )
    for key, value in overrides.items():
        setattr(args, key, value)
    return record_program(lambda: StreamingIngestion("in", platform, args))


def test_stream_mode_and_encryption(record_program, platform) -> None:
    provisioned = ingestion(record_program, platform).named("in-stream").inputs
    assert {k: v for k, v in provisioned.items() if k != "tags"} == {
        "name": "in-transactions",
        "encryptionType": "KMS",
        "kmsKeyId": KEY,
        "retentionPeriod": 24,
        "shardCount": 1,
        "streamModeDetails": {"streamMode": "PROVISIONED"},
    }
    on_demand = ingestion(record_program, platform, on_demand=True).named("in-stream").inputs
    assert on_demand["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in on_demand


def test_aggregator_wiring_matches_its_handler_contract(record_program, platform) -> None:
    recording = ingestion(record_program, platform)
    function = recording.named("in-aggregator").inputs
    assert function["environment"]["variables"] == {
        "STATE_TABLE": "in-state",
        "CARD_FEATURE_GROUP": "fs-card-aggregates",
        "TRANSACTIONS_FEATURE_GROUP": "fs-transactions",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/in-dead-letters",
        "WINDOWS": "10m=600,1h=3600",
    }
    assert (function["handler"], function["runtime"]) == ("handler.handler", "python3.12")
    assert function["code"] == {"fileArchive": "functions/aggregator"}
    trigger = recording.named("in-aggregator-trigger").inputs
    assert {k: v for k, v in trigger.items() if k != "tags"} == {
        "batchSize": 100,
        "bisectBatchOnFunctionError": True,
        "destinationConfig": {
            "onFailure": {"destinationArn": "arn:aws:sqs:eu-west-1:123456789012:in-dead-letters"}
        },
        "eventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/in-transactions",
        "functionName": "arn:aws:lambda:eu-west-1:123456789012:function:in-aggregator",
        "functionResponseTypes": ["ReportBatchItemFailures"],
        "maximumRetryAttempts": 3,
        "startingPosition": "LATEST",
    }


def test_state_table_and_dead_letters_are_encrypted(record_program, platform) -> None:
    recording = ingestion(record_program, platform)
    table = recording.named("in-state").inputs
    assert table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY}
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert (table["hashKey"], table["rangeKey"], table["billingMode"]) == (
        "card_id",
        "sk",
        "PAY_PER_REQUEST",
    )
    queue = recording.named("in-dead-letters").inputs
    assert (queue["kmsMasterKeyId"], queue["messageRetentionSeconds"]) == (KEY, 1209600)


def test_aggregator_logs_take_the_platform_key_retention_and_durability(
    record_program, platform
) -> None:
    logs = ingestion(record_program, dataclasses.replace(platform, durability=RETAIN))
    group = logs.named("in-aggregator-logs")
    assert {k: v for k, v in group.inputs.items() if k != "tags"} == {
        "name": "/aws/lambda/in-aggregator",
        "retentionInDays": 30,
        "kmsKeyId": KEY,
        "deletionProtectionEnabled": True,
    }
    assert (group.protect, group.retain_on_delete) == (True, True)
    assert group.inputs["tags"]["mlkit:component"] == "feature_store"


def test_aggregator_role_names_every_resource(record_program, platform) -> None:
    policy = json.loads(
        ingestion(record_program, platform).named("in-aggregator-role-policy").inputs["policy"]
    )
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources == {
        "ReadStream": ["arn:aws:kinesis:eu-west-1:123456789012:stream/in-transactions"],
        "StackKey": [KEY],
        "WindowState": ["arn:aws:dynamodb:eu-west-1:123456789012:table/in-state"],
        "WriteFeatures": [
            "arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fs-card-aggregates",
            "arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fs-transactions",
        ],
        "DeadLetters": ["arn:aws:sqs:eu-west-1:123456789012:in-dead-letters"],
        "Logs": ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/in-aggregator:*"],
    }


def test_ingestion_rejects_conflicting_args(record_program, platform) -> None:
    with pytest.raises(ValueError, match="shard_count applies to provisioned streams only"):
        ingestion(record_program, platform, on_demand=True, shard_count=4)
    with pytest.raises(ValueError, match="windows must be non-empty with positive durations"):
        ingestion(record_program, platform, windows={"10m": 0})
