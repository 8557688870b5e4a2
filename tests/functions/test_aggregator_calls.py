"""AWS calls per event through the aggregator at batch size 100 with realistic card repetition
(cards drawn from a Zipf-like distribution over 30 cards, some duplicates and late events),
against moto's DynamoDB and SQS on 127.0.0.1, the feature store faked (moto lacks it), every
call counted by a botocore `before-call` handler on the handler's own clients. The resulting
aggregates are checked against the brute-force reference.

The fresh-cards batch runs against moto; the steady-state batch (cards with state, replays of
earlier transactions) against the in-memory fake of the same calls, because moto copies the
whole table for every item of a TransactWriteItems (seconds per batch once it holds a few
hundred items). The handler, the counter and the assertions are the same.

The raw transactions and the cards' aggregates go to the feature store in BatchWriteRecord
calls of 25 records (both groups in one call): the issue's target (under 0.3 calls per event)
is checked for every call, the raw writes included. Where the runtime's boto3 predates
BatchWriteRecord the handler falls back to one PutRecord per record: that path's figure is
measured too (1 call per unique transaction plus one per card, on top of the DynamoDB calls).
A transaction replayed from an earlier batch costs one more try of the commit it is in
(the markers are checked by the commit's conditions, not read beforehand)."""

from __future__ import annotations

import base64
import json
import math
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from functions.aggregator import handler as aggregator
from tests.functions.test_aggregator_fakes import (
    OFFLINE_ENV,
    CallCounter,
    FakeAws,
    kinesis_records,
    make_clients,
    reference_card_records,
    reference_late,
    unique_transactions,
)

TABLE = "fraud-state"
CARD_GROUP = "fraud-card-aggregates"
TRANSACTIONS_GROUP = "fraud-transactions"
WINDOWS = {"10m": 600, "1h": 3600, "24h": 86400}
T = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp())
NOW = T + 300
CARDS = [f"card-{n:02d}" for n in range(30)]
ZIPF_WEIGHTS = [1 / (n + 1) ** 1.1 for n in range(30)]
BATCH = 100
TARGET_CALLS_PER_EVENT = 0.3


def payload(txn_id: str, card: str, offset: int, amount: float) -> dict[str, Any]:
    return {
        "transaction_id": txn_id,
        "card_id": card,
        "customer_id": f"customer-{card}",
        "merchant_id": "merchant-3",
        "merchant_category": "5411",
        "amount": amount,
        "currency": "EUR",
        "channel": "online",
        "event_time": datetime.fromtimestamp(T + offset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def encode(item: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(item).encode()).decode()


def zipf_batch(
    rng: random.Random,
    prefix: str,
    offsets: tuple[int, int],
    replays: list[dict[str, Any]],
    duplicates: int,
    late: int,
) -> list[dict[str, Any]]:
    """BATCH records: new transactions on Zipf-drawn cards, `late` events far behind their
    card, `duplicates` repeats of records of this batch and the `replays` of earlier ones."""
    new = BATCH - duplicates - late - len(replays)
    batch = [
        payload(
            f"{prefix}{n}",
            rng.choices(CARDS, ZIPF_WEIGHTS)[0],
            rng.randint(*offsets),
            rng.randint(1, 50_000) / 100,
        )
        for n in range(new)
    ]
    for n in range(late):
        card = batch[n]["card_id"]
        batch.append(payload(f"{prefix}late{n}", card, -90_000, 1.5))
    for item in replays:
        batch.insert(rng.randrange(len(batch) + 1), item)
    for _ in range(duplicates):
        position = rng.randrange(len(batch))
        batch.insert(rng.randrange(position + 1, len(batch) + 1), dict(batch[position]))
    assert len(batch) == BATCH
    return batch


def wire(monkeypatch: pytest.MonkeyPatch, moto: bool, queue: str) -> tuple[FakeAws, CallCounter]:
    for name, value in {
        "STATE_TABLE": TABLE,
        "CARD_FEATURE_GROUP": CARD_GROUP,
        "TRANSACTIONS_FEATURE_GROUP": TRANSACTIONS_GROUP,
        "DEAD_LETTER_QUEUE_URL": queue,
        "WINDOWS": ",".join(f"{k}={v}" for k, v in WINDOWS.items()),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("BUCKET_SECONDS", "WRITE_CONCURRENCY"):  # defaults: 60 s, 8 puts at once
        monkeypatch.delenv(name, raising=False)
    fake, counter = FakeAws(), CallCounter()
    if moto:
        clients = make_clients(
            faked=["sagemaker-featurestore-runtime"],
            real=["dynamodb", "sqs"],
            fake=fake,
            counter=counter,
        )
    else:
        clients = make_clients(
            faked=["dynamodb", "sagemaker-featurestore-runtime", "sqs"], fake=fake, counter=counter
        )
    monkeypatch.setattr(aggregator, "_CLIENTS", clients)
    monkeypatch.setattr(aggregator, "current_time", lambda: NOW)
    return fake, counter


@pytest.fixture
def on_moto(aws: str, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeAws, CallCounter]:
    """DynamoDB and SQS in moto, the feature store faked."""
    boto3.client("dynamodb").create_table(
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
    queue = boto3.client("sqs").create_queue(QueueName="fraud-dead-letters")["QueueUrl"]
    return wire(monkeypatch, True, queue)


@pytest.fixture
def on_fake(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeAws, CallCounter]:
    """Everything faked in memory; nothing is sent (a closed local port regardless)."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    return wire(monkeypatch, False, "http://127.0.0.1:9/000000000000/fraud-dead-letters")


def run_batch(
    batch: list[dict[str, Any]], counter: CallCounter, capsys: pytest.CaptureFixture[str]
) -> dict[str, int]:
    counter.reset()
    capsys.readouterr()
    response = aggregator.handler({"Records": kinesis_records(batch, encode)}, None)
    assert response == {"batchItemFailures": []}
    line = json.loads(capsys.readouterr().out)
    return {name: line[name] for name in aggregator.METRIC_NAMES}


def check_calls(
    counter: CallCounter, batch: list[dict[str, Any]], fresh: int, batched: bool = True
) -> dict[str, Any]:
    """The call figures of one batch; `fresh` = its transactions not seen before (one raw
    record each)."""
    cards = {item["card_id"] for item in unique_transactions(batch)}
    total = counter.total()
    store = "sagemaker-featurestore-runtime"
    figures = {
        "calls": {f"{s}.{o}": n for (s, o), n in sorted(counter.calls.items())},
        "total_per_event": total / BATCH,
        "cards": len(cards),
    }
    records = len(cards) + fresh
    if batched:
        assert counter.total(store, "BatchWriteRecord") == math.ceil(records / 25), figures
        assert counter.total(store) == counter.total(store, "BatchWriteRecord")
    else:
        assert counter.total(store, "PutRecord") == records, figures
        assert counter.total(store) == records
    assert counter.total("sqs") == 0
    return figures


def first_batch(
    fake: FakeAws,
    counter: CallCounter,
    capsys: pytest.CaptureFixture[str],
    rng: random.Random,
    batched: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A batch of fresh cards: 93 new transactions, 2 late events, 5 duplicates."""
    batch = zipf_batch(rng, "a", (-3600, -1800), replays=[], duplicates=5, late=2)

    counts = run_batch(batch, counter, capsys)

    unique = unique_transactions(batch)
    late = reference_late(batch, max(WINDOWS.values()), 60)
    assert (len(unique), len(late)) == (95, 2)
    assert counts == {
        "Processed": 93,
        "Duplicates": 5,
        "LateEvents": 2,
        "Malformed": 0,
        "Failed": 0,
    }
    assert fake.latest_card_records(CARD_GROUP) == reference_card_records(batch, WINDOWS, 60)
    assert len(fake.puts(CARD_GROUP)) == len({item["card_id"] for item in unique})
    raw = Counter(values["transaction_id"] for values in fake.puts(TRANSACTIONS_GROUP))
    assert raw == Counter(item["transaction_id"] for item in unique)  # each exactly once
    figures = check_calls(counter, batch, fresh=95, batched=batched)
    # One read (2 keys a card), two commits (95 markers + the cards' state items), one
    # confirmation.
    assert counter.total("dynamodb") == 4, figures
    if batched:
        assert figures["total_per_event"] < TARGET_CALLS_PER_EVENT, figures
    return batch, figures


def test_calls_per_event_at_batch_size_100_against_moto(
    on_moto: tuple[FakeAws, CallCounter], capsys: pytest.CaptureFixture[str]
) -> None:
    _, figures = first_batch(*on_moto, capsys, random.Random(20261125))
    with capsys.disabled():
        print(f"\naggregator calls, batch of fresh cards (moto): {json.dumps(figures)}")


def test_calls_per_event_with_one_put_record_per_record(
    on_fake: tuple[FakeAws, CallCounter],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A runtime whose boto3 predates BatchWriteRecord: the same records, one call each.
    monkeypatch.setattr(aggregator, "batch_writes_supported", lambda client: False)
    _, figures = first_batch(*on_fake, capsys, random.Random(20261125), batched=False)
    assert figures["total_per_event"] == (4 + figures["cards"] + 95) / BATCH
    with capsys.disabled():
        print(f"\naggregator calls, PutRecord fallback (fake): {json.dumps(figures)}")


def test_calls_per_event_in_the_steady_state(
    on_fake: tuple[FakeAws, CallCounter], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, counter = on_fake
    rng = random.Random(20261125)
    first, _ = first_batch(fake, counter, capsys, rng)
    # The cards have state now; three replays of the first batch cancel the commit they are in
    # once (found by the commit's conditions, then left out).
    fake.records.clear()
    replays = [dict(item) for item in rng.sample(unique_transactions(first), 3)]
    second = zipf_batch(rng, "b", (-1800, 0), replays=replays, duplicates=2, late=0)

    counts = run_batch(second, counter, capsys)

    assert counts == {
        "Processed": 95,
        "Duplicates": 5,
        "LateEvents": 0,
        "Malformed": 0,
        "Failed": 0,
    }
    expected = reference_card_records(first + second, WINDOWS, 60)
    written = fake.latest_card_records(CARD_GROUP)
    assert set(written) == {item["card_id"] for item in second}
    assert written == {card: expected[card] for card in written}
    figures = check_calls(counter, second, fresh=95)
    assert 4 <= counter.total("dynamodb") <= 6, figures  # 2 commits, each tried again at most once
    assert figures["total_per_event"] < TARGET_CALLS_PER_EVENT, figures
    with capsys.disabled():
        print(f"\naggregator calls, steady state with 3 replays (fake): {json.dumps(figures)}")
