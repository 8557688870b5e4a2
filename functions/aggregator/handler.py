"""Streaming feature aggregator of the real-time fraud blueprint.

AWS Lambda (python3.12, boto3 only), entry point `handler(event, context)`, fed by a Kinesis
event source mapping with `ReportBatchItemFailures`. A batch is aggregated in memory: per batch
the handler writes each card's state once (in DynamoDB transactions of up to 100 items, with a
dedupe marker per transaction), puts each card's aggregates once and each raw transaction once.

Records of one card must reach the handler in order and never in two invocations at once: the
stream's partition key must be the card id (or a function of it). Lambda keeps per-partition-key
order with any parallelization factor. Concurrent writers of one card are still counted exactly
once (conditional writes), but its feature-store record may then briefly lag.

Environment
-----------
STATE_TABLE
    DynamoDB table: partition key `card_id` (S), sort key `sk` (S), TTL attribute `expires_at`
    (N, epoch seconds). Items per card:

    - `sk = "state"`: the card's windows. `event_time_epoch` (N): the newest event time T, only
      ever increased; `buckets` (M): bucket start (epoch seconds as a string) -> [count (N),
      amount (N)], only the buckets inside the longest window as of T; `version` (N): raised by
      every write and the condition of the next; `pending` (SS, absent when empty):
      feature-store writes committed but not yet confirmed, `raw:<expires>:<h>` or
      `late:<expires>:<h>` for a transaction's raw record (h: the first 16 hex digits of the
      SHA-256 of its transaction id) and `card:<expires>:<invocation>` for the card's
      aggregates. Expires `max(T, now) + longest window + 1 h`.
    - `sk = "txn#<transaction_id>"`: dedupe marker, created in the same DynamoDB transaction as
      the state change it records (`attribute_not_exists`). Expires
      `max(event time, now) + longest window + 1 h`, so replays are recognised too. Its
      `status` is always `done` (only for the previous handler version, should it be rolled
      back; this one goes by the marker's existence and the card's `pending`).
    - Items of the previous per-record layout are only read, never written, and expire by their
      TTL: a card without a `state` item but with a `latest` item starts from its
      `bucket#<start>` items, and a marker an interrupted attempt left with `status`
      `aggregated` or `late` is resumed (raw record unless `raw_written`, then the card's
      aggregates) and then set to `done`.
CARD_FEATURE_GROUP
    Feature group (online + offline) receiving per-card aggregates: `card_id`, `event_time`,
    and per window label L `txn_count_<L>` (integer) and `txn_amount_<L>` (sum, 2 decimals).
TRANSACTIONS_FEATURE_GROUP
    Offline-only feature group receiving every valid transaction, all fields as strings.
DEAD_LETTER_QUEUE_URL
    SQS queue for records that can never succeed. Message body:
    `{"reason", "field" (or null), "data" (the original base64), "sequenceNumber"}`, plus
    `"data_truncated": true` when the data was cut to fit an SQS message.
WINDOWS
    `label=seconds,...`, e.g. `10m=600,1h=3600,24h=86400`; each window a multiple of the
    bucket size, the longest at most 10080 buckets (7 days of one-minute buckets) so a card's
    state fits one DynamoDB item.
BUCKET_SECONDS
    Aggregation bucket size, default 60.
WRITE_CONCURRENCY
    Feature-store calls in flight at once, 1-32, default 8 (1: one at a time, in record
    order, then the cards in order of first appearance).

AWS calls: DynamoDB BatchGetItem (consistent; 50 cards a call), TransactWriteItems (Put and
Update actions; one per 100 items, tried again when a marker already existed), Query (only for
a card still in the previous layout); sagemaker-featurestore-runtime BatchWriteRecord, the raw
transactions and then each card with new aggregates, 25 records a call across both groups
(its `UnprocessedEntries` tried again up to 3 times, its per-record `Errors` failing their
record); SQS SendMessageBatch for malformed records (10 a call). Where the runtime's boto3
predates BatchWriteRecord (announced 2026-08), the same records go one PutRecord each. IAM:
`dynamodb:BatchGetItem`, `dynamodb:PutItem`, `dynamodb:UpdateItem` (transaction actions need
their item actions) and `dynamodb:Query` on STATE_TABLE; `sagemaker:BatchWriteRecord` and
`sagemaker:PutRecord` (BatchWriteRecord needs both) on both feature groups; `sqs:SendMessage`
(covers SendMessageBatch) on the queue.

Input
-----
Each Kinesis record's data is a JSON transaction: `transaction_id`, `card_id`, `customer_id`,
`merchant_id`, `merchant_category`, `currency`, `channel` (non-empty strings), `amount` (a
finite number >= 0, not a bool, at most 6 decimals, below 1e12 so sums stay exact) and
`event_time` (`YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ`, the formats the feature store
accepts, not before 1970 and at most 5 minutes ahead of the clock).

Per batch
---------
1. Records are decoded and validated. A record repeating the card and transaction id of an
   earlier record of the batch is a duplicate.
2. The cards' `state` items are read.
3. Per card, in record order, each new transaction advances T (never decreasing). An event whose
   bucket starts at or before `T - longest window` is late: it would not count in any window,
   so it is not aggregated (logged and counted), but it is still written to
   TRANSACTIONS_FEATURE_GROUP as training data. The others are added to their buckets.
4. One DynamoDB transaction per group of cards writes their markers and `state` items (each
   conditional on the version read), the pending feature-store writes included, so a
   transaction is never counted twice nor missed. A marker that exists means a duplicate; a
   transaction whose raw write is still `pending` (an earlier attempt failed after committing)
   is resumed instead. A `state` item changed since it was read is read again and the card
   re-planned.
5. The raw transactions are written to TRANSACTIONS_FEATURE_GROUP and each card with pending
   aggregates once, as of its T (see `window_aggregates` for the boundary rule), to
   CARD_FEATURE_GROUP; confirmed writes are then removed from `pending` (if that fails, a later
   replay of the same transaction writes its raw record again: at least once).
6. Invalid records go to the dead-letter queue and are not retried. Only those before the
   first failed record are sent (the later ones are retried anyway); when a send fails, the
   records from that one on are retried, so a message can be sent twice.
7. Any other failure reports the record in `batchItemFailures`. Lambda retries a Kinesis batch
   from the lowest reported sequence number, so every later record is reported too (on the
   retry, those that succeeded are duplicates and are not written again).

Every invocation prints one CloudWatch Embedded Metric Format line (namespace
`mlkit/Aggregator`, dimension `FeatureGroup` = CARD_FEATURE_GROUP). Each record is counted in
exactly one of `Processed`, `Duplicates`, `LateEvents`, `Malformed` (dead-lettered) and
`Failed` (reported for retry), so their sum is the number of records in the batch. A retried
record counts as `Processed` or `LateEvents` when its raw write is resumed, and as a duplicate
when its transaction's writes were done (or only its card's aggregates were missing). All five
are emitted in every line, zeros included: alarm on `Failed`, since with partial-batch
responses Lambda's own `Errors` metric stays at zero.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

METRIC_NAMESPACE = "mlkit/Aggregator"
METRIC_NAMES = ("Processed", "Duplicates", "LateEvents", "Malformed", "Failed")
DEFAULT_BUCKET_SECONDS = 60
TTL_MARGIN_SECONDS = 3600
MAX_CLOCK_SKEW_SECONDS = 300
MAX_STRING_BYTES = 512
MAX_AMOUNT = Decimal(10) ** 12
MAX_AMOUNT_DECIMALS = 6
# A Kinesis record can be 1 MiB; keep dead-letter messages well under SQS's 256 KiB.
MAX_DEAD_LETTER_DATA_CHARS = 200_000
# Below this much remaining time the rest of the batch is handed back for retry instead of
# risking a timeout, which would lose this invocation's metrics.
RESERVED_MILLIS = 5_000
# A card's buckets live in one item (400 KB limit): at most ~31 bytes a bucket.
MAX_WINDOW_BUCKETS = 10_080
MAX_STATE_ITEM_BYTES = 380_000
DEFAULT_WRITE_CONCURRENCY = 8
MAX_WRITE_CONCURRENCY = 32
# Feature Store limits: 25 records per BatchWriteRecord (across feature groups).
MAX_BATCH_WRITE_ENTRIES = 25
BATCH_WRITE_ATTEMPTS = 4  # the first try and 3 more for UnprocessedEntries
# DynamoDB limits: 100 keys per BatchGetItem, 100 actions and 4 MB per TransactWriteItems.
MAX_BATCH_GET_KEYS = 100
MAX_TRANSACT_ACTIONS = 100
MAX_TRANSACT_BYTES = 3_500_000
MAX_MARKERS_PER_COMMIT = MAX_TRANSACT_ACTIONS - 1  # plus the card's state item
# Rounds of commits beyond the ones a card's size needs (duplicates found, conflicts).
EXTRA_COMMIT_ROUNDS = 4
BATCH_GET_ATTEMPTS = 5
# SQS limits: 10 messages and 256 KiB per SendMessageBatch.
MAX_DEAD_LETTER_BATCH = 10
MAX_DEAD_LETTER_BATCH_BYTES = 250_000

STRING_FIELDS = (
    "transaction_id",
    "card_id",
    "customer_id",
    "merchant_id",
    "merchant_category",
    "currency",
    "channel",
    "event_time",
)
TRANSACTION_FIELDS = (
    "transaction_id",
    "card_id",
    "customer_id",
    "merchant_id",
    "merchant_category",
    "amount",
    "currency",
    "channel",
    "event_time",
)
# The two EventTime formats SageMaker Feature Store accepts for String event times.
EVENT_TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z")
WINDOW_LABEL_PATTERN = re.compile(r"[A-Za-z0-9]+")

STATE_SORT_KEY = "state"
MARKER_PREFIX = "txn#"
TOKEN_RAW = "raw"
TOKEN_LATE = "late"
TOKEN_CARD = "card"
# The previous per-record layout, read only.
LEGACY_LATEST_SORT_KEY = "latest"
LEGACY_STATUS_AGGREGATED = "aggregated"
LEGACY_STATUS_LATE = "late"
STATUS_DONE = "done"

Outcome = Literal["processed", "duplicate", "late", "malformed", "failed"]
OUTCOME_METRICS: dict[Outcome, str] = {
    "processed": "Processed",
    "duplicate": "Duplicates",
    "late": "LateEvents",
    "malformed": "Malformed",
    "failed": "Failed",
}


def current_time() -> float:
    """The clock (epoch seconds); a function so tests can freeze it."""
    return time.time()


_CLIENTS: dict[str, Any] = {}
_CLIENT_CONFIG = Config(max_pool_connections=MAX_WRITE_CONCURRENCY)


def aws_client(service: str) -> Any:
    """A boto3 client per service, created on first use (on the invoking thread) and reused
    across invocations; its connection pool fits the write concurrency."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, config=_CLIENT_CONFIG)
    return _CLIENTS[service]


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    label: str
    seconds: int


@dataclass(frozen=True)
class Settings:
    state_table: str
    card_feature_group: str
    transactions_feature_group: str
    dead_letter_queue_url: str
    windows: tuple[Window, ...]
    bucket_seconds: int
    write_concurrency: int = DEFAULT_WRITE_CONCURRENCY

    @property
    def longest_window_seconds(self) -> int:
        return max(window.seconds for window in self.windows)


def parse_windows(spec: str, bucket_seconds: int) -> tuple[Window, ...]:
    """`10m=600,1h=3600` -> windows; each a positive multiple of the bucket size so every
    window covers whole buckets, including the bucket of the newest event."""
    windows: list[Window] = []
    for part in spec.split(","):
        label, separator, seconds_text = part.strip().partition("=")
        if not separator or not WINDOW_LABEL_PATTERN.fullmatch(label):
            raise ValueError(f"WINDOWS entry {part!r} is not label=seconds (label [A-Za-z0-9]+)")
        try:
            seconds = int(seconds_text)
        except ValueError:
            raise ValueError(f"WINDOWS entry {part!r}: seconds must be an integer") from None
        if seconds <= 0 or seconds % bucket_seconds:
            raise ValueError(
                f"WINDOWS entry {part!r}: seconds must be a positive multiple of "
                f"BUCKET_SECONDS ({bucket_seconds})"
            )
        if seconds // bucket_seconds > MAX_WINDOW_BUCKETS:
            raise ValueError(
                f"WINDOWS entry {part!r}: at most {MAX_WINDOW_BUCKETS} buckets of "
                f"BUCKET_SECONDS ({bucket_seconds}) so a card's state fits one item"
            )
        windows.append(Window(label, seconds))
    if len({window.label for window in windows}) != len(windows):
        raise ValueError(f"WINDOWS {spec!r} repeats a label")
    return tuple(windows)


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the environment; a misconfiguration raises so the batch is retried
    rather than dead-lettered."""
    bucket_seconds = int(environ.get("BUCKET_SECONDS") or DEFAULT_BUCKET_SECONDS)
    if bucket_seconds <= 0:
        raise ValueError("BUCKET_SECONDS must be positive")
    concurrency = int(environ.get("WRITE_CONCURRENCY") or DEFAULT_WRITE_CONCURRENCY)
    if not 1 <= concurrency <= MAX_WRITE_CONCURRENCY:
        raise ValueError(f"WRITE_CONCURRENCY must be 1 to {MAX_WRITE_CONCURRENCY}")
    return Settings(
        state_table=environ["STATE_TABLE"],
        card_feature_group=environ["CARD_FEATURE_GROUP"],
        transactions_feature_group=environ["TRANSACTIONS_FEATURE_GROUP"],
        dead_letter_queue_url=environ["DEAD_LETTER_QUEUE_URL"],
        windows=parse_windows(environ["WINDOWS"], bucket_seconds),
        bucket_seconds=bucket_seconds,
        write_concurrency=concurrency,
    )


# --- validation -------------------------------------------------------------------------


class MalformedRecord(Exception):
    """A record that can never succeed; it goes to the dead-letter queue."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    card_id: str
    customer_id: str
    merchant_id: str
    merchant_category: str
    amount: Decimal
    currency: str
    channel: str
    event_time: str
    event_epoch: int
    """`event_time` in whole epoch seconds (milliseconds dropped)."""

    def feature_values(self) -> dict[str, str]:
        """All contract fields as strings; the amount keeps its decimal text as sent."""
        return {name: str(getattr(self, name)) for name in TRANSACTION_FIELDS}


def parse_transaction(data: str, now: float) -> Transaction:
    """Decode and validate one Kinesis record's base64 data, or raise MalformedRecord."""
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise MalformedRecord("data is not base64-encoded UTF-8") from None
    try:
        # Decimal keeps amounts exact; NaN/Infinity become non-finite Decimals, rejected below.
        body = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError):
        raise MalformedRecord("data is not valid JSON") from None
    if not isinstance(body, dict):
        raise MalformedRecord("data is not a JSON object")

    for name in TRANSACTION_FIELDS:
        if name not in body:
            raise MalformedRecord("missing field", name)
        value = body[name]
        if name == "amount":
            _check_amount(value)
        elif not isinstance(value, str):
            raise MalformedRecord("must be a string", name)
        elif not value.strip():
            raise MalformedRecord("must not be empty", name)
        elif len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise MalformedRecord(f"longer than {MAX_STRING_BYTES} bytes", name)

    event_epoch = _parse_event_time(body["event_time"], now)
    return Transaction(**{name: body[name] for name in TRANSACTION_FIELDS}, event_epoch=event_epoch)


def _check_amount(value: object) -> None:
    # bool is excluded explicitly: JSON true must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise MalformedRecord("must be a number", "amount")
    if not value.is_finite():
        raise MalformedRecord("must be finite", "amount")
    if value < 0:
        raise MalformedRecord("must not be negative", "amount")
    if value >= MAX_AMOUNT:
        raise MalformedRecord(f"must be below {MAX_AMOUNT:.0e}", "amount")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_AMOUNT_DECIMALS:
        raise MalformedRecord(f"more than {MAX_AMOUNT_DECIMALS} decimal places", "amount")


def _parse_event_time(value: str, now: float) -> int:
    if not EVENT_TIME_PATTERN.fullmatch(value):
        raise MalformedRecord(
            "must be YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DDTHH:MM:SS.sssZ (UTC)", "event_time"
        )
    try:
        epoch = int(datetime.fromisoformat(value).timestamp())
    except ValueError:
        raise MalformedRecord("not a valid date and time", "event_time") from None
    if epoch < 0:
        raise MalformedRecord("before 1970", "event_time")
    # A far-future event would become the card's newest and make every real event late.
    if epoch > now + MAX_CLOCK_SKEW_SECONDS:
        raise MalformedRecord(
            f"more than {MAX_CLOCK_SKEW_SECONDS} s ahead of the clock", "event_time"
        )
    return epoch


# --- windows ----------------------------------------------------------------------------


def bucket_start(epoch: int, bucket_seconds: int) -> int:
    return epoch - epoch % bucket_seconds


def iso_utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_late(event_epoch: int, newest_epoch: int, settings: Settings) -> bool:
    """Late when the event's bucket is outside the longest window as of the newest event,
    i.e. its bucket start <= newest - longest window (see `window_aggregates`)."""
    start = bucket_start(event_epoch, settings.bucket_seconds)
    return start <= newest_epoch - settings.longest_window_seconds


def window_aggregates(
    buckets: Iterable[tuple[int, int, Decimal]], newest_epoch: int, windows: Iterable[Window]
) -> dict[str, tuple[int, Decimal]]:
    """Count and amount per window label as of `newest_epoch` (T).

    Boundary rule: window w holds the buckets whose start s satisfies T - w < s <= T. The
    bucket starting exactly at T - w is excluded, the bucket holding T is included. So with
    60 s buckets and T on a minute boundary, the 10m window holds events from T - 540 s to T,
    and an event at T - 599 s (bucket T - 600) is not in it. `buckets` holds
    (bucket start, count, amount) tuples.
    """
    buckets = list(buckets)
    aggregates: dict[str, tuple[int, Decimal]] = {}
    for window in windows:
        inside = [
            (count, amount)
            for start, count, amount in buckets
            if newest_epoch - window.seconds < start <= newest_epoch
        ]
        aggregates[window.label] = (
            sum(count for count, _ in inside),
            sum((amount for _, amount in inside), Decimal(0)),
        )
    return aggregates


# --- state table ------------------------------------------------------------------------


@dataclass(frozen=True)
class CardState:
    """A card's window state as read from or last written to its `state` item."""

    newest_epoch: int | None = None
    """T, the newest event time; None before the card's first event."""
    buckets: Mapping[int, tuple[int, Decimal]] = field(default_factory=dict)
    """Bucket start -> (count, amount), the buckets inside the longest window as of T."""
    version: int | None = None
    """The item's version; None when there is no `state` item."""
    pending: frozenset[str] = frozenset()
    """Tokens of feature-store writes committed but not confirmed."""

    def bucket_tuples(self) -> list[tuple[int, int, Decimal]]:
        return [(start, count, amount) for start, (count, amount) in self.buckets.items()]

    def aggregates_pending(self) -> bool:
        return any(token.startswith(f"{TOKEN_CARD}:") for token in self.pending)


def transaction_digest(transaction_id: str) -> str:
    """The key of a transaction's `pending` token."""
    return hashlib.sha256(transaction_id.encode("utf-8")).hexdigest()[:16]


def parse_token(token: str) -> tuple[str, int, str] | None:
    """`kind:expires:key` -> (kind, expires, key); None when malformed."""
    kind, _, rest = token.partition(":")
    expires_text, _, key = rest.partition(":")
    try:
        return kind, int(expires_text), key
    except ValueError:
        return None


def _item_key(card_id: str, sort_key: str) -> dict[str, Any]:
    return {"card_id": {"S": card_id}, "sk": {"S": sort_key}}


def _number_size(text: str) -> int:
    # DynamoDB: about one byte per two significant digits, plus one.
    return (sum(character.isdigit() for character in text) + 1) // 2 + 1


def attribute_size(value: Mapping[str, Any]) -> int:
    """An upper estimate of an attribute value's size as DynamoDB counts it."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "SS":
        return sum(len(element.encode("utf-8")) for element in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(
            len(name.encode("utf-8")) + 1 + attribute_size(element)
            for name, element in inner.items()
        )
    return 1


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def state_item(settings: Settings, card_id: str, state: CardState, now: float) -> dict[str, Any]:
    """The `state` item holding `state`."""
    assert state.newest_epoch is not None and state.version is not None
    expires_at = max(state.newest_epoch, int(now)) + settings.longest_window_seconds
    item = _item_key(card_id, STATE_SORT_KEY) | {
        "event_time_epoch": {"N": str(state.newest_epoch)},
        "buckets": {
            "M": {
                str(start): {"L": [{"N": str(count)}, {"N": str(amount)}]}
                for start, (count, amount) in sorted(state.buckets.items())
            }
        },
        "version": {"N": str(state.version)},
        "expires_at": {"N": str(expires_at + TTL_MARGIN_SECONDS)},
    }
    if state.pending:
        item["pending"] = {"SS": sorted(state.pending)}
    return item


def parse_state(item: Mapping[str, Any]) -> CardState:
    newest = item.get("event_time_epoch")
    return CardState(
        newest_epoch=int(newest["N"]) if newest else None,
        buckets={
            int(start): (int(value["L"][0]["N"]), Decimal(value["L"][1]["N"]))
            for start, value in item.get("buckets", {}).get("M", {}).items()
        },
        version=int(item.get("version", {}).get("N", "0")),
        pending=frozenset(item.get("pending", {}).get("SS", [])),
    )


def batch_get(settings: Settings, keys: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Consistent reads of `keys`, 100 a call; (card id, sort key) -> item for those found."""
    dynamodb = aws_client("dynamodb")
    found: dict[tuple[str, str], Any] = {}
    for first in range(0, len(keys), MAX_BATCH_GET_KEYS):
        request: dict[str, Any] = {
            settings.state_table: {
                "Keys": list(keys[first : first + MAX_BATCH_GET_KEYS]),
                "ConsistentRead": True,
            }
        }
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(settings.state_table, []):
                found[(item["card_id"]["S"], item["sk"]["S"])] = item
            unprocessed = (response.get("UnprocessedKeys") or {}).get(settings.state_table)
            if not unprocessed or not unprocessed.get("Keys"):
                break
            request = {settings.state_table: {"Keys": unprocessed["Keys"], "ConsistentRead": True}}
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError("BatchGetItem left keys unprocessed")
    return found


def load_states(
    settings: Settings, card_ids: Sequence[str], legacy: bool = True
) -> dict[str, CardState]:
    """The cards' states; with `legacy`, a card with no `state` item but a `latest` item of
    the previous layout starts from its `bucket#` items."""
    keys = [_item_key(card_id, STATE_SORT_KEY) for card_id in card_ids]
    if legacy:
        keys += [_item_key(card_id, LEGACY_LATEST_SORT_KEY) for card_id in card_ids]
    found = batch_get(settings, keys)
    states: dict[str, CardState] = {}
    for card_id in card_ids:
        item = found.get((card_id, STATE_SORT_KEY))
        latest = found.get((card_id, LEGACY_LATEST_SORT_KEY))
        if item is not None:
            states[card_id] = parse_state(item)
        elif latest is not None:
            newest = int(latest["event_time_epoch"]["N"])
            buckets = read_legacy_buckets(settings, card_id, newest)
            states[card_id] = CardState(newest, {start: (c, a) for start, c, a in buckets})
        else:
            states[card_id] = CardState()
    return states


def bucket_sort_key(start: int) -> str:
    """A bucket item's sort key in the previous layout."""
    return f"bucket#{start:012d}"


def read_legacy_buckets(
    settings: Settings, card_id: str, newest_epoch: int
) -> list[tuple[int, int, Decimal]]:
    """A card's `bucket#` items (previous layout) inside the longest window as of
    `newest_epoch`, consistently read."""
    first = bucket_start(newest_epoch - settings.longest_window_seconds, settings.bucket_seconds)
    first += settings.bucket_seconds  # the bucket starting at T - longest is outside
    query: dict[str, Any] = {
        "TableName": settings.state_table,
        "KeyConditionExpression": "card_id = :card AND sk BETWEEN :first AND :last",
        "ProjectionExpression": "sk, #count, #amount",
        "ExpressionAttributeNames": {"#count": "count", "#amount": "amount"},
        "ExpressionAttributeValues": {
            ":card": {"S": card_id},
            ":first": {"S": bucket_sort_key(first)},
            ":last": {"S": bucket_sort_key(bucket_start(newest_epoch, settings.bucket_seconds))},
        },
        "ConsistentRead": True,
    }
    buckets: list[tuple[int, int, Decimal]] = []
    while True:
        page = aws_client("dynamodb").query(**query)
        for item in page.get("Items", []):
            buckets.append(
                (
                    int(item["sk"]["S"].removeprefix("bucket#")),
                    int(item["count"]["N"]),
                    Decimal(item["amount"]["N"]),
                )
            )
        if "LastEvaluatedKey" not in page:
            return buckets
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- batch ------------------------------------------------------------------------------


@dataclass(eq=False)
class Entry:
    """One record of the batch and what became of it."""

    index: int
    record: Mapping[str, Any]
    transaction: Transaction | None = None
    problem: MalformedRecord | None = None
    outcome: Outcome | None = None
    late: bool = False
    write_raw: bool = False
    """The raw record is to be put in this invocation."""
    raw_written: bool = False
    token: str | None = None
    """Its `pending` token, removed once the raw record is written."""
    legacy_marker: bool = False
    """Resumed from a marker of the previous layout."""

    @property
    def sequence_number(self) -> str:
        return str(self.record["kinesis"]["sequenceNumber"])


@dataclass(eq=False)
class Card:
    """A card's records of the batch and its state."""

    card_id: str
    entries: list[Entry] = field(default_factory=list)
    """First occurrences of its transactions, in record order."""
    state: CardState = field(default_factory=CardState)
    queue: list[Entry] = field(default_factory=list)
    """Entries not yet committed, in record order."""
    failed: bool = False
    legacy_aggregates: bool = False
    """A resumed marker of the previous layout still needs the aggregates put."""
    aggregates_written: bool = False

    def needs_aggregates(self) -> bool:
        return self.state.newest_epoch is not None and (
            self.state.aggregates_pending() or self.legacy_aggregates
        )

    def fail(self, reason: str) -> None:
        """Nothing more is committed for this card; its uncommitted entries are retried."""
        if self.queue:
            logger.warning(
                "%d record(s) of card %s reported for retry: %s",
                len(self.queue),
                self.card_id,
                reason,
            )
        for entry in self.queue:
            entry.outcome = "failed"
        self.queue = []
        self.failed = True

    def take_resumed(self) -> None:
        """Entries whose raw write an earlier attempt committed but did not confirm are
        resumed, not committed again."""
        pending = self._pending_raw()
        self.queue = [entry for entry in self.queue if not self.resume(entry, pending)]

    def resume(self, entry: Entry, pending: Mapping[str, str] | None = None) -> bool:
        """Resume the entry if its raw write is pending in the card's state."""
        assert entry.transaction is not None
        pending = self._pending_raw() if pending is None else pending
        token = pending.get(transaction_digest(entry.transaction.transaction_id))
        if token is None:
            return False
        entry.late = token.startswith(f"{TOKEN_LATE}:")
        entry.token = token
        entry.write_raw = True
        return True

    def _pending_raw(self) -> dict[str, str]:
        """Transaction digest -> its pending raw (or late) token."""
        pending = {}
        for token in self.state.pending:
            parsed = parse_token(token)
            if parsed and parsed[0] in (TOKEN_RAW, TOKEN_LATE):
                pending[parsed[2]] = token
        return pending


@dataclass(eq=False)
class Plan:
    """One card's commit of a chunk of its queue."""

    card: Card
    chunk: list[Entry]
    lates: list[bool]
    tokens: list[str]
    state: CardState
    actions: list[dict[str, Any]]
    size: int


def plan_commit(
    settings: Settings, card: Card, chunk: list[Entry], now: float, invocation: str
) -> Plan:
    """Aggregate `chunk` into the card's state in memory: T advanced in record order, each
    event late or added to its bucket, buckets outside the longest window dropped."""
    longest = settings.longest_window_seconds
    newest = card.state.newest_epoch
    buckets = dict(card.state.buckets)
    lates: list[bool] = []
    tokens: list[str] = []
    actions: list[dict[str, Any]] = []
    size = 0
    for entry in chunk:
        transaction = entry.transaction
        assert transaction is not None
        epoch = transaction.event_epoch
        newest = epoch if newest is None else max(newest, epoch)
        late = is_late(epoch, newest, settings)
        if not late:
            start = bucket_start(epoch, settings.bucket_seconds)
            count, amount = buckets.get(start, (0, Decimal(0)))
            buckets[start] = (count + 1, amount + transaction.amount)
        expires_at = int(max(epoch, now)) + longest + TTL_MARGIN_SECONDS
        lates.append(late)
        tokens.append(
            f"{TOKEN_LATE if late else TOKEN_RAW}:{expires_at}:"
            f"{transaction_digest(transaction.transaction_id)}"
        )
        marker = _item_key(card.card_id, MARKER_PREFIX + transaction.transaction_id) | {
            "status": {"S": STATUS_DONE},
            "expires_at": {"N": str(expires_at)},
        }
        size += item_size(marker)
        actions.append(
            {
                "Put": {
                    "TableName": settings.state_table,
                    "Item": marker,
                    "ConditionExpression": "attribute_not_exists(sk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )
    assert newest is not None
    added = set(tokens)
    if not all(lates):
        added.add(f"{TOKEN_CARD}:{int(now) + longest + TTL_MARGIN_SECONDS}:{invocation}")
    state = CardState(
        newest_epoch=newest,
        buckets={start: value for start, value in buckets.items() if start > newest - longest},
        version=(card.state.version or 0) + 1,
        pending=card.state.pending | added,
    )
    item = state_item(settings, card.card_id, state, now)
    put: dict[str, Any] = {
        "TableName": settings.state_table,
        "Item": item,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if card.state.version is None:
        put["ConditionExpression"] = "attribute_not_exists(sk)"
    else:
        put["ConditionExpression"] = "#version = :version"
        put["ExpressionAttributeNames"] = {"#version": "version"}
        put["ExpressionAttributeValues"] = {":version": {"N": str(card.state.version)}}
    actions.append({"Put": put})
    return Plan(card, chunk, lates, tokens, state, actions, size + item_size(item))


def _pack(plans: list[Plan]) -> list[list[Plan]]:
    """Plans in order, grouped into transactions within DynamoDB's limits."""
    groups: list[list[Plan]] = []
    actions = size = 0
    for plan in plans:
        if (
            not groups
            or actions + len(plan.actions) > MAX_TRANSACT_ACTIONS
            or size + plan.size > MAX_TRANSACT_BYTES
        ):
            groups.append([])
            actions = size = 0
        groups[-1].append(plan)
        actions += len(plan.actions)
        size += plan.size
    return groups


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _existing_marker(card: Card, entry: Entry, item: Mapping[str, Any]) -> None:
    """The transaction's marker exists: a duplicate, or a previous-layout attempt to resume."""
    status = item.get("status", {}).get("S")
    if status in (LEGACY_STATUS_AGGREGATED, LEGACY_STATUS_LATE):
        entry.legacy_marker = True
        entry.late = status == LEGACY_STATUS_LATE
        entry.write_raw = not item.get("raw_written", {}).get("BOOL", False)
        card.legacy_aggregates |= not entry.late
    else:
        entry.outcome = "duplicate"


def _run_commit(
    settings: Settings,
    group: list[Plan],
    stale: list[Card],
    existing: list[tuple[Card, Entry, Mapping[str, Any]]],
) -> bool:
    """One TransactWriteItems. When cancelled, the cards whose state changed are added to
    `stale` and the entries whose marker exists to `existing` (with the marker); False when a
    cancellation reason was not a condition (a conflict, throttling)."""
    actions = [action for plan in group for action in plan.actions]
    try:
        aws_client("dynamodb").transact_write_items(TransactItems=actions)
    except Exception as error:
        reasons = (
            error.response.get("CancellationReasons") or []
            if isinstance(error, ClientError)
            and _error_code(error) == "TransactionCanceledException"
            else []
        )
        if len(reasons) != len(actions):
            logger.exception("state commit failed")
            for plan in group:
                plan.card.fail("state commit failed")
            return True
        transient = False
        offset = 0
        for plan in group:
            mine = reasons[offset : offset + len(plan.actions)]
            offset += len(plan.actions)
            done: set[int] = set()
            for entry, reason in zip(plan.chunk, mine, strict=False):
                code = reason.get("Code") or "None"
                if code == "ConditionalCheckFailed":
                    existing.append((plan.card, entry, reason.get("Item") or {}))
                    done.add(id(entry))
                elif code != "None":
                    transient = True
            plan.card.queue = [entry for entry in plan.card.queue if id(entry) not in done]
            code = mine[-1].get("Code") or "None"
            if code == "ConditionalCheckFailed":
                stale.append(plan.card)
            elif code != "None":
                transient = True
        if transient:
            logger.warning("state commit cancelled: %s", [r.get("Code") for r in reasons])
        return not transient
    for plan in group:
        card = plan.card
        card.state = plan.state
        for entry, late, token in zip(plan.chunk, plan.lates, plan.tokens, strict=True):
            entry.late = late
            entry.token = token
            entry.write_raw = True
        card.queue = card.queue[len(plan.chunk) :]
    return True


def commit(settings: Settings, cards: list[Card], now: float, invocation: str) -> None:
    """Commit every card's queue: rounds of transactions, each taking up to 99 entries a card,
    until the queues are empty; duplicates found and changed states are re-planned."""
    longest_queue = max((len(card.queue) for card in cards), default=0)
    rounds = math.ceil(longest_queue / MAX_MARKERS_PER_COMMIT) + EXTRA_COMMIT_ROUNDS
    for attempt in range(rounds):
        plans: list[Plan] = []
        for card in cards:
            if card.failed or not card.queue:
                continue
            plan = plan_commit(settings, card, card.queue[:MAX_MARKERS_PER_COMMIT], now, invocation)
            if item_size(plan.actions[-1]["Put"]["Item"]) > MAX_STATE_ITEM_BYTES:
                card.fail(f"state item would exceed {MAX_STATE_ITEM_BYTES} bytes")
                continue
            plans.append(plan)
        if not plans:
            return
        stale: list[Card] = []
        existing: list[tuple[Card, Entry, Mapping[str, Any]]] = []
        calm = True
        for group in _pack(plans):
            calm &= _run_commit(settings, group, stale, existing)
        if stale:
            try:
                states = load_states(settings, [card.card_id for card in stale], legacy=False)
            except Exception:
                logger.exception("state read failed")
                for card in stale:
                    card.fail("state read failed")
            else:
                for card in stale:
                    card.state = states[card.card_id]
                    card.take_resumed()
        # Only now, with changed states re-read: a marker whose raw write is pending is ours
        # (an earlier attempt, or this one's commit whose response was lost).
        for card, entry, marker in existing:
            if card.failed:
                entry.outcome = "failed"
            elif not card.resume(entry):
                _existing_marker(card, entry, marker)
        if not calm:
            time.sleep(0.02 * 2**attempt)
    for card in cards:
        card.fail(f"not committed in {rounds} rounds")


# --- feature store ----------------------------------------------------------------------


def _record(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"FeatureName": name, "ValueAsString": value} for name, value in values.items()]


def _put_record(client: Any, feature_group: str, values: Mapping[str, str]) -> None:
    client.put_record(FeatureGroupName=feature_group, Record=_record(values))


def batch_writes_supported(client: Any) -> bool:
    """Whether the client's API model has BatchWriteRecord (boto3 from 2026-08 on); the
    runtime's boto3 may predate it."""
    return hasattr(client, "batch_write_record")


_FALLBACK_LOGGED = False
"""Whether this execution environment has logged that it writes one PutRecord per record."""


class FeatureWriteError(Exception):
    """A record BatchWriteRecord did not write: its error code and message, or unprocessed."""


def _entry_key(entry: Mapping[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    """What identifies an entry in a BatchWriteRecord response (the entry as sent)."""
    return str(entry["FeatureGroupName"]), frozenset(
        (str(value["FeatureName"]), str(value.get("ValueAsString"))) for value in entry["Record"]
    )


def _batch_write(
    client: Any, writes: Sequence[tuple[str, Mapping[str, str]]]
) -> list[Exception | None]:
    """One BatchWriteRecord of up to 25 records, its unprocessed entries tried again; each
    record's error or None. A failed call fails the records it carried; an answer naming a
    record that was not sent fails them all."""
    entries = [{"FeatureGroupName": group, "Record": _record(values)} for group, values in writes]
    index = {_entry_key(entry): position for position, entry in enumerate(entries)}
    results: list[Exception | None] = [None] * len(entries)
    todo = list(range(len(entries)))
    for attempt in range(BATCH_WRITE_ATTEMPTS):
        try:
            response = client.batch_write_record(Entries=[entries[i] for i in todo])
        except Exception as error:  # the records not yet written fail (a crash propagates)
            for position in todo:
                results[position] = error
            return results
        errors = response.get("Errors") or []
        unprocessed = response.get("UnprocessedEntries") or []
        try:
            for error in errors:
                position = index[_entry_key(error["Entry"])]
                results[position] = FeatureWriteError(
                    f"{error.get('ErrorCode')}: {error.get('ErrorMessage')}"
                )
            todo = [index[_entry_key(entry)] for entry in unprocessed]
        except KeyError:
            unknown = FeatureWriteError("BatchWriteRecord answered for a record not sent")
            return [unknown] * len(entries)
        if not todo:
            return results
        if attempt + 1 < BATCH_WRITE_ATTEMPTS:
            time.sleep(0.05 * 2**attempt)
    for position in todo:
        results[position] = FeatureWriteError(
            f"still unprocessed after {BATCH_WRITE_ATTEMPTS} BatchWriteRecord attempts"
        )
    return results


def put_features(
    client: Any, writes: Sequence[tuple[str, Mapping[str, str]]], concurrency: int
) -> list[Exception | None]:
    """Write (feature group, record) pairs, in order: BatchWriteRecord calls of 25 when the
    client has it, else one PutRecord each; up to `concurrency` calls at once. Each record's
    error or None (a failed call fails each of its records)."""
    if not batch_writes_supported(client):
        global _FALLBACK_LOGGED
        if not _FALLBACK_LOGGED:
            logger.warning("this boto3 has no BatchWriteRecord: one PutRecord per record")
            _FALLBACK_LOGGED = True
        return run_all(
            [lambda w=write: _put_record(client, w[0], w[1]) for write in writes], concurrency
        )
    chunks = [
        writes[first : first + MAX_BATCH_WRITE_ENTRIES]
        for first in range(0, len(writes), MAX_BATCH_WRITE_ENTRIES)
    ]
    outcomes: list[list[Exception | None]] = [[] for _ in chunks]

    def job(position: int) -> None:
        outcomes[position] = _batch_write(client, chunks[position])

    errors = run_all([lambda p=position: job(p) for position in range(len(chunks))], concurrency)
    results: list[Exception | None] = []
    for chunk, outcome, error in zip(chunks, outcomes, errors, strict=True):
        results.extend([error] * len(chunk) if error is not None else outcome)
    return results


def card_features(
    card_id: str, newest_epoch: int, aggregates: Mapping[str, tuple[int, Decimal]]
) -> dict[str, str]:
    """The CARD_FEATURE_GROUP record; sums rounded half-up to cents."""
    values = {"card_id": card_id, "event_time": iso_utc(newest_epoch)}
    for label, (count, amount) in aggregates.items():
        values[f"txn_count_{label}"] = str(count)
        values[f"txn_amount_{label}"] = str(amount.quantize(Decimal("0.01"), ROUND_HALF_UP))
    return values


def run_all(jobs: Sequence[Callable[[], None]], concurrency: int) -> list[Exception | None]:
    """Run the jobs, up to `concurrency` at once (in order when 1); each job's exception or
    None. Anything that is not an Exception (the runtime ending) propagates."""
    results: list[Exception | None] = []
    if concurrency == 1 or len(jobs) <= 1:
        for job in jobs:
            try:
                job()
            except Exception as error:
                results.append(error)
            else:
                results.append(None)
        return results
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        for future in futures:
            error = future.exception()
            if error is not None and not isinstance(error, Exception):
                raise error
            results.append(error)
    return results


def write_features(settings: Settings, entries: list[Entry], cards: list[Card]) -> None:
    """Write the raw records due and the pending aggregates; a record that was not written
    fails its entry (the aggregates: every record of the card)."""
    raws = [entry for entry in entries if entry.write_raw and entry.outcome is None]
    aggregated = [card for card in cards if card.needs_aggregates()]
    writes: list[tuple[str, Mapping[str, str]]] = []
    for entry in raws:
        assert entry.transaction is not None
        writes.append((settings.transactions_feature_group, entry.transaction.feature_values()))
    for card in aggregated:
        newest = card.state.newest_epoch
        assert newest is not None
        aggregates = window_aggregates(card.state.bucket_tuples(), newest, settings.windows)
        values = card_features(card.card_id, newest, aggregates)
        writes.append((settings.card_feature_group, values))
    client = aws_client("sagemaker-featurestore-runtime")
    results = put_features(client, writes, settings.write_concurrency)
    failed_cards: set[str] = set()
    for entry, error in zip(raws, results[: len(raws)], strict=True):
        if error is None:
            entry.raw_written = True
        else:
            logger.error(
                "raw record of record %s failed: %r; reported for retry",
                entry.sequence_number,
                error,
            )
            entry.outcome = "failed"
    for card, error in zip(aggregated, results[len(raws) :], strict=True):
        if error is None:
            card.aggregates_written = True
        else:
            logger.error(
                "aggregates of card %s failed: %r; reported for retry", card.card_id, error
            )
            failed_cards.add(card.card_id)
    for entry in entries:
        if entry.transaction and entry.transaction.card_id in failed_cards:
            entry.outcome = "failed"


def confirm_writes(settings: Settings, cards: list[Card], now: float) -> None:
    """Remove the confirmed (and the expired) writes from the cards' `pending`; strip resumed
    markers of the previous layout of their status. Best effort: what stays is written again
    if the same transaction is replayed."""
    actions: list[dict[str, Any]] = []
    expires_at = int(now) + settings.longest_window_seconds + TTL_MARGIN_SECONDS
    for card in cards:
        done = set()
        for token in card.state.pending:
            parsed = parse_token(token)
            if parsed is None or parsed[1] < now:
                done.add(token)  # unreadable or expired (its marker expired too)
            elif parsed[0] == TOKEN_CARD and card.aggregates_written:
                done.add(token)  # the put just made carries every earlier state
        done |= {entry.token for entry in card.entries if entry.raw_written and entry.token}
        done &= card.state.pending
        if done and card.state.version is not None:
            actions.append(
                {
                    "Update": {
                        "TableName": settings.state_table,
                        "Key": _item_key(card.card_id, STATE_SORT_KEY),
                        "UpdateExpression": "DELETE #pending :done ADD #version :one "
                        "SET expires_at = if_not_exists(expires_at, :expires)",
                        "ExpressionAttributeNames": {"#pending": "pending", "#version": "version"},
                        "ExpressionAttributeValues": {
                            ":done": {"SS": sorted(done)},
                            ":one": {"N": "1"},
                            ":expires": {"N": str(expires_at)},
                        },
                    }
                }
            )
        for entry in card.entries:
            if entry.legacy_marker and entry.outcome in ("processed", "late"):
                assert entry.transaction is not None
                actions.append(
                    {
                        "Update": {
                            "TableName": settings.state_table,
                            "Key": _item_key(
                                card.card_id, MARKER_PREFIX + entry.transaction.transaction_id
                            ),
                            "UpdateExpression": "SET #status = :done REMOVE raw_written",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {":done": {"S": STATUS_DONE}},
                        }
                    }
                )
    for first in range(0, len(actions), MAX_TRANSACT_ACTIONS):
        try:
            aws_client("dynamodb").transact_write_items(
                TransactItems=actions[first : first + MAX_TRANSACT_ACTIONS]
            )
        except Exception:
            logger.warning("could not confirm feature-store writes", exc_info=True)


# --- dead letters -----------------------------------------------------------------------


def dead_letter_body(entry: Entry) -> str:
    """A malformed record's dead-letter message, data truncated to fit a message."""
    assert entry.problem is not None
    data = entry.record["kinesis"]["data"]
    message: dict[str, Any] = {
        "reason": entry.problem.reason,
        "field": entry.problem.field,
        "data": data[:MAX_DEAD_LETTER_DATA_CHARS],
        "sequenceNumber": entry.record["kinesis"]["sequenceNumber"],
    }
    if len(data) > MAX_DEAD_LETTER_DATA_CHARS:
        message["data_truncated"] = True
    return json.dumps(message)


def dead_letter(settings: Settings, entries: list[Entry]) -> None:
    """Send the malformed entries to the dead-letter queue in batches, in record order; after a
    failed send the rest are reported for retry instead."""
    chunks: list[list[tuple[Entry, str]]] = []
    size = 0
    for entry in entries:
        body = dead_letter_body(entry)
        body_size = len(body.encode("utf-8"))
        if (
            not chunks
            or len(chunks[-1]) == MAX_DEAD_LETTER_BATCH
            or size + body_size > MAX_DEAD_LETTER_BATCH_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append((entry, body))
        size += body_size
    broken = False
    for chunk in chunks:
        if broken:
            for entry, _ in chunk:
                entry.outcome = "failed"
            continue
        try:
            response = aws_client("sqs").send_message_batch(
                QueueUrl=settings.dead_letter_queue_url,
                Entries=[{"Id": str(entry.index), "MessageBody": body} for entry, body in chunk],
            )
        except Exception:
            logger.exception("dead-letter queue failed; records reported for retry")
            failed = {str(entry.index) for entry, _ in chunk}
        else:
            failed = {str(failure["Id"]) for failure in response.get("Failed", [])}
            if failed:
                logger.error("dead-letter queue refused %s", response["Failed"])
        for entry, _ in chunk:
            entry.outcome = "failed" if str(entry.index) in failed else "malformed"
        broken = bool(failed)


# --- invocation -------------------------------------------------------------------------


def metrics_line(settings: Settings, counts: Mapping[str, int], now: float) -> str:
    """The invocation's CloudWatch Embedded Metric Format line."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(now * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRIC_NAMESPACE,
                        "Dimensions": [["FeatureGroup"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in METRIC_NAMES],
                    }
                ],
            },
            "FeatureGroup": settings.card_feature_group,
            **{name: counts.get(name, 0) for name in METRIC_NAMES},
        }
    )


def _remaining_millis(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() if callable(remaining) else float("inf")


def _out_of_time(context: Any, entries: Iterable[Entry], phase: str) -> bool:
    """When the invocation is nearly out of time, hand back every unfinished entry."""
    if _remaining_millis(context) >= RESERVED_MILLIS:
        return False
    unfinished = [entry for entry in entries if entry.outcome is None]
    logger.warning("%d record(s) handed back for retry: out of time %s", len(unfinished), phase)
    for entry in unfinished:
        entry.outcome = "failed"
    return True


def parse_entries(entries: list[Entry], now: float) -> list[Card]:
    """Decode the records; group the valid ones by card (in order of first appearance),
    repeats of a card's transaction id being duplicates."""
    cards: dict[str, Card] = {}
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        try:
            transaction = parse_transaction(entry.record["kinesis"]["data"], now)
        except MalformedRecord as problem:
            logger.warning(
                "malformed record %s: %s (field %s)",
                entry.sequence_number,
                problem.reason,
                problem.field,
            )
            entry.problem = problem
            continue
        entry.transaction = transaction
        key = (transaction.card_id, transaction.transaction_id)
        if key in seen:
            entry.outcome = "duplicate"
            continue
        seen.add(key)
        card = cards.setdefault(transaction.card_id, Card(transaction.card_id))
        card.entries.append(entry)
        card.queue.append(entry)
    return list(cards.values())


def process_batch(settings: Settings, entries: list[Entry], now: float, context: Any) -> None:
    """Give every entry its outcome (see the module docstring, Per batch)."""
    cards = parse_entries(entries, now)
    valid = [entry for entry in entries if entry.transaction is not None]
    if cards and not _out_of_time(context, valid, "before reading state"):
        try:
            states = load_states(settings, [card.card_id for card in cards])
        except Exception:
            logger.exception("state read failed; records reported for retry")
            for card in cards:
                card.fail("state read failed")
        else:
            for card in cards:
                card.state = states[card.card_id]
                card.take_resumed()
            commit(settings, cards, now, uuid.uuid4().hex[:16])
            if not _out_of_time(context, valid, "before writing features"):
                write_features(settings, entries, cards)
                for entry in valid:
                    if entry.outcome is None:
                        entry.outcome = "late" if entry.late else "processed"
                confirm_writes(settings, cards, now)
                _log_late(cards)
    malformed = [entry for entry in entries if entry.problem is not None]
    first_failed = min((e.index for e in entries if e.outcome == "failed"), default=len(entries))
    for entry in malformed:
        if entry.index > first_failed:
            entry.outcome = "failed"  # retried anyway: dead-lettered on the retry
    if not _out_of_time(context, malformed, "before dead-lettering"):
        dead_letter(settings, [entry for entry in malformed if entry.outcome is None])


def _log_late(cards: list[Card]) -> None:
    for card in cards:
        for entry in card.entries:
            if entry.outcome == "late" and entry.transaction is not None:
                newest = card.state.newest_epoch
                logger.warning(
                    "late event not aggregated: %s",
                    json.dumps(
                        {
                            "transaction_id": entry.transaction.transaction_id,
                            "card_id": card.card_id,
                            "event_time": entry.transaction.event_time,
                            "newest_event_time": iso_utc(newest) if newest is not None else None,
                        }
                    ),
                )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point: returns the partial-batch response for ReportBatchItemFailures."""
    settings = load_settings()
    entries = [Entry(index, record) for index, record in enumerate(event.get("Records", []))]
    if not _out_of_time(context, entries, "at the start"):
        try:
            process_batch(settings, entries, current_time(), context)
        except Exception:
            # Not expected; the unfinished records are handed back (and the metrics kept).
            logger.exception("batch processing failed")
            for entry in entries:
                if entry.outcome is None:
                    entry.outcome = "failed"
    # Lambda retries from the lowest reported sequence number: report every later record too.
    first_failed = next((e.index for e in entries if e.outcome == "failed"), len(entries))
    failures: list[dict[str, str]] = []
    counts: Counter[str] = Counter()
    for entry in entries:
        if entry.index >= first_failed:
            entry.outcome = "failed"
            failures.append({"itemIdentifier": entry.sequence_number})
        assert entry.outcome is not None
        counts[OUTCOME_METRICS[entry.outcome]] += 1
    print(metrics_line(settings, counts, current_time()))
    return {"batchItemFailures": failures}
