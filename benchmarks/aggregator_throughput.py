"""Events per second through the streaming aggregator Lambda handler (`functions/aggregator`).

Batches of Kinesis records (cards drawn from a Zipf-like distribution, a few out-of-order
events and duplicates) go through `handler(event, None)` back to back; only the handler calls
are timed. Backends:

- `fake`: an in-process fake of every AWS call (tests/functions/test_aggregator_fakes.py),
  served through botocore's events, so the figure is the handler's own CPU cost plus botocore's
  request building: the ceiling of one invocation's throughput. `CPU ms/event` is process CPU
  time (all threads; with moto it includes the in-process moto server).
- `latency`: the same fake with a fixed delay per call (`--latency-ms`, default 10) standing in
  for AWS round trips; shows what WRITE_CONCURRENCY buys.
- `moto`: moto's DynamoDB and SQS (ThreadedMotoServer on 127.0.0.1), the feature store faked
  (moto lacks it). moto copies the whole table for every TransactWriteItems item, so the table
  is reset every `--reset-every` batches (not timed); its figures say little about AWS.

Feature-store writes go through BatchWriteRecord (25 records a call); `--put-record` times the
handler's fallback for a runtime whose boto3 predates it (one PutRecord per record).

Not a test. Run: `python benchmarks/aggregator_throughput.py [--backends fake latency moto]
[--batches N] [--batch-size 100] [--concurrency 1 8] [--put-record] [--handler PATH]`.
`--handler` times another version of the handler module (e.g.
`git show HEAD:functions/aggregator/handler.py > old.py`); versions that make other calls than
the current one run on moto only. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.functions.test_aggregator_fakes import (  # noqa: E402
    OFFLINE_ENV,
    CallCounter,
    FakeAws,
    kinesis_records,
)

TABLE = "bench-state"
WINDOWS = "10m=600,1h=3600,24h=86400"
T0 = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp())
EVENTS_PER_SECOND = 200  # the prod average: the simulated clock advances accordingly
SERVICES = ["dynamodb", "sagemaker-featurestore-runtime", "sqs"]


def load_handler(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"aggregator_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def batches(
    count: int, size: int, cards: int, seed: int
) -> Iterator[tuple[float, list[dict[str, Any]]]]:
    """(clock, records) per batch: Zipf-drawn cards, events up to a minute out of order, 1%
    duplicates."""
    rng = random.Random(seed)
    names = [f"card-{n:05d}" for n in range(cards)]
    weights = [1 / (n + 1) ** 1.1 for n in range(cards)]
    sent: list[dict[str, Any]] = []
    number = 0
    for index in range(count):
        clock = T0 + index * size / EVENTS_PER_SECOND
        payloads: list[dict[str, Any]] = []
        for _ in range(size):
            if sent and rng.random() < 0.01:
                payloads.append(rng.choice(sent[-500:]))
                continue
            number += 1
            when = int(clock) - (rng.randint(0, 60) if rng.random() < 0.05 else 0)
            payloads.append(
                {
                    "transaction_id": f"txn-{number}",
                    "card_id": rng.choices(names, weights)[0],
                    "customer_id": "customer-1",
                    "merchant_id": "merchant-1",
                    "merchant_category": "5411",
                    "amount": rng.randint(1, 100_000) / 100,
                    "currency": "EUR",
                    "channel": "online",
                    "event_time": datetime.fromtimestamp(when, tz=UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                }
            )
            sent.append(payloads[-1])
        yield clock, kinesis_records(payloads, encode)


def encode(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def create_state(endpoint: str) -> str:
    """A fresh table and queue in moto; the queue URL."""
    import requests

    requests.post(f"{endpoint}/moto-api/reset", timeout=5)
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
    return str(boto3.client("sqs").create_queue(QueueName="bench-dead")["QueueUrl"])


def run(
    handler: ModuleType,
    backend: str,
    concurrency: int,
    args: argparse.Namespace,
    endpoint: str | None,
) -> dict[str, Any]:
    fake = FakeAws(latency=args.latency_ms / 1000 if backend == "latency" else 0)
    counter = CallCounter()
    faked = SERVICES if backend in ("fake", "latency") else ["sagemaker-featurestore-runtime"]
    env = {
        "STATE_TABLE": TABLE,
        "CARD_FEATURE_GROUP": "bench-cards",
        "TRANSACTIONS_FEATURE_GROUP": "bench-transactions",
        "DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/000000000000/bench-dead",
        "WINDOWS": WINDOWS,
        "WRITE_CONCURRENCY": str(concurrency),
    } | (OFFLINE_ENV if endpoint is None else OFFLINE_ENV | {"AWS_ENDPOINT_URL": endpoint})
    with environment(env):
        clients = {}
        for service in SERVICES:
            client = boto3.client(service, config=Config(max_pool_connections=32))
            counter.attach(client)
            if service in faked:
                fake.attach(client)
            clients[service] = client
        handler._CLIENTS = clients
        events = calls = 0
        elapsed = cpu = 0.0
        for index, (clock, records) in enumerate(
            batches(args.batches, args.batch_size, args.cards, args.seed)
        ):
            if endpoint is not None and index % args.reset_every == 0:
                os.environ["DEAD_LETTER_QUEUE_URL"] = create_state(endpoint)
            handler.current_time = lambda clock=clock: clock
            counter.reset()
            with contextlib.redirect_stdout(io.StringIO()):
                start, start_cpu = time.perf_counter(), time.process_time()
                response = handler.handler({"Records": records}, None)
                elapsed += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
            if response["batchItemFailures"]:
                raise RuntimeError(f"batch {index} failed: {response['batchItemFailures'][:3]}")
            events += len(records)
            calls += counter.total()
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_second": events / elapsed,
        "cpu_ms_per_event": 1000 * cpu / events,
        "calls_per_event": calls / events,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["fake", "latency", "moto"])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--cards", type=int, default=30, help="cards in the Zipf distribution")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--reset-every", type=int, default=5, help="moto: batches per table")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--put-record", action="store_true", help="one PutRecord per record (old boto3)"
    )
    parser.add_argument(
        "--handler", type=Path, default=ROOT / "functions" / "aggregator" / "handler.py"
    )
    args = parser.parse_args()
    logging_off()
    handler = load_handler(args.handler)
    if args.put_record and hasattr(handler, "batch_writes_supported"):
        handler.batch_writes_supported = lambda client: False
    server = endpoint = None
    if "moto" in args.backends:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    try:
        name = args.handler.relative_to(ROOT) if args.handler.is_relative_to(ROOT) else args.handler
        writes = "PutRecord per record" if args.put_record else "BatchWriteRecord"
        print(
            f"handler {name}, {args.batches} batches of {args.batch_size}, "
            f"{args.cards} cards (Zipf), {writes}\n"
        )
        print(
            "| backend | WRITE_CONCURRENCY | events | seconds | events/s | CPU ms/event "
            "| AWS calls/event |"
        )
        print("|---|---|---|---|---|---|---|")
        for backend in args.backends:
            for concurrency in args.concurrency:
                figures = run(
                    handler, backend, concurrency, args, endpoint if backend == "moto" else None
                )
                label = (
                    f"{backend} ({args.latency_ms:g} ms/call)" if backend == "latency" else backend
                )
                print(
                    f"| {label} | {concurrency} | {figures['events']} | "
                    f"{figures['seconds']:.2f} | {figures['events_per_second']:.0f} | "
                    f"{figures['cpu_ms_per_event']:.2f} | {figures['calls_per_event']:.2f} |"
                )
    finally:
        if server is not None:
            server.stop()
    return 0


def logging_off() -> None:
    import logging

    logging.disable(logging.WARNING)


if __name__ == "__main__":
    raise SystemExit(main())
