"""Property-based tests of the aggregator's windows, dedupe and late events, each against a
brute-force reference (tests/functions/test_aggregator_fakes.py).

Random streams (three cards, out-of-order and late event times, repeated transaction ids,
malformed records) are cut into batches at random and delivered the way Lambda does: a batch
with failures is retried from its lowest failed sequence number, one that crashes is retried
whole or bisected, and a batch may be delivered again after it succeeded. Faults are injected
into chosen AWS calls: errors before a call takes effect, errors after it took effect (lost
responses) and crashes; and BatchWriteRecord answers chosen entries as unprocessed or as
errors (its partial success). Whatever happens, once every batch got through:

- each card's last CARD_FEATURE_GROUP record equals the reference computed from its
  deduplicated transactions (late ones included, which never count);
- every distinct transaction has its raw record, exactly once unless a fault made that
  impossible (a put whose response was lost, a crash, a lost confirmation);
- every malformed record is dead-lettered;
- every invocation's metrics add up to its batch and its failures are a suffix of it.

Most examples run against an in-memory FAKE of DynamoDB/SQS/Feature Store (FakeAws); a few run
the same property against moto's DynamoDB and SQS (the feature store is always faked).
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.aggregator import handler as aggregator
from tests.functions.test_aggregator_fakes import (
    OFFLINE_ENV,
    Crash,
    FakeAws,
    Fault,
    FaultInjector,
    kinesis_records,
    make_clients,
    reference_card_records,
    reference_late,
    unique_transactions,
)

TABLE = "fraud-state"
CARD_GROUP = "fraud-card-aggregates"
TRANSACTIONS_GROUP = "fraud-transactions"
WINDOWS = {"2m": 120, "5m": 300}
BUCKET = 60
LONGEST = max(WINDOWS.values())
T0 = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp())
NOW = T0 + 600
EXAMPLES = int(os.environ.get("AGGREGATOR_EXAMPLES", "25"))
"""Examples per fake-backed property; set AGGREGATOR_EXAMPLES higher for a deeper local run
(3000 examples with faults passed while this was written)."""
FAULTS = [
    Fault("before"),
    Fault("before", "ThrottlingException"),
    Fault("after"),
    Fault("crash-before"),
    Fault("crash-after"),
]
SERVICES = ["dynamodb", "sagemaker-featurestore-runtime", "sqs"]
ENV = OFFLINE_ENV | {
    "STATE_TABLE": TABLE,
    "CARD_FEATURE_GROUP": CARD_GROUP,
    "TRANSACTIONS_FEATURE_GROUP": TRANSACTIONS_GROUP,
    "WINDOWS": ",".join(f"{k}={v}" for k, v in WINDOWS.items()),
    "BUCKET_SECONDS": str(BUCKET),
    "WRITE_CONCURRENCY": "1",
}


# --- backends -----------------------------------------------------------------------------


@dataclass
class World:
    """The handler wired to a backend; `fake` serves the faked services."""

    fake: FakeAws
    faults: FaultInjector
    moto: str | None = None
    """The moto endpoint when DynamoDB and SQS are moto's."""

    def reset(self, faults: dict[int, Fault]) -> None:
        self.fake.reset()
        if self.moto is not None:
            requests.post(f"{self.moto}/moto-api/reset", timeout=5)
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
            queue = boto3.client("sqs").create_queue(QueueName="dead")["QueueUrl"]
            os.environ["DEAD_LETTER_QUEUE_URL"] = queue
        self.faults.reset(faults)

    def pending(self, card: str) -> frozenset[str]:
        if self.moto is None:
            state = self.fake.state(card)
        else:
            item = boto3.client("dynamodb").get_item(
                TableName=TABLE, Key={"card_id": {"S": card}, "sk": {"S": "state"}}
            )
            state = aggregator.parse_state(item["Item"]) if "Item" in item else None
        return frozenset() if state is None else state.pending

    def dead_letters(self) -> list[dict[str, Any]]:
        if self.moto is None:
            return self.fake.messages
        sqs, url = boto3.client("sqs"), os.environ["DEAD_LETTER_QUEUE_URL"]
        received = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            received += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )
        return received


@contextlib.contextmanager
def wired(moto: str | None, **env: str) -> Iterator[World]:
    world = World(FakeAws(), FaultInjector(), moto)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (ENV | env).items():
            patch.setenv(name, value)
        if moto is None:
            patch.setenv("DEAD_LETTER_QUEUE_URL", "http://127.0.0.1:9/000000000000/dead")
            clients = make_clients(faked=SERVICES, fake=world.fake, faults=world.faults)
        else:
            patch.setenv("AWS_ENDPOINT_URL", moto)
            patch.setenv("DEAD_LETTER_QUEUE_URL", "set per example")
            clients = make_clients(
                faked=["sagemaker-featurestore-runtime"],
                real=["dynamodb", "sqs"],
                fake=world.fake,
                faults=world.faults,
            )
        patch.setattr(aggregator, "_CLIENTS", clients)
        patch.setattr(aggregator, "current_time", lambda: NOW)
        yield world


@pytest.fixture(scope="module")
def fake_world() -> Iterator[World]:
    with wired(None) as world:
        yield world


@pytest.fixture(scope="module")
def threaded_world() -> Iterator[World]:
    with wired(None, WRITE_CONCURRENCY="4") as world:
        yield world


@pytest.fixture(scope="module")
def moto_world(moto_server: str) -> Iterator[World]:
    with wired(moto_server) as world:
        yield world


# --- streams --------------------------------------------------------------------------------


def payload(index: int, card: str, offset: int, cents: int, millis: bool) -> dict[str, Any]:
    when = datetime.fromtimestamp(T0 + offset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "transaction_id": f"t{index}",
        "card_id": card,
        "customer_id": "customer-1",
        "merchant_id": "merchant-1",
        "merchant_category": "5411",
        "amount": cents / 100,
        "currency": "EUR",
        "channel": "online",
        "event_time": when + (".250Z" if millis else "Z"),
    }


transactions = st.lists(
    st.tuples(
        st.sampled_from(["card-a", "card-b", "card-c"]),
        st.integers(-1200, 300),  # spans 5 windows: out of order, and late
        st.integers(0, 10**7),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@st.composite
def deliveries(draw: st.DrawFn, faults: bool) -> dict[str, Any]:
    pool = [payload(n, *spec) for n, spec in enumerate(draw(transactions))]
    # Indices into the pool, so a repeat is the same record; -1 is a malformed record.
    picks = draw(st.lists(st.integers(-1, len(pool) - 1), min_size=1, max_size=30))
    stream: list[dict[str, Any] | bytes] = [pool[i] if i >= 0 else b"{" for i in picks]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=4)))
    bounds = [0, *[c for c in cuts if c < len(stream)], len(stream)]
    batches = [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    return {
        "stream": stream,
        "batches": batches,
        "again": draw(st.lists(st.booleans(), min_size=len(batches), max_size=len(batches))),
        "faults": draw(st.dictionaries(st.integers(0, 40), st.sampled_from(FAULTS), max_size=4))
        if faults
        else {},
        "bisect": draw(st.booleans()),
    }


def encode(item: dict[str, Any] | bytes) -> str:
    raw = item if isinstance(item, bytes) else json.dumps(item).encode()
    return base64.b64encode(raw).decode()


# --- Lambda's delivery ------------------------------------------------------------------------


def invoke(records: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = aggregator.handler({"Records": records}, None)
    (line,) = out.getvalue().splitlines()
    counts = {name: json.loads(line)[name] for name in aggregator.METRIC_NAMES}
    return response, counts


def deliver(records: list[dict[str, Any]], bisect: bool, totals: Counter[str]) -> None:
    """Deliver a batch until it got through, as Lambda's Kinesis event source mapping does."""
    queue = [records]
    attempts = 0
    while queue:
        batch = queue.pop(0)
        while True:
            attempts += 1
            assert attempts < 60, "the batch never got through"
            try:
                response, counts = invoke(batch)
            except Crash:
                if bisect and len(batch) > 1:  # BisectBatchOnFunctionError
                    middle = len(batch) // 2
                    queue[:0] = [batch[:middle], batch[middle:]]
                    break
                continue
            assert sum(counts.values()) == len(batch)
            totals.update(counts)
            failed = [int(f["itemIdentifier"]) for f in response["batchItemFailures"]]
            if not failed:
                break
            lowest = min(failed)
            batch = [r for r in batch if int(r["kinesis"]["sequenceNumber"]) >= lowest]
            # Every record from the lowest failed one on is reported: Lambda retries them all.
            assert sorted(failed) == [int(r["kinesis"]["sequenceNumber"]) for r in batch]


def run(world: World, case: dict[str, Any]) -> Counter[str]:
    """Deliver the case's batches; the metric totals. Sets case["malformed"]: the sequence
    numbers of malformed records, once per delivery of their batch."""
    world.reset(case["faults"])
    totals: Counter[str] = Counter()
    case["malformed"] = Counter()
    for batch, again in zip(case["batches"], case["again"], strict=True):
        records = kinesis_records(batch, encode)
        for _ in range(2 if again else 1):  # again: delivered once more after it succeeded
            deliver(records, case["bisect"], totals)
            case["malformed"].update(
                r["kinesis"]["sequenceNumber"]
                for r, item in zip(records, batch, strict=True)
                if not isinstance(item, dict)
            )
    return totals


def check_outcome(world: World, case: dict[str, Any]) -> None:
    stream = case["stream"]
    injected = world.faults.injected
    crashed = any(fault.crash for _, fault in injected)
    lost_confirmation = any(op == "Confirm" and fault.when == "before" for op, fault in injected)
    lost_put = any(
        op in ("PutRecord", "BatchWriteRecord") and fault.applied for op, fault in injected
    )

    # The windows: each card's online record is the reference's.
    expected = reference_card_records(stream, WINDOWS, BUCKET)
    assert world.fake.latest_card_records(CARD_GROUP) == expected

    # Dedupe: every distinct transaction's raw record, once unless a fault forbids it.
    unique = unique_transactions(stream)
    raw = Counter(
        (values["card_id"], values["transaction_id"])
        for values in world.fake.puts(TRANSACTIONS_GROUP)
    )
    assert set(raw) == {(p["card_id"], p["transaction_id"]) for p in unique}
    if not (crashed or lost_confirmation or lost_put):
        assert set(raw.values()) <= {1}, raw
        for card in expected:
            assert world.pending(card) == frozenset()
    for values in world.fake.puts(TRANSACTIONS_GROUP):
        original = next(p for p in unique if p["transaction_id"] == values["transaction_id"])
        assert values == original | {"amount": str(Decimal(json.dumps(original["amount"])))}

    # Malformed records are dead-lettered once per delivery, unless a fault forbids it.
    letters = world.dead_letters()
    assert all(letter["reason"] == "data is not valid JSON" for letter in letters)
    sent = Counter(letter["sequenceNumber"] for letter in letters)
    lost_send = any(op == "SendMessageBatch" and fault.applied for op, fault in injected)
    if crashed or lost_send:
        assert set(sent) == set(case["malformed"])
    else:
        assert sent == case["malformed"]


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(case=deliveries(faults=False))
def test_batches_match_the_reference_windows_dedupe_and_late_events(
    threaded_world: World, case: dict[str, Any]
) -> None:
    totals = run(threaded_world, case)

    check_outcome(threaded_world, case)
    # Without faults the records are processed in stream order, so the late events are the
    # sequential reference's, and every record is counted once per delivery.
    stream, again = case["stream"], case["again"]
    delivered = [
        item
        for batch, twice in zip(case["batches"], again, strict=True)
        for item in (batch * 2 if twice else batch)
    ]
    unique = unique_transactions(stream)
    late = reference_late(stream, LONGEST, BUCKET)
    valid = sum(1 for item in delivered if isinstance(item, dict))
    assert totals == Counter(
        {
            "Processed": len(unique) - len(late),
            "LateEvents": len(late),
            "Duplicates": valid - len(unique),
            "Malformed": len(delivered) - valid,
        }
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=deliveries(faults=True))
def test_faults_and_retries_keep_counting_exactly_once(
    fake_world: World, case: dict[str, Any]
) -> None:
    run(fake_world, case)

    check_outcome(fake_world, case)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    case=deliveries(faults=False),
    refusals=st.dictionaries(
        st.tuples(st.integers(0, 12), st.integers(0, 24)),
        st.sampled_from(["unprocessed", "ThrottlingException", "ValidationError"]),
        max_size=6,
    ),
)
def test_partial_batch_writes_keep_counting_exactly_once(
    fake_world: World, case: dict[str, Any], refusals: dict[tuple[int, int], str]
) -> None:
    # BatchWriteRecord leaves chosen entries unprocessed (tried again in the invocation) or
    # answers them as errors (their records retried by Lambda); nothing is lost or doubled.
    fake_world.fake.refuse_batch_entries = lambda call, position: refusals.get((call, position))
    try:
        run(fake_world, case)
    finally:
        fake_world.fake.refuse_batch_entries = None

    check_outcome(fake_world, case)


@settings(
    max_examples=max(4, EXAMPLES // 6),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=deliveries(faults=True))
def test_faults_and_retries_keep_counting_exactly_once_against_moto(
    moto_world: World, case: dict[str, Any]
) -> None:
    run(moto_world, case)

    check_outcome(moto_world, case)


@settings(max_examples=4 * EXAMPLES, deadline=None, database=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 10**6)), max_size=40),
    newest=st.integers(0, 3600),
    windows=st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True),
)
def test_window_aggregates_and_lateness_match_their_definition(
    events: list[tuple[int, int]], newest: int, windows: list[int]
) -> None:
    # Buckets of 60 s built from raw events; each window a number of buckets.
    buckets: dict[int, tuple[int, Decimal]] = {}
    for epoch, cents in events:
        start = epoch - epoch % 60
        count, amount = buckets.get(start, (0, Decimal(0)))
        buckets[start] = (count + 1, amount + Decimal(cents) / 100)
    spec = [aggregator.Window(f"w{n}", n * 60) for n in windows]

    result = aggregator.window_aggregates(
        [(start, c, a) for start, (c, a) in buckets.items()], newest, spec
    )

    for window in spec:
        inside = [
            Decimal(cents) / 100
            for epoch, cents in events
            if newest - window.seconds < epoch - epoch % 60 <= newest
        ]
        assert result[window.label] == (len(inside), sum(inside, Decimal(0)))
    settings_ = aggregator.Settings("t", "c", "r", "q", tuple(spec), 60)
    for epoch, _ in events:
        if epoch <= newest:
            counted = any(
                newest - w.seconds < epoch - epoch % 60 <= newest for w in settings_.windows
            )
            assert aggregator.is_late(epoch, newest, settings_) is not counted
