"""The streaming aggregator Lambda against moto's DynamoDB and SQS on 127.0.0.1. moto does not
implement sagemaker-featurestore-runtime, so every put_record is expected, with its exact
parameters, through a botocore Stubber on the handler's own client. WRITE_CONCURRENCY is 1 here
so the puts come in a fixed order: the raw records in record order, then one put per card
(order of first appearance) with its aggregates as of the end of the batch.

These tests pin the PutRecord path (a runtime whose boto3 predates BatchWriteRecord): the
records and their order are the same on both paths, and test_aggregator_batch_writes.py tests
what BatchWriteRecord adds (25 records a call, partial failures, unprocessed entries)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.aggregator import handler as aggregator

TABLE = "fraud-state"
CARD_GROUP = "fraud-card-aggregates"
TRANSACTIONS_GROUP = "fraud-transactions"
WINDOWS = "10m=600,1h=3600,24h=86400"
T = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp())
NOW = T + 3600
"""The frozen clock: an hour after the newest test event."""
HANDLER_CLIENTS: dict[str, Any] = {}
"""The handler's clients, shared by this module's tests (all reach the same moto server)."""


@cache
def client(service: str) -> Any:
    return boto3.client(service)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def transaction(txn_id: str, offset: int, amount: float, card: str = "card-1") -> dict[str, Any]:
    """A valid transaction `offset` seconds from T."""
    return {
        "transaction_id": txn_id,
        "card_id": card,
        "customer_id": "customer-7",
        "merchant_id": "merchant-3",
        "merchant_category": "5411",
        "amount": amount,
        "currency": "EUR",
        "channel": "online",
        "event_time": iso(T + offset),
    }


def encode(payload: dict[str, Any] | bytes) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.b64encode(raw).decode()


def kinesis_event(*payloads: dict[str, Any] | bytes) -> dict[str, Any]:
    """Records numbered 1, 2, ... (their sequence numbers)."""
    return {"Records": [kinesis_record(str(n), p) for n, p in enumerate(payloads, start=1)]}


def kinesis_record(sequence_number: str, payload: dict[str, Any] | bytes | str) -> dict[str, Any]:
    data = payload if isinstance(payload, str) else encode(payload)
    return {
        "kinesis": {"data": data, "sequenceNumber": sequence_number, "partitionKey": "card-1"},
        "eventID": f"shardId-000000000000:{sequence_number}",
    }


def raw_params(payload: dict[str, Any]) -> dict[str, Any]:
    """The TRANSACTIONS_FEATURE_GROUP put: every field as a string, the amount as sent."""
    return {
        "FeatureGroupName": TRANSACTIONS_GROUP,
        "Record": [
            {"FeatureName": name, "ValueAsString": json.dumps(value) if name == "amount" else value}
            for name, value in payload.items()
        ],
    }


def card_params(
    newest: int,
    ten_min: tuple[int, str],
    hour: tuple[int, str],
    day: tuple[int, str],
    card: str = "card-1",
) -> dict[str, Any]:
    """The CARD_FEATURE_GROUP put for `card` as of `newest` (offset from T)."""
    values = {"card_id": card, "event_time": iso(T + newest)}
    for label, (count, amount) in (("10m", ten_min), ("1h", hour), ("24h", day)):
        values[f"txn_count_{label}"] = str(count)
        values[f"txn_amount_{label}"] = amount
    return {
        "FeatureGroupName": CARD_GROUP,
        "Record": [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()],
    }


@pytest.fixture
def queue_url(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """State table and dead-letter queue in moto, the contract's environment and a frozen
    clock."""
    client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "card_id", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "card_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    url = client("sqs").create_queue(QueueName="fraud-dead-letters")["QueueUrl"]
    for name, value in {
        "STATE_TABLE": TABLE,
        "CARD_FEATURE_GROUP": CARD_GROUP,
        "TRANSACTIONS_FEATURE_GROUP": TRANSACTIONS_GROUP,
        "DEAD_LETTER_QUEUE_URL": url,
        "WINDOWS": WINDOWS,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BUCKET_SECONDS", raising=False)
    monkeypatch.setenv("WRITE_CONCURRENCY", "1")
    monkeypatch.setattr(aggregator, "_CLIENTS", HANDLER_CLIENTS)
    monkeypatch.setattr(aggregator, "current_time", lambda: NOW)
    monkeypatch.setattr(aggregator, "batch_writes_supported", lambda client: False)
    return url


@pytest.fixture
def feature_store(queue_url: str) -> Iterator[Stubber]:
    """The handler's feature store client, stubbed; every expected put must be made."""
    with Stubber(aggregator.aws_client("sagemaker-featurestore-runtime")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_raw(stubber: Stubber, payload: dict[str, Any]) -> None:
    stubber.add_response("put_record", {}, raw_params(payload))


def expect_card(stubber: Stubber, *args: Any, **kwargs: Any) -> None:
    stubber.add_response("put_record", {}, card_params(*args, **kwargs))


def invoke(event: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[Any, dict]:
    """Run the handler; returns its response and the metric values of its one EMF line."""
    capsys.readouterr()
    response = aggregator.handler(event, None)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    return response, {name: line[name] for name in aggregator.METRIC_NAMES}


def metrics(**nonzero: int) -> dict[str, int]:
    return {name: nonzero.get(name, 0) for name in aggregator.METRIC_NAMES}


def state(card: str = "card-1") -> dict[str, dict[str, str]]:
    """The card's items in the state table: sort key -> attributes as plain strings."""
    items = client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="card_id = :c",
        ExpressionAttributeValues={":c": {"S": card}},
    )["Items"]
    return {
        item["sk"]["S"]: {
            name: str(next(iter(value.values())))
            for name, value in item.items()
            if name not in {"card_id", "sk"}
        }
        for item in items
    }


def card_state(card: str = "card-1") -> dict[str, Any]:
    """The card's `state` item, plain values."""
    item = client("dynamodb").get_item(
        TableName=TABLE, Key={"card_id": {"S": card}, "sk": {"S": "state"}}
    )["Item"]
    return {
        "event_time_epoch": item["event_time_epoch"]["N"],
        "buckets": {
            int(start) - T: (value["L"][0]["N"], value["L"][1]["N"])
            for start, value in item["buckets"]["M"].items()
        },
        "version": item["version"]["N"],
        "pending": set(item.get("pending", {}).get("SS", [])),
        "expires_at": item["expires_at"]["N"],
    }


def buckets(card: str = "card-1") -> dict[int, tuple[str, str]]:
    """Bucket offset from T -> (count, amount), the buckets kept in the card's state."""
    return card_state(card)["buckets"]


def pending_kinds(card: str = "card-1") -> list[str]:
    """Kinds of the card's unconfirmed feature-store writes (raw, late, card)."""
    return sorted(token.split(":")[0] for token in card_state(card)["pending"])


# --- windows --------------------------------------------------------------------------------


def test_windows_aggregate_exact_counts_and_sums_with_the_boundary_rule(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # In time order, one record per invocation, so each card put is as of its own event time.
    # The boundary rule (bucket start in (T - w, T]) shows at T: the buckets starting at
    # T - 24h, T - 1h and T - 10m (which holds the event at T - 599 s) are outside their
    # windows.
    # id, offset from T, amount, then (count, sum) in 10m, 1h and 24h as of that event
    timeline = [
        ("a", -86400, 1000, (1, "1000.00"), (1, "1000.00"), (1, "1000.00")),
        ("b", -86340, 200, (2, "1200.00"), (2, "1200.00"), (2, "1200.00")),
        ("c", -3600, 30, (1, "30.00"), (1, "30.00"), (3, "1230.00")),
        ("d", -3540, 4.5, (2, "34.50"), (2, "34.50"), (4, "1234.50")),
        ("e", -599, 0.25, (1, "0.25"), (3, "34.75"), (5, "1234.75")),
        ("f", -30, 7, (2, "7.25"), (4, "41.75"), (6, "1241.75")),
        ("g", 0, 10.005, (2, "17.01"), (4, "21.76"), (6, "251.76")),  # 17.005 rounds up
    ]
    payloads = [transaction(txn_id, offset, amount) for txn_id, offset, amount, *_ in timeline]
    for payload, (_, offset, _, ten_min, hour, day) in zip(payloads, timeline, strict=True):
        expect_raw(feature_store, payload)
        expect_card(feature_store, offset, ten_min, hour, day)

        response, counts = invoke(kinesis_event(payload), capsys)

        assert response == {"batchItemFailures": []}
        assert counts == metrics(Processed=1)
    # The bucket at T - 24h left the longest window when the event at T arrived: dropped.
    assert buckets() == {
        -86340: ("1", "200"),
        -3600: ("1", "30"),
        -3540: ("1", "4.5"),
        -600: ("1", "0.25"),
        -60: ("1", "7"),
        0: ("1", "10.005"),
    }
    assert card_state() == {
        "event_time_epoch": str(T),
        "buckets": buckets(),
        "version": "14",  # a commit and a confirmation per invocation
        "pending": set(),
        "expires_at": str(NOW + 86400 + 3600),
    }
    assert state()["txn#g"] == {"status": "done", "expires_at": str(NOW + 86400 + 3600)}


def test_one_batch_puts_each_card_once_with_its_newest_aggregates(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # The timeline above in one batch, with a second card: one raw put per record, then one
    # card put per card with the aggregates as of the end of the batch.
    timeline = [(-86400, 1000), (-86340, 200), (-3600, 30), (-3540, 4.5), (-599, 0.25)]
    timeline += [(-30, 7), (0, 10.005)]
    payloads = [transaction(f"t{n}", offset, amount) for n, (offset, amount) in enumerate(timeline)]
    other = transaction("o1", -10, 3, card="card-2")
    payloads.insert(3, other)
    for payload in payloads:
        expect_raw(feature_store, payload)
    expect_card(feature_store, 0, (2, "17.01"), (4, "21.76"), (6, "251.76"))
    expect_card(feature_store, -10, (1, "3.00"), (1, "3.00"), (1, "3.00"), card="card-2")

    response, counts = invoke(kinesis_event(*payloads), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=8)
    assert buckets("card-2") == {-60: ("1", "3")}
    assert len(buckets()) == 6


def test_window_boundary_rule_on_buckets() -> None:
    ten_minutes = [aggregator.Window("10m", 600)]
    newest = T + 30  # mid-bucket: the window starts after T - 570
    on_buckets = [
        (T - 600, 1, Decimal("1")),
        (T - 570, 1, Decimal("2")),  # start == newest - 600: excluded
        (T - 540, 1, Decimal("4")),  # first bucket inside
        (T, 1, Decimal("8")),  # holds the newest event: included
        (T + 60, 1, Decimal("16")),  # after the newest event: excluded
    ]
    assert aggregator.window_aggregates(on_buckets, newest, ten_minutes) == {
        "10m": (2, Decimal("12"))
    }


@pytest.mark.parametrize(
    ("offset", "late"),
    [(-90000, True), (-86400, True), (-86341, True), (-86340, False), (-86339, False)],
)
def test_an_event_is_late_when_its_bucket_left_the_longest_window(offset: int, late: bool) -> None:
    settings = aggregator.Settings(
        "t", "c", "r", "q", aggregator.parse_windows(WINDOWS, 60), bucket_seconds=60
    )
    assert aggregator.is_late(T + offset, T, settings) is late


def test_an_out_of_order_event_inside_the_window_is_aggregated(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = transaction("new", 0, 10)
    older = transaction("older", -1800, 5)
    expect_raw(feature_store, newest)
    expect_raw(feature_store, older)
    expect_card(feature_store, 0, (1, "10.00"), (2, "15.00"), (2, "15.00"))

    response, counts = invoke(kinesis_event(newest, older), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=2)
    assert buckets() == {0: ("1", "10"), -1800: ("1", "5")}
    assert card_state()["event_time_epoch"] == str(T)  # never moved back


def test_a_late_event_is_counted_and_kept_as_training_data_but_not_aggregated(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    newest = transaction("new", 0, 10)
    late = transaction("late", -86400, 99)  # its bucket starts at T - 24h: outside
    inside = transaction("inside", -86340, 1)
    expect_raw(feature_store, newest)
    feature_store.add_response(
        "put_record",
        {},
        {
            "FeatureGroupName": TRANSACTIONS_GROUP,
            "Record": [
                {"FeatureName": "transaction_id", "ValueAsString": "late"},
                {"FeatureName": "card_id", "ValueAsString": "card-1"},
                {"FeatureName": "customer_id", "ValueAsString": "customer-7"},
                {"FeatureName": "merchant_id", "ValueAsString": "merchant-3"},
                {"FeatureName": "merchant_category", "ValueAsString": "5411"},
                {"FeatureName": "amount", "ValueAsString": "99"},
                {"FeatureName": "currency", "ValueAsString": "EUR"},
                {"FeatureName": "channel", "ValueAsString": "online"},
                {"FeatureName": "event_time", "ValueAsString": "2026-11-24T10:00:00Z"},
            ],
        },
    )
    expect_raw(feature_store, inside)
    expect_card(feature_store, 0, (1, "10.00"), (1, "10.00"), (2, "11.00"))

    response, counts = invoke(kinesis_event(newest, late, inside), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=2, LateEvents=1)
    assert buckets() == {0: ("1", "10"), -86340: ("1", "1")}
    assert "txn#late" in state()  # a replay is recognised: no second raw row
    assert pending_kinds() == []
    assert "late event not aggregated" in caplog.text
    assert '"transaction_id": "late"' in caplog.text


def test_a_duplicate_is_counted_once(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 12.5)
    expect_raw(feature_store, payment)
    expect_card(feature_store, 0, (1, "12.50"), (1, "12.50"), (1, "12.50"))

    first, first_counts = invoke(kinesis_event(payment, payment), capsys)
    again, again_counts = invoke(kinesis_event(payment), capsys)
    # A replay with another record of the card: the duplicate leaves the first commit
    # cancelled, the card is re-planned without it.
    later = transaction("t2", 60, 1)
    expect_raw(feature_store, later)
    expect_card(feature_store, 60, (2, "13.50"), (2, "13.50"), (2, "13.50"))
    third, third_counts = invoke(kinesis_event(payment, later), capsys)

    assert first == again == third == {"batchItemFailures": []}
    assert first_counts == metrics(Processed=1, Duplicates=1)
    assert again_counts == metrics(Duplicates=1)
    assert third_counts == metrics(Processed=1, Duplicates=1)
    assert buckets() == {0: ("1", "12.5"), 60: ("1", "1")}


# --- malformed records ------------------------------------------------------------------------

VALID = transaction("ok", 0, 10)
MALFORMED: list[tuple[dict[str, Any] | bytes | str, str, str | None]] = [
    ("%%not base64%%", "data is not base64-encoded UTF-8", None),
    (b"{not json", "data is not valid JSON", None),
    (b'["a", "list"]', "data is not a JSON object", None),
    ({k: v for k, v in VALID.items() if k != "merchant_id"}, "missing field", "merchant_id"),
    (VALID | {"card_id": 123}, "must be a string", "card_id"),
    (VALID | {"channel": " "}, "must not be empty", "channel"),
    (VALID | {"amount": "10.00"}, "must be a number", "amount"),
    (VALID | {"amount": True}, "must be a number", "amount"),
    (VALID | {"amount": -5}, "must not be negative", "amount"),
    (
        json.dumps(VALID | {"amount": 7}).replace(" 7,", " NaN,").encode(),
        "must be finite",
        "amount",
    ),
    (VALID | {"amount": 0.0000001}, "more than 6 decimal places", "amount"),
    (VALID | {"amount": 10**12}, "must be below 1e+12", "amount"),
    (
        VALID | {"event_time": "2026-11-25 10:00:00"},
        "must be YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DDTHH:MM:SS.sssZ (UTC)",
        "event_time",
    ),
    (VALID | {"event_time": "2026-02-30T10:00:00Z"}, "not a valid date and time", "event_time"),
    (VALID | {"event_time": iso(NOW + 301)}, "more than 300 s ahead of the clock", "event_time"),
]


def test_malformed_records_are_dead_lettered_with_the_field_and_not_retried(
    queue_url: str, feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    event = kinesis_event(*(payload for payload, _, _ in MALFORMED))

    response, counts = invoke(event, capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Malformed=len(MALFORMED))
    sqs = client("sqs")
    received: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        received += [json.loads(message["Body"]) for message in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )
    expected = [
        {"reason": reason, "field": field, "data": record["kinesis"]["data"], "sequenceNumber": n}
        for (_, reason, field), record, n in zip(
            MALFORMED, event["Records"], (str(n) for n in range(1, len(MALFORMED) + 1)), strict=True
        )
    ]
    assert sorted(received, key=lambda m: int(m["sequenceNumber"])) == expected
    assert client("dynamodb").scan(TableName=TABLE)["Count"] == 0


def test_oversized_malformed_data_is_truncated_in_the_dead_letter(
    queue_url: str, feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "A" * (aggregator.MAX_DEAD_LETTER_DATA_CHARS + 4)  # valid base64, not JSON

    response, counts = invoke({"Records": [kinesis_record("9", huge)]}, capsys)

    assert (response, counts) == ({"batchItemFailures": []}, metrics(Malformed=1))
    (message,) = client("sqs").receive_message(QueueUrl=queue_url)["Messages"]
    body = json.loads(message["Body"])
    assert body["reason"] == "data is not valid JSON"
    assert body["data"] == huge[: aggregator.MAX_DEAD_LETTER_DATA_CHARS]
    assert body["data_truncated"] is True


# --- failures and retries --------------------------------------------------------------------


def test_a_card_feature_failure_is_retried_without_double_counting(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    expect_raw(feature_store, payment)
    feature_store.add_client_error(
        "put_record",
        service_error_code="ThrottlingException",
        http_status_code=400,
        expected_params=card_params(0, (1, "20.00"), (1, "20.00"), (1, "20.00")),
    )

    failed, failed_counts = invoke(kinesis_event(payment), capsys)

    assert failed == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert failed_counts == metrics(Failed=1)
    assert buckets() == {0: ("1", "20")}
    assert "txn#t1" in state()
    assert pending_kinds() == ["card"]  # the raw row is confirmed, the aggregates are not

    # The retry writes only what is missing: no second raw row, no second bucket count. The
    # transaction was already counted, so the record is a duplicate now.
    expect_card(feature_store, 0, (1, "20.00"), (1, "20.00"), (1, "20.00"))
    retried, retried_counts = invoke(kinesis_event(payment), capsys)

    assert retried == {"batchItemFailures": []}
    assert retried_counts == metrics(Duplicates=1)
    assert buckets() == {0: ("1", "20")}
    assert pending_kinds() == []

    _, replay_counts = invoke(kinesis_event(payment), capsys)
    assert replay_counts == metrics(Duplicates=1)


def test_a_raw_transaction_failure_is_retried_without_double_counting(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    feature_store.add_client_error(
        "put_record",
        service_error_code="ValidationError",
        http_status_code=400,
        expected_params=raw_params(payment),
    )
    expect_card(feature_store, 0, (1, "20.00"), (1, "20.00"), (1, "20.00"))

    failed, failed_counts = invoke(kinesis_event(payment), capsys)

    assert failed == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert failed_counts == metrics(Failed=1)
    assert state()["txn#t1"] == {"status": "done", "expires_at": str(NOW + 86400 + 3600)}
    assert pending_kinds() == ["raw"]  # the aggregates went out, the raw row did not

    # The retry resumes the raw put only: the aggregates were written and are unchanged.
    expect_raw(feature_store, payment)
    retried, retried_counts = invoke(kinesis_event(payment), capsys)

    assert retried == {"batchItemFailures": []}
    assert retried_counts == metrics(Processed=1)
    assert buckets() == {0: ("1", "20")}
    assert pending_kinds() == []


def test_a_retried_late_event_stays_late(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = transaction("new", 0, 10)
    late = transaction("late", -90000, 3)
    expect_raw(feature_store, newest)
    feature_store.add_client_error(
        "put_record", "ThrottlingException", http_status_code=400, expected_params=raw_params(late)
    )
    expect_card(feature_store, 0, (1, "10.00"), (1, "10.00"), (1, "10.00"))
    failed, failed_counts = invoke(kinesis_event(newest, late), capsys)
    assert failed == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert failed_counts == metrics(Processed=1, Failed=1)

    # Only the raw put is retried; a late event never touches the card's aggregates.
    expect_raw(feature_store, late)
    retried, retried_counts = invoke({"Records": [kinesis_record("2", late)]}, capsys)

    assert retried == {"batchItemFailures": []}
    assert retried_counts == metrics(LateEvents=1)
    assert buckets() == {0: ("1", "10")}
    assert pending_kinds() == []


def test_the_metrics_line_accounts_for_every_record(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # The failing record comes last: Lambda retries from the lowest failed sequence number,
    # so any record after it would be reported (and counted) as failed too.
    first = transaction("first", 0, 1)
    failing = transaction("failing", -60, 2)
    late = transaction("late", -90000, 3)
    expect_raw(feature_store, first)
    expect_raw(feature_store, late)
    feature_store.add_client_error(
        "put_record",
        "ServiceUnavailable",
        http_status_code=503,
        expected_params=raw_params(failing),
    )
    expect_card(feature_store, 0, (2, "3.00"), (2, "3.00"), (2, "3.00"))

    capsys.readouterr()
    response = aggregator.handler(
        kinesis_event(first, first, late, b"{", failing), SimpleNamespace()
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "5"}]}
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "_aws": {
            "Timestamp": NOW * 1000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "mlkit/Aggregator",
                    "Dimensions": [["FeatureGroup"]],
                    "Metrics": [
                        {"Name": "Processed", "Unit": "Count"},
                        {"Name": "Duplicates", "Unit": "Count"},
                        {"Name": "LateEvents", "Unit": "Count"},
                        {"Name": "Malformed", "Unit": "Count"},
                        {"Name": "Failed", "Unit": "Count"},
                    ],
                }
            ],
        },
        "FeatureGroup": CARD_GROUP,
        "Processed": 1,
        "Duplicates": 1,
        "LateEvents": 1,
        "Malformed": 1,
        "Failed": 1,
    }


def test_state_table_errors_are_retried_and_malformed_records_still_dead_lettered(
    queue_url: str,
    feature_store: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATE_TABLE", "missing-table")

    response, counts = invoke(kinesis_event(b"[]", transaction("t1", 0, 1)), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert counts == metrics(Malformed=1, Failed=1)
    assert len(client("sqs").receive_message(QueueUrl=queue_url)["Messages"]) == 1


def test_records_after_a_failed_one_are_handed_back_not_dead_lettered_twice(
    queue_url: str,
    feature_store: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Lambda retries from record 1, so the malformed record 2 is dead-lettered on that retry,
    # not now as well.
    monkeypatch.setenv("STATE_TABLE", "missing-table")

    response, counts = invoke(kinesis_event(transaction("t1", 0, 1), b"[]"), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
    assert counts == metrics(Failed=2)
    assert "Messages" not in client("sqs").receive_message(QueueUrl=queue_url)


def test_a_dead_letter_failure_is_retried_rather_than_dropped(
    queue_url: str,
    feature_store: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue_url.replace("fraud-dead-letters", "gone"))
    response, counts = invoke(kinesis_event(b"[]"), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert counts == metrics(Failed=1)


def test_records_are_handed_back_when_the_invocation_runs_out_of_time(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 4_999)

    capsys.readouterr()
    response = aggregator.handler(kinesis_event(transaction("t1", 0, 1), b"[]"), context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
    assert json.loads(capsys.readouterr().out)["Failed"] == 2
    assert client("dynamodb").scan(TableName=TABLE)["Count"] == 0


# --- configuration ------------------------------------------------------------------------------


def test_settings_from_the_environment(queue_url: str) -> None:
    settings = aggregator.load_settings()
    assert settings.windows == (
        aggregator.Window("10m", 600),
        aggregator.Window("1h", 3600),
        aggregator.Window("24h", 86400),
    )
    assert (settings.bucket_seconds, settings.longest_window_seconds) == (60, 86400)
    assert settings.dead_letter_queue_url == queue_url


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("10m", "is not label=seconds"),
        ("ten-min=600", "is not label=seconds"),
        ("10m=ten", "seconds must be an integer"),
        ("10m=590", "positive multiple of BUCKET_SECONDS (60)"),
        ("10m=0", "positive multiple"),
        ("10m=600,10m=1200", "repeats a label"),
    ],
)
def test_bad_windows_fail_the_invocation(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        aggregator.parse_windows(spec, 60)


def test_write_concurrency_and_window_size_are_checked(queue_url: str) -> None:
    assert aggregator.load_settings().write_concurrency == 1  # the fixture's
    assert (
        aggregator.load_settings({**_env(queue_url), "WRITE_CONCURRENCY": ""}).write_concurrency
        == 8
    )
    for bad in ("0", "33"):
        with pytest.raises(ValueError, match="WRITE_CONCURRENCY must be 1 to 32"):
            aggregator.load_settings({**_env(queue_url), "WRITE_CONCURRENCY": bad})
    assert aggregator.parse_windows("7d=604800", 60) == (aggregator.Window("7d", 604800),)
    with pytest.raises(ValueError, match="at most 10080 buckets"):
        aggregator.parse_windows("8d=691200", 60)


def _env(queue_url: str) -> dict[str, str]:
    return {
        "STATE_TABLE": TABLE,
        "CARD_FEATURE_GROUP": CARD_GROUP,
        "TRANSACTIONS_FEATURE_GROUP": TRANSACTIONS_GROUP,
        "DEAD_LETTER_QUEUE_URL": queue_url,
        "WINDOWS": WINDOWS,
    }


# --- state written by the previous per-record layout, concurrent writers -----------------------


def test_a_card_in_the_previous_layout_continues_from_its_buckets(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the per-record handler left: `latest`, `bucket#` items (one outside the window) and
    # markers, one of them `aggregated` with its raw row written: an interrupted attempt whose
    # card put is missing.
    dynamodb = client("dynamodb")

    def put(sk: str, **attributes: dict[str, Any]) -> None:
        dynamodb.put_item(
            TableName=TABLE, Item={"card_id": {"S": "card-1"}, "sk": {"S": sk}} | attributes
        )

    put("latest", event_time_epoch={"N": str(T - 60)}, expires_at={"N": str(T + 90000)})
    for offset, count, amount in ((-86400, "3", "300"), (-3000, "2", "20"), (-60, "1", "5")):
        put(f"bucket#{T + offset:012d}", count={"N": count}, amount={"N": amount})
    put("txn#done", status={"S": "done"})
    put("txn#interrupted", status={"S": "aggregated"}, raw_written={"BOOL": True})
    replay = transaction("done", -3000, 10)
    interrupted = transaction("interrupted", -60, 5)
    new = transaction("new", 0, 1)
    expect_raw(feature_store, new)
    # The interrupted transaction is already in its legacy bucket: counted once.
    expect_card(feature_store, 0, (2, "6.00"), (4, "26.00"), (4, "26.00"))

    response, counts = invoke(kinesis_event(replay, interrupted, new), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=2, Duplicates=1)
    assert buckets() == {-3000: ("2", "20"), -60: ("1", "5"), 0: ("1", "1")}
    assert state()["txn#interrupted"] == {"status": "done"}  # resumed: an ordinary marker now
    assert pending_kinds() == []


def test_a_concurrent_writer_of_the_card_is_counted_exactly_once(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another invocation commits a transaction of the same card between this one's read and
    # its commit (possible only if the partition key is not the card): the commit's version
    # condition fails, the state is read again and the card re-planned on top of it.
    expect_raw(feature_store, transaction("first", -120, 1))
    expect_card(feature_store, -120, (1, "1.00"), (1, "1.00"), (1, "1.00"))
    invoke(kinesis_event(transaction("first", -120, 1)), capsys)
    dynamodb = aggregator.aws_client("dynamodb")
    before = card_state()

    def other_writer(**_: Any) -> None:
        dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", other_writer)
        client("dynamodb").put_item(
            TableName=TABLE,
            Item={
                "card_id": {"S": "card-1"},
                "sk": {"S": "state"},
                "event_time_epoch": {"N": str(T - 60)},
                "buckets": {
                    "M": {
                        str(T - 120): {"L": [{"N": "1"}, {"N": "1"}]},
                        str(T - 60): {"L": [{"N": "1"}, {"N": "100"}]},
                    }
                },
                "version": {"N": str(int(before["version"]) + 1)},
                "expires_at": {"N": before["expires_at"]},
            },
        )

    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", other_writer)
    mine = transaction("mine", 0, 10)
    expect_raw(feature_store, mine)
    expect_card(feature_store, 0, (3, "111.00"), (3, "111.00"), (3, "111.00"))

    response, counts = invoke(kinesis_event(mine), capsys)

    assert (response, counts) == ({"batchItemFailures": []}, metrics(Processed=1))
    assert buckets() == {-120: ("1", "1"), -60: ("1", "100"), 0: ("1", "10")}


# --- batch mechanics -------------------------------------------------------------------------


def test_an_empty_batch_still_emits_every_metric(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke({"Records": []}, capsys) == ({"batchItemFailures": []}, metrics())


def test_a_refused_dead_letter_hands_back_that_record_and_every_later_one(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    event = kinesis_event(b"[]", b"{", b"[1]")
    with Stubber(aggregator.aws_client("sqs")) as sqs:
        sqs.add_response(
            "send_message_batch",
            {
                "Successful": [
                    {"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"},
                    {"Id": "2", "MessageId": "m2", "MD5OfMessageBody": "x"},
                ],
                "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError"}],
            },
        )
        response, counts = invoke(event, capsys)
        sqs.assert_no_pending_responses()

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}
    assert counts == metrics(Malformed=1, Failed=2)


def test_concurrent_writes_keep_exceptions_per_job_and_let_a_crash_through() -> None:
    class Ended(BaseException):
        pass

    def fails() -> None:
        raise ValueError("put failed")

    def ends() -> None:
        raise Ended

    results = aggregator.run_all([lambda: None, fails, lambda: None], 4)
    assert [type(result) for result in results] == [type(None), ValueError, type(None)]
    for concurrency in (1, 4):
        with pytest.raises(Ended):
            aggregator.run_all([lambda: None, ends, fails], concurrency)


def test_an_event_without_records_is_an_empty_batch(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke({}, capsys) == ({"batchItemFailures": []}, metrics())


def test_a_late_event_is_logged_with_its_card_and_the_newest_event_time(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    newest, late = transaction("new", 0, 10), transaction("late", -86400, 99)
    expect_raw(feature_store, newest)
    expect_raw(feature_store, late)
    expect_card(feature_store, 0, (1, "10.00"), (1, "10.00"), (1, "10.00"))

    response, counts = invoke(kinesis_event(newest, late), capsys)

    assert (response, counts) == ({"batchItemFailures": []}, metrics(Processed=1, LateEvents=1))
    assert [m for m in caplog.messages if m.startswith("late event")] == [
        "late event not aggregated: "
        + json.dumps(
            {
                "transaction_id": "late",
                "card_id": "card-1",
                "event_time": "2026-11-24T10:00:00Z",
                "newest_event_time": "2026-11-25T10:00:00Z",
            }
        )
    ]


def test_a_failed_state_read_says_which_records_of_which_card_are_retried(
    feature_store: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("STATE_TABLE", "missing-table")
    event = kinesis_event(transaction("t1", 0, 1), transaction("t2", 5, 2))

    response, counts = invoke(event, capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
    assert counts == metrics(Failed=2)
    retried = [m for m in caplog.messages if "reported for retry" in m]
    assert retried == [
        "state read failed; records reported for retry",
        "2 record(s) of card card-1 reported for retry: state read failed",
    ]


def test_a_marker_found_by_a_commit_whose_state_cannot_be_read_again_is_retried(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # A concurrent writer committed the transaction and the card's state; reading the state
    # again fails, so whether the marker is a duplicate or an attempt to resume is unknown.
    payment = transaction("t1", 0, 20)
    keys = [
        {"card_id": {"S": "card-1"}, "sk": {"S": "state"}},
        {"card_id": {"S": "card-1"}, "sk": {"S": "latest"}},
    ]
    marker = {"card_id": {"S": "card-1"}, "sk": {"S": "txn#t1"}, "status": {"S": "done"}}
    with Stubber(aggregator.aws_client("dynamodb")) as dynamodb:
        dynamodb.add_response(
            "batch_get_item",
            {"Responses": {TABLE: []}, "UnprocessedKeys": {}},
            {"RequestItems": {TABLE: {"Keys": keys, "ConsistentRead": True}}},
        )
        dynamodb.add_client_error(
            "transact_write_items",
            "TransactionCanceledException",
            modeled_fields={
                "CancellationReasons": [
                    {"Code": "ConditionalCheckFailed", "Item": marker},
                    {"Code": "ConditionalCheckFailed"},
                ]
            },
        )
        dynamodb.add_client_error("batch_get_item", "ProvisionedThroughputExceededException")

        response, counts = invoke(kinesis_event(payment), capsys)
        dynamodb.assert_no_pending_responses()

    assert (response, counts) == (
        {"batchItemFailures": [{"itemIdentifier": "1"}]},
        metrics(Failed=1),
    )


def test_older_events_in_a_later_batch_are_placed_against_the_cards_stored_newest(
    feature_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    first = transaction("first", 0, 10)
    expect_raw(feature_store, first)
    expect_card(feature_store, 0, (1, "10.00"), (1, "10.00"), (1, "10.00"))
    assert invoke(kinesis_event(first), capsys) == ({"batchItemFailures": []}, metrics(Processed=1))

    older, late = transaction("older", -300, 5), transaction("late", -86400, 99)
    expect_raw(feature_store, older)
    expect_raw(feature_store, late)
    expect_card(feature_store, 0, (2, "15.00"), (2, "15.00"), (2, "15.00"))  # as of T still

    response, counts = invoke(kinesis_event(older, late), capsys)

    assert (response, counts) == ({"batchItemFailures": []}, metrics(Processed=1, LateEvents=1))
    assert buckets() == {0: ("1", "10"), -300: ("1", "5")}
    assert card_state()["event_time_epoch"] == str(T)
