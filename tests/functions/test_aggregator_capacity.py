"""DynamoDB capacity units per event through the aggregator, measured, and the cost model's
figures for the window state table held to them.

The cost model prices the state table at prod scale, where a batch's cards are distinct (see
mlkit/cost.py). Two such batches of 100 go through the handler against the in-memory fake:
cards new to the table, then the same cards again (each with state). A meter on the
handler's DynamoDB client prices every request by DynamoDB's rules, from the items as they
are when it is sent: a transactional write costs 2 write units per KB of the larger of the
item before and after (the Put's item, or the existing one for an Update or a check); a
consistent read 1 unit per 4 KB of each item, and 1 for a key with no item. Update results
are taken at their existing size: the handler's updates only remove tokens from `pending`."""

from __future__ import annotations

import base64
import json
import math
import threading
from typing import Any

import pytest

from functions.aggregator import handler as aggregator
from mlkit import cost
from tests.functions.test_aggregator_calls import T, payload
from tests.functions.test_aggregator_fakes import (
    OFFLINE_ENV,
    FakeAws,
    _action_key,
    _key,
    kinesis_records,
    make_clients,
)

BATCH = 100


class CapacityMeter:
    """Write and read units of the DynamoDB requests sent through a client served by `fake`."""

    def __init__(self, fake: FakeAws) -> None:
        self.fake = fake
        self.write_units = 0
        self.read_units = 0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-call.*.*", self._meter)

    def _size(self, key: tuple[str, str]) -> int:
        item = self.fake.items.get(key)
        return aggregator.item_size(item) if item is not None else 0

    def _meter(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        params = context["api_params"]  # kept by the fake (before-parameter-build)
        with self._lock:
            if model.name == "TransactWriteItems":
                for action in params["TransactItems"]:
                    ((kind, body),) = action.items()
                    before = self._size(_action_key(action))
                    size = max(before, aggregator.item_size(body["Item"]) if kind == "Put" else 0)
                    self.write_units += 2 * max(1, math.ceil(size / 1024))
            elif model.name == "BatchGetItem":
                ((_, request),) = params["RequestItems"].items()
                assert request["ConsistentRead"] is True
                for key in request["Keys"]:
                    self.read_units += max(1, math.ceil(self._size(_key(key)) / 4096))
            else:
                raise AssertionError(f"not metered: {model.name}")


@pytest.fixture
def metered(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeAws, CapacityMeter]:
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    for name, value in {
        "STATE_TABLE": "fraud-state",
        "CARD_FEATURE_GROUP": "fraud-card-aggregates",
        "TRANSACTIONS_FEATURE_GROUP": "fraud-transactions",
        "DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/000000000000/fraud-dead-letters",
        "WINDOWS": "10m=600,1h=3600,24h=86400",
    }.items():
        monkeypatch.setenv(name, value)
    fake = FakeAws()
    meter = CapacityMeter(fake)
    clients = make_clients(faked=["dynamodb", "sagemaker-featurestore-runtime", "sqs"], fake=fake)
    meter.attach(clients["dynamodb"])
    monkeypatch.setattr(aggregator, "_CLIENTS", clients)
    monkeypatch.setattr(aggregator, "current_time", lambda: T + 600)
    return fake, meter


def units_per_event(meter: CapacityMeter, batch: list[dict[str, Any]]) -> tuple[float, float]:
    meter.write_units = meter.read_units = 0
    encode = lambda item: base64.b64encode(json.dumps(item).encode()).decode()  # noqa: E731
    response = aggregator.handler({"Records": kinesis_records(batch, encode)}, None)
    assert response == {"batchItemFailures": []}
    return meter.write_units / len(batch), meter.read_units / len(batch)


def test_cost_model_prices_the_state_table_at_the_units_the_handler_uses(
    metered: tuple[FakeAws, CapacityMeter], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, meter = metered
    cards = [f"card-{n:03d}" for n in range(BATCH)]

    new_cards = units_per_event(meter, [payload(f"a-{c}", c, 0, 12.5) for c in cards])
    known_cards = units_per_event(meter, [payload(f"b-{c}", c, 60, 12.5) for c in cards])
    capsys.readouterr()

    # Each event: its marker, its card's state and the confirmation of the card's pending
    # writes, all transactional; the card's state item and its previous layout's, read.
    assert new_cards == known_cards == (6.0, 2.0)
    assert all(item_bytes < 1024 for item_bytes in map(aggregator.item_size, fake.items.values()))
    assert known_cards == (cost.STATE_WRITE_UNITS_PER_EVENT, cost.STATE_READS_PER_EVENT)
