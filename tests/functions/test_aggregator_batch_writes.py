"""The aggregator's feature-store writes through BatchWriteRecord: exact requests (25 records
a call, the raw records in record order and then the cards, both groups in one call), and
what the API's partial success means for the batch: a record in `Errors` fails its entry (a
card's: every record of the card), `UnprocessedEntries` are tried again up to 3 times, an
answer naming a record that was not sent fails the call's records. DynamoDB and SQS are
moto's (the same environment as test_aggregator.py); moto lacks featurestore-runtime, so the
calls are expected with their exact parameters through a botocore Stubber on the handler's own
client (which validates them against the API model: at most 25 entries, the entry shape)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.stub import Stubber

from functions.aggregator import handler as aggregator
from tests.functions.test_aggregator import (
    CARD_GROUP,
    TRANSACTIONS_GROUP,
    buckets,
    card_params,
    invoke,
    kinesis_event,
    metrics,
    pending_kinds,
    queue_url,  # noqa: F401 - the fixture
    raw_params,
    transaction,
)

OK: dict[str, Any] = {"Errors": [], "UnprocessedEntries": []}
SUPPORTED = aggregator.batch_writes_supported


@pytest.fixture
def batch_store(
    queue_url: str,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stubber]:
    """The handler's feature store client, stubbed, on the BatchWriteRecord path (the
    environment of test_aggregator.py, WRITE_CONCURRENCY 1); every expected call is made."""
    monkeypatch.setattr(aggregator, "batch_writes_supported", SUPPORTED)
    sleeps: list[float] = []
    monkeypatch.setattr(aggregator.time, "sleep", sleeps.append)
    with Stubber(aggregator.aws_client("sagemaker-featurestore-runtime")) as stubber:
        stubber.sleeps = sleeps  # type: ignore[attr-defined]
        yield stubber
        stubber.assert_no_pending_responses()


def expect_batch(
    stubber: Stubber, entries: list[dict[str, Any]], response: dict[str, Any] | None = None
) -> None:
    stubber.add_response("batch_write_record", response or OK, {"Entries": entries})


def card_one(newest: int, count: int, amount: str, card: str = "card-1") -> dict[str, Any]:
    """The card's record when all its events are inside every window."""
    return card_params(newest, (count, amount), (count, amount), (count, amount), card=card)


def error(entry: dict[str, Any], code: str = "ValidationError") -> dict[str, Any]:
    return {"Entry": entry, "ErrorCode": code, "ErrorMessage": f"{code} for the test"}


def test_a_batch_writes_its_raw_records_then_its_cards_in_one_call(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = transaction("t1", 0, 20), transaction("t2", 30, 5.5)
    other = transaction("t3", 10, 7, card="card-2")
    expect_batch(
        batch_store,
        [
            raw_params(first),
            raw_params(second),
            raw_params(other),
            card_one(30, 2, "25.50"),
            card_one(10, 1, "7.00", card="card-2"),
        ],
    )

    response, counts = invoke(kinesis_event(first, second, other), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=3)
    assert pending_kinds() == pending_kinds("card-2") == []


def test_writes_go_in_calls_of_25_records(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payments = [transaction(f"t{n}", n, 1, card=f"card-{n:02d}") for n in range(15)]
    entries = [raw_params(p) for p in payments] + [
        card_one(n, 1, "1.00", card=f"card-{n:02d}") for n in range(15)
    ]
    for first in (0, 25):  # 30 records: 25, then 5
        expect_batch(batch_store, entries[first : first + 25])

    response, counts = invoke(kinesis_event(*payments), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=15)


def test_an_entry_error_fails_only_its_record_and_the_retry_resumes_it(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    card = card_one(0, 1, "20.00")
    expect_batch(
        batch_store,
        [raw_params(payment), card],
        {"Errors": [error(raw_params(payment))], "UnprocessedEntries": []},
    )

    failed, failed_counts = invoke(kinesis_event(payment), capsys)

    assert failed == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert failed_counts == metrics(Failed=1)
    assert pending_kinds() == ["raw"]  # the aggregates were written, the raw record was not

    expect_batch(batch_store, [raw_params(payment)])  # only what is missing
    retried, retried_counts = invoke(kinesis_event(payment), capsys)

    assert retried == {"batchItemFailures": []}
    assert retried_counts == metrics(Processed=1)
    assert buckets() == {0: ("1", "20")}
    assert pending_kinds() == []


def test_a_card_entry_error_fails_every_record_of_the_card_and_only_those(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # The other card comes first in the stream, so its record is not reported for retry.
    other = transaction("t0", 0, 3, card="card-2")
    first, second = transaction("t1", 0, 20), transaction("t2", 60, 1)
    card = card_one(60, 2, "21.00")
    expect_batch(
        batch_store,
        [
            raw_params(other),
            raw_params(first),
            raw_params(second),
            card_one(0, 1, "3.00", card="card-2"),
            card,
        ],
        {"Errors": [error(card, "ThrottlingException")], "UnprocessedEntries": []},
    )

    response, counts = invoke(kinesis_event(other, first, second), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}
    assert counts == metrics(Processed=1, Failed=2)
    assert pending_kinds() == ["card"]
    assert pending_kinds("card-2") == []


def test_unprocessed_entries_are_tried_again_with_backoff(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    card = card_one(0, 1, "20.00")
    expect_batch(
        batch_store, [raw_params(payment), card], {"Errors": [], "UnprocessedEntries": [card]}
    )
    expect_batch(batch_store, [card], {"Errors": [], "UnprocessedEntries": [card]})
    expect_batch(batch_store, [card])

    response, counts = invoke(kinesis_event(payment), capsys)

    assert response == {"batchItemFailures": []}
    assert counts == metrics(Processed=1)
    assert batch_store.sleeps == [0.05, 0.1]  # type: ignore[attr-defined]
    assert pending_kinds() == []


def test_entries_still_unprocessed_after_four_attempts_are_handed_back(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    raw, card = raw_params(payment), card_one(0, 1, "20.00")
    expect_batch(batch_store, [raw, card], {"Errors": [], "UnprocessedEntries": [raw]})
    for _ in range(3):
        expect_batch(batch_store, [raw], {"Errors": [], "UnprocessedEntries": [raw]})

    response, counts = invoke(kinesis_event(payment), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert counts == metrics(Failed=1)
    assert batch_store.sleeps == [0.05, 0.1, 0.2]  # type: ignore[attr-defined]
    assert pending_kinds() == ["raw"]


def test_an_answer_naming_a_record_not_sent_fails_every_record_of_the_call(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    stranger = raw_params(transaction("t9", 0, 1))
    expect_batch(
        batch_store,
        [raw_params(payment), card_one(0, 1, "20.00")],
        {"Errors": [error(stranger)], "UnprocessedEntries": []},
    )

    response, counts = invoke(kinesis_event(payment), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert counts == metrics(Failed=1)
    assert pending_kinds() == ["card", "raw"]  # both written again on the retry


def test_a_failed_call_fails_the_records_it_carried(
    batch_store: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = transaction("t1", 0, 20)
    batch_store.add_client_error(
        "batch_write_record",
        service_error_code="ServiceUnavailable",
        http_status_code=503,
        expected_params={"Entries": [raw_params(payment), card_one(0, 1, "20.00")]},
    )

    response, counts = invoke(kinesis_event(payment), capsys)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert counts == metrics(Failed=1)
    assert buckets() == {0: ("1", "20")}  # counted once; only the writes are retried
    assert pending_kinds() == ["card", "raw"]


def test_a_boto3_without_batch_write_record_puts_one_record_a_call() -> None:
    puts: list[dict[str, Any]] = []
    old_client = SimpleNamespace(put_record=lambda **params: puts.append(params))
    writes = [(TRANSACTIONS_GROUP, {"transaction_id": "t1"}), (CARD_GROUP, {"card_id": "c"})]

    current = aggregator.boto3.client("sagemaker-featurestore-runtime", region_name="eu-west-1")
    assert SUPPORTED(current) is True
    assert SUPPORTED(old_client) is False
    assert aggregator.put_features(old_client, writes, 1) == [None, None]
    assert puts == [
        {
            "FeatureGroupName": TRANSACTIONS_GROUP,
            "Record": [{"FeatureName": "transaction_id", "ValueAsString": "t1"}],
        },
        {
            "FeatureGroupName": CARD_GROUP,
            "Record": [{"FeatureName": "card_id", "ValueAsString": "c"}],
        },
    ]
