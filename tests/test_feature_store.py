"""Feature store module and streaming ingestion: exact inputs, scoped IAM, argument checks;
and the model input schema derived from the feature groups (defaults, required features)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from functions.aggregator import handler
from functions.scoring import handler as scoring
from modules.common import Durability
from modules.feature_store import (
    FeatureGroupSpec,
    FeatureStore,
    FeatureStoreArgs,
    model_input_schema,
)
from modules.feature_store import ingestion as module
from modules.feature_store.ingestion import StreamingIngestion, StreamingIngestionArgs
from modules.feature_store.settings import (
    MAX_WINDOW_BUCKETS,
    FeatureGroupSettings,
    StreamingSettings,
)

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
    record_program,
    platform,
    groups=(CARDS, TRANSACTIONS),
    durability=DESTROY,
    consumers=None,
    adopt_existing=False,
):
    args = FeatureStoreArgs(
        groups=list(groups),
        consumers=consumers or {"card_aggregates": ["m"]},
        adopt_existing=adopt_existing,
    )
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
        "featureDefinitions": [  # sorted by name, whatever the settings' order
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
    assert cards["tags"] == [  # aws-native tags are a list
        {"key": "Name", "value": "fs-card-aggregates"},
        {"key": "owner", "value": "team"},
        {"key": "cost-center", "value": "1"},
        {"key": "mlkit:component", "value": "feature_store"},
        {"key": "mlkit:feature-owner", "value": "fraud-ml"},
    ]


def test_offline_only_group_has_no_online_store(record_program, platform) -> None:
    transactions = store(record_program, platform).named("fs-transactions").inputs
    assert "onlineStoreConfig" not in transactions
    assert transactions["offlineStoreConfig"]["tableFormat"] == "Iceberg"


def test_offline_role_is_scoped_to_its_bucket_key_and_catalog(record_program, platform) -> None:
    policy = json.loads(
        store(record_program, platform).named("fs-offline-role-policy").inputs["policy"]
    )
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    actions = {s["Sid"]: s["Action"] for s in policy["Statement"]}
    # As AWS's AmazonSageMakerFeatureStoreAccess: objects are written with an ACL.
    assert actions["OfflineStore"] == ["s3:GetBucketAcl", "s3:ListBucket"]
    assert actions["OfflineStoreData"] == ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"]
    assert resources == {
        "OfflineStore": ["arn:aws:s3:::fs-offline-bucket"],
        "OfflineStoreData": ["arn:aws:s3:::fs-offline-bucket/*"],
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
        "WRITE_CONCURRENCY": "8",
    }
    assert (function["handler"], function["runtime"]) == ("handler.handler", "python3.12")
    assert function["code"] == {"fileArchive": "functions/aggregator"}
    assert (function["memorySize"], function["timeout"]) == (256, 60)
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
        "parallelizationFactor": 1,
        "startingPosition": "LATEST",
    }


def test_parallelization_memory_and_write_concurrency_reach_the_aggregator(
    record_program, platform
) -> None:
    recording = ingestion(
        record_program, platform, parallelization_factor=2, memory_mb=1024, write_concurrency=4
    )
    function = recording.named("in-aggregator").inputs
    assert function["memorySize"] == 1024
    assert function["environment"]["variables"]["WRITE_CONCURRENCY"] == "4"
    assert recording.named("in-aggregator-trigger").inputs["parallelizationFactor"] == 2


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


def test_aggregator_role_allows_exactly_the_handler_calls(record_program, platform) -> None:
    policy = json.loads(
        ingestion(record_program, platform).named("in-aggregator-role-policy").inputs["policy"]
    )
    actions = {s["Sid"]: s["Action"] for s in policy["Statement"]}
    assert actions == {
        "ReadStream": [
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
        ],
        "StackKey": ["kms:Decrypt", "kms:GenerateDataKey"],
        # BatchGetItem reads the state; TransactWriteItems' Put/Update actions are authorised
        # as PutItem/UpdateItem (DynamoDB "Using IAM with transactions"); Query reads the
        # previous layout. GetItem is not called.
        "WindowState": [
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        # BatchWriteRecord needs sagemaker:BatchWriteRecord and sagemaker:PutRecord (Feature
        # Store "Security and access control"); PutRecord alone on an older boto3.
        "WriteFeatures": ["sagemaker:BatchWriteRecord", "sagemaker:PutRecord"],
        # SendMessageBatch is authorised by sqs:SendMessage (SQS "batch actions").
        "DeadLetters": ["sqs:SendMessage"],
        "Logs": ["logs:CreateLogStream", "logs:PutLogEvents"],
    }
    assert {s["Effect"] for s in policy["Statement"]} == {"Allow"}


def test_the_role_covers_every_call_the_handler_makes() -> None:
    """Each AWS operation the handler's code calls maps to an action the role allows."""
    code = Path("functions/aggregator/handler.py").read_text()
    calls = {
        "batch_get_item": "dynamodb:BatchGetItem",
        "transact_write_items": "dynamodb:PutItem",  # and UpdateItem: Put and Update actions
        "query": "dynamodb:Query",
        "batch_write_record": "sagemaker:BatchWriteRecord",
        "put_record": "sagemaker:PutRecord",
        "send_message_batch": "sqs:SendMessage",
    }
    made = set(re.findall(r"\.(\w+)\(", code)) & {
        *calls,
        "get_item",
        "put_item",
        "update_item",
        "delete_item",
        "send_message",
        "batch_write_item",
    }
    assert made == set(calls)
    # TransactWriteItems actions: Put and Update only (no Delete or ConditionCheck).
    assert set(re.findall(r'"(Put|Update|Delete|ConditionCheck)": ', code)) == {"Put", "Update"}
    allowed = {*module.STATE_ACTIONS, *module.FEATURE_WRITE_ACTIONS, "sqs:SendMessage"}
    assert {calls[name] for name in made} <= allowed


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"on_demand": True, "shard_count": 4}, "shard_count applies to provisioned streams only"),
        ({"windows": {}}, "windows must be non-empty with positive whole-minute durations"),
        ({"windows": {"10m": 0}}, "windows must be non-empty with positive whole-minute durations"),
        (
            {"windows": {"5m": 330}},
            "windows must be non-empty with positive whole-minute durations",
        ),
        ({"windows": {"8d": 8 * 86400}}, "windows must be at most 10080 minutes long"),
        ({"parallelization_factor": 0}, "parallelization_factor must be 1 to 10"),
        ({"parallelization_factor": 11}, "parallelization_factor must be 1 to 10"),
        ({"memory_mb": 127}, "memory_mb must be 128 to 10240"),
        ({"memory_mb": 10241}, "memory_mb must be 128 to 10240"),
        ({"write_concurrency": 0}, "write_concurrency must be 1 to 32"),
        ({"write_concurrency": 33}, "write_concurrency must be 1 to 32"),
    ],
)
def test_ingestion_rejects_conflicting_args(record_program, platform, overrides, message) -> None:
    with pytest.raises(ValueError) as raised:
        ingestion(record_program, platform, **overrides)
    assert str(raised.value) == message


def test_a_seven_day_window_is_the_longest_the_aggregator_takes(record_program, platform) -> None:
    recording = ingestion(record_program, platform, windows={"7d": 7 * 86400})
    assert recording.named("in-aggregator").inputs["environment"]["variables"]["WINDOWS"] == (
        "7d=604800"
    )


def test_settings_refuse_what_the_aggregator_refuses() -> None:
    assert MAX_WINDOW_BUCKETS == module.MAX_WINDOW_BUCKETS == handler.MAX_WINDOW_BUCKETS
    assert module.BUCKET_SECONDS == handler.DEFAULT_BUCKET_SECONDS
    assert StreamingSettings(windows={"7d": 604800}).windows == {"7d": 604800}
    handler.parse_windows("7d=604800", 60)  # accepted by both
    with pytest.raises(ValueError, match="at most 10080 buckets"):
        handler.parse_windows("8d=691200", 60)
    with pytest.raises(ValidationError) as raised:
        StreamingSettings(windows={"8d": 691200})
    assert raised.value.errors()[0]["msg"] == (
        "Value error, windows: '8d' is longer than 10080 one-minute buckets (7 days): a card's"
        " window state must fit one DynamoDB item"
    )


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("parallelizationFactor", 0, "greater than or equal to 1"),
        ("parallelizationFactor", 11, "less than or equal to 10"),
        ("aggregatorMemoryMb", 127, "greater than or equal to 128"),
        ("aggregatorMemoryMb", 10241, "less than or equal to 10240"),
    ],
)
def test_streaming_settings_bound_parallelization_and_memory(field, value, bound) -> None:
    with pytest.raises(ValidationError) as raised:
        StreamingSettings.model_validate({field: value})
    (error,) = raised.value.errors()
    assert (error["loc"], error["msg"]) == ((field,), f"Input should be {bound}")


def test_streaming_defaults_and_the_prod_profile() -> None:
    defaults = StreamingSettings()
    assert (defaults.parallelization_factor, defaults.aggregator_memory_mb) == (1, 256)
    profiles = {
        env: yaml.safe_load(Path(f"mlkit/profiles/{env}.yaml").read_text())["streaming"]
        for env in ("dev", "staging", "prod")
    }
    assert {
        env: (p["parallelizationFactor"], p["aggregatorMemoryMb"]) for env, p in profiles.items()
    } == {
        "dev": (1, 256),
        "staging": (1, 256),
        "prod": (2, 1024),
    }


# --- missing online values: the model input schema ---------------------------------------

PROFILE = FeatureGroupSpec(
    name="customer_profile",
    record_identifier="customer_id",
    event_time="event_time",
    features={
        "customer_id": "string",
        "event_time": "string",
        "account_age_days": "integral",
        "avg_monthly_spend": "fractional",
    },
    owner="customer-data",
    required=("account_age_days",),
)
CARDS_WITH_ID = dataclasses.replace(
    CARDS, features={"card_id": "string", "event_time": "string", "txn_count_10m": "integral"}
)
TRANSACTIONS_WITH_KEYS = dataclasses.replace(
    TRANSACTIONS,
    features={
        "transaction_id": "string",
        "card_id": "string",
        "customer_id": "string",
        "amount": "fractional",
        "event_time": "string",
    },
)


def test_model_input_schema_marks_required_features_and_defaults_win() -> None:
    cards = dataclasses.replace(CARDS_WITH_ID, required=("txn_count_10m",))
    schema = model_input_schema(
        [TRANSACTIONS_WITH_KEYS, cards, PROFILE],
        [
            "transactions.amount",
            "card_aggregates.txn_count_10m",
            "customer_profile.account_age_days",
            "customer_profile.avg_monthly_spend",
        ],
        {"card_aggregates": "fs-card-aggregates", "customer_profile": "fs-customer-profile"},
        {"card_aggregates": {"txn_count_10m": 0}},
    )
    assert schema == {
        "request": [
            {"name": "amount", "type": "fractional"},
            {"name": "card_id", "type": "string"},
            {"name": "customer_id", "type": "string"},
        ],
        "lookups": [
            {
                "featureGroup": "fs-card-aggregates",
                "key": "card_id",
                "features": [{"name": "txn_count_10m", "type": "integral"}],
                "defaults": {"txn_count_10m": 0},
                "required": [],  # a feature with a default is never missing
            },
            {
                "featureGroup": "fs-customer-profile",
                "key": "customer_id",
                "features": [
                    {"name": "account_age_days", "type": "integral"},
                    {"name": "avg_monthly_spend", "type": "fractional"},
                ],
                "defaults": {},
                "required": ["account_age_days"],  # avg_monthly_spend may be missing
            },
        ],
        "order": ["amount", "txn_count_10m", "account_age_days", "avg_monthly_spend"],
    }
    handler_schema = scoring.parse_schema(schema)
    assert [lookup.required for lookup in handler_schema.lookups] == [
        frozenset(),
        frozenset({"account_age_days"}),
    ]


def test_model_input_schema_refuses_required_features_a_group_lacks() -> None:
    profile = dataclasses.replace(PROFILE, required=("age",))
    with pytest.raises(ValueError) as raised:
        model_input_schema(
            [TRANSACTIONS_WITH_KEYS, profile],
            ["customer_profile.account_age_days"],
            {"customer_profile": "fs-customer-profile"},
        )
    assert str(raised.value) == "customer_profile: required names unknown features ['age']"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"required": ["age"]}, "required: 'age' is not in features"),
        ({"required": ["amount", "amount"]}, "required: a feature is listed twice"),
        (
            {"required": ["amount"], "online": False},
            "required applies to online groups (an offline-only group's features arrive in"
            " the request)",
        ),
    ],
)
def test_feature_group_settings_refuse_inconsistent_required_features(changes, message) -> None:
    group = {
        "name": "profile",
        "owner": "team",
        "recordIdentifier": "id",
        "eventTime": "event_time",
        "features": {"id": "string", "event_time": "string", "amount": "fractional"},
    }
    with pytest.raises(ValidationError) as raised:
        FeatureGroupSettings.model_validate(group | changes)
    assert raised.value.errors()[0]["msg"] == f"Value error, {message}"
    ok = FeatureGroupSettings.model_validate(group | {"required": ["amount"]})
    assert ok.required == ("amount",)
    assert FeatureGroupSettings.model_validate(group).required == ()


def test_existing_groups_are_adopted_by_name_only_when_asked(record_program, platform) -> None:
    """mlkit 0.1 made feature groups with pulumi-aws; `adopt_existing` imports each by its
    deployed name (Pulumi's import option) instead of creating it."""

    def groups(adopt: bool) -> dict[str, str | None]:
        recording = store(record_program, platform, adopt_existing=adopt)
        return {
            r.inputs["featureGroupName"]: r.import_id
            for r in recording.of_type("aws-native:sagemaker:FeatureGroup")
        }

    adopted = groups(True)
    assert adopted == {
        "fs-card-aggregates": "fs-card-aggregates",
        "fs-transactions": "fs-transactions",
    }
    assert set(groups(False).values()) == {None}
