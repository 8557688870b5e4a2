"""Streaming feature aggregator of the real-time fraud blueprint.

AWS Lambda (python3.12, boto3 only), entry point `handler(event, context)`, fed by a Kinesis
event source mapping with `ReportBatchItemFailures`.

Environment
-----------
STATE_TABLE
    DynamoDB table: partition key `card_id` (S), sort key `sk` (S), TTL attribute `expires_at`
    (N, epoch seconds). Items per card:

    - `sk = "txn#<transaction_id>"`: dedupe marker with `status` (S): `aggregated` or `late`
      while the feature-store writes are pending, `done` once they succeeded; `raw_written`
      (BOOL) once the raw transaction reached the feature store. Expires
      `max(event time, now) + longest window + 1 h`, so replays are recognised too.
    - `sk = "bucket#<bucket start epoch, 12 digits>"`: `count` (N) and `amount` (N) of the
      card's transactions in that bucket. Expires `bucket start + longest window + 1 h`.
    - `sk = "latest"`: `event_time_epoch` (N), the card's newest event time, only ever
      increased. Expires `newest event time + longest window + 1 h`.
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
    bucket size.
BUCKET_SECONDS
    Aggregation bucket size, default 60.

Input
-----
Each Kinesis record's data is a JSON transaction: `transaction_id`, `card_id`, `customer_id`,
`merchant_id`, `merchant_category`, `currency`, `channel` (non-empty strings), `amount` (a
finite number >= 0, not a bool, at most 6 decimals, below 1e12 so DynamoDB sums stay exact)
and `event_time` (`YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ`, the formats the
feature store accepts, not before 1970 and at most 5 minutes ahead of the clock).

Per record
----------
1. Invalid records go to the dead-letter queue and are not retried.
2. The card's newest event time T is advanced (conditional update, never decreases).
3. An event whose bucket starts at or before `T - longest window` is late: it would not
   count in any window, so it is not aggregated (logged and counted), but it is still
   written to TRANSACTIONS_FEATURE_GROUP as training data.
4. Otherwise one DynamoDB transaction creates the dedupe marker (`attribute_not_exists`)
   and ADDs the transaction to its bucket, so a bucket is never counted twice nor missed.
   An existing marker means a duplicate (`done`) or a retry of an earlier attempt whose
   feature-store writes did not all succeed (`aggregated` / `late`): those writes resume.
5. The raw transaction is put to TRANSACTIONS_FEATURE_GROUP (once: skipped on a retry when
   `raw_written` is set), then the card's aggregates as of T (see `window_aggregates` for the
   boundary rule) to CARD_FEATURE_GROUP, and finally the marker is set to `done`.
6. Any other failure reports the record in `batchItemFailures` so Lambda retries it.

Every invocation prints one CloudWatch Embedded Metric Format line (namespace
`mlkit/Aggregator`, dimension `FeatureGroup` = CARD_FEATURE_GROUP). Each record is counted in
exactly one of `Processed`, `Duplicates`, `LateEvents`, `Malformed` (dead-lettered) and
`Failed` (reported for retry), so their sum is the number of records in the batch.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import boto3
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

STATUS_AGGREGATED = "aggregated"
STATUS_LATE = "late"
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


def aws_client(service: str) -> Any:
    """A boto3 client per service, created on first use and reused across invocations."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service)
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
    return Settings(
        state_table=environ["STATE_TABLE"],
        card_feature_group=environ["CARD_FEATURE_GROUP"],
        transactions_feature_group=environ["TRANSACTIONS_FEATURE_GROUP"],
        dead_letter_queue_url=environ["DEAD_LETTER_QUEUE_URL"],
        windows=parse_windows(environ["WINDOWS"], bucket_seconds),
        bucket_seconds=bucket_seconds,
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


def bucket_sort_key(start: int) -> str:
    return f"bucket#{start:012d}"


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


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def advance_newest_event_time(settings: Settings, transaction: Transaction) -> int:
    """Raise the card's newest event time to this event's if it is newer; return the
    newest event time afterwards."""
    dynamodb = aws_client("dynamodb")
    expires_at = transaction.event_epoch + settings.longest_window_seconds + TTL_MARGIN_SECONDS
    try:
        dynamodb.update_item(
            TableName=settings.state_table,
            Key={"card_id": {"S": transaction.card_id}, "sk": {"S": "latest"}},
            UpdateExpression="SET event_time_epoch = :event, expires_at = :expires",
            ConditionExpression="attribute_not_exists(event_time_epoch) "
            "OR event_time_epoch < :event",
            ExpressionAttributeValues={
                ":event": {"N": str(transaction.event_epoch)},
                ":expires": {"N": str(expires_at)},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if _error_code(error) != "ConditionalCheckFailedException":
            raise
        existing = error.response.get("Item") or _get_item(settings, transaction.card_id, "latest")
        return int(existing["event_time_epoch"]["N"])
    return transaction.event_epoch


def _get_item(settings: Settings, card_id: str, sort_key: str) -> dict[str, Any]:
    response = aws_client("dynamodb").get_item(
        TableName=settings.state_table,
        Key={"card_id": {"S": card_id}, "sk": {"S": sort_key}},
        ConsistentRead=True,
    )
    return response.get("Item", {})


def _marker_key(transaction: Transaction) -> dict[str, Any]:
    return {
        "card_id": {"S": transaction.card_id},
        "sk": {"S": f"txn#{transaction.transaction_id}"},
    }


def claim_transaction(
    settings: Settings, transaction: Transaction, late: bool, now: float
) -> dict[str, Any] | None:
    """Create the dedupe marker and, unless late, add the transaction to its bucket in the
    same DynamoDB transaction. Returns None when claimed, else the existing marker item."""
    dynamodb = aws_client("dynamodb")
    longest = settings.longest_window_seconds
    marker_put = {
        "TableName": settings.state_table,
        "Item": _marker_key(transaction)
        | {
            "status": {"S": STATUS_LATE if late else STATUS_AGGREGATED},
            "expires_at": {
                "N": str(int(max(transaction.event_epoch, now)) + longest + TTL_MARGIN_SECONDS)
            },
        },
        "ConditionExpression": "attribute_not_exists(sk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    try:
        if late:
            dynamodb.put_item(**marker_put)
        else:
            start = bucket_start(transaction.event_epoch, settings.bucket_seconds)
            bucket_add = {
                "TableName": settings.state_table,
                "Key": {
                    "card_id": {"S": transaction.card_id},
                    "sk": {"S": bucket_sort_key(start)},
                },
                "UpdateExpression": "ADD #count :one, #amount :amount SET expires_at = :expires",
                "ExpressionAttributeNames": {"#count": "count", "#amount": "amount"},
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":amount": {"N": str(transaction.amount)},
                    ":expires": {"N": str(start + longest + TTL_MARGIN_SECONDS)},
                },
            }
            dynamodb.transact_write_items(
                TransactItems=[{"Put": marker_put}, {"Update": bucket_add}]
            )
    except ClientError as error:
        existing = _existing_marker(error)
        if existing is None:
            raise
        return existing or _get_item(settings, transaction.card_id, marker_put["Item"]["sk"]["S"])
    return None


def _existing_marker(error: ClientError) -> dict[str, Any] | None:
    """The marker a failed claim ran into ({} when DynamoDB did not return it), or None when
    the claim failed for another reason."""
    code = _error_code(error)
    if code == "ConditionalCheckFailedException":
        return error.response.get("Item") or {}
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return reasons[0].get("Item") or {}
    return None


def _update_marker(
    settings: Settings, transaction: Transaction, attribute: str, value: Any
) -> None:
    aws_client("dynamodb").update_item(
        TableName=settings.state_table,
        Key=_marker_key(transaction),
        UpdateExpression="SET #attribute = :value",
        ExpressionAttributeNames={"#attribute": attribute},
        ExpressionAttributeValues={":value": value},
    )


def read_buckets(
    settings: Settings, card_id: str, newest_epoch: int
) -> list[tuple[int, int, Decimal]]:
    """The card's buckets inside the longest window as of `newest_epoch`, consistently read
    so the ADD just made is included."""
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


# --- feature store ----------------------------------------------------------------------


def _put_record(feature_group: str, values: Mapping[str, str]) -> None:
    aws_client("sagemaker-featurestore-runtime").put_record(
        FeatureGroupName=feature_group,
        Record=[{"FeatureName": name, "ValueAsString": value} for name, value in values.items()],
    )


def card_features(
    card_id: str, newest_epoch: int, aggregates: Mapping[str, tuple[int, Decimal]]
) -> dict[str, str]:
    """The CARD_FEATURE_GROUP record; sums rounded half-up to cents."""
    values = {"card_id": card_id, "event_time": iso_utc(newest_epoch)}
    for label, (count, amount) in aggregates.items():
        values[f"txn_count_{label}"] = str(count)
        values[f"txn_amount_{label}"] = str(amount.quantize(Decimal("0.01"), ROUND_HALF_UP))
    return values


def write_features(
    settings: Settings,
    transaction: Transaction,
    newest_epoch: int,
    late: bool,
    raw_already_written: bool,
) -> None:
    """Put the raw transaction (unless a previous attempt did) and, unless late, the card's
    aggregates. When the aggregates fail after the raw put succeeded, remember that on the
    marker so the retry does not add a second raw row to the offline store."""
    raw_written_now = False
    try:
        if not raw_already_written:
            _put_record(settings.transactions_feature_group, transaction.feature_values())
            raw_written_now = True
        if not late:
            buckets = read_buckets(settings, transaction.card_id, newest_epoch)
            aggregates = window_aggregates(buckets, newest_epoch, settings.windows)
            _put_record(
                settings.card_feature_group,
                card_features(transaction.card_id, newest_epoch, aggregates),
            )
    except Exception:
        if raw_written_now:
            try:
                _update_marker(settings, transaction, "raw_written", {"BOOL": True})
            except ClientError:
                # Best effort: the retry then writes the raw row again (at-least-once).
                logger.warning("could not record raw_written for %s", transaction.transaction_id)
        raise


# --- records and batch ------------------------------------------------------------------


def process_transaction(settings: Settings, transaction: Transaction, now: float) -> Outcome:
    """Aggregate and write one valid transaction; raises on retriable failures."""
    newest_epoch = advance_newest_event_time(settings, transaction)
    late = is_late(transaction.event_epoch, newest_epoch, settings)
    existing = claim_transaction(settings, transaction, late, now)
    raw_already_written = False
    if existing is not None:
        status = existing["status"]["S"]
        if status == STATUS_DONE:
            return "duplicate"
        # An earlier attempt claimed it but failed before `done`: keep its late decision
        # (the bucket ADD happened or not with the claim) and resume the writes.
        late = status == STATUS_LATE
        raw_already_written = existing.get("raw_written", {}).get("BOOL", False)
    if late:
        logger.warning(
            "late event not aggregated: %s",
            json.dumps(
                {
                    "transaction_id": transaction.transaction_id,
                    "card_id": transaction.card_id,
                    "event_time": transaction.event_time,
                    "newest_event_time": iso_utc(newest_epoch),
                }
            ),
        )
    write_features(settings, transaction, newest_epoch, late, raw_already_written)
    _update_marker(settings, transaction, "status", {"S": STATUS_DONE})
    return "late" if late else "processed"


def dead_letter(settings: Settings, record: Mapping[str, Any], problem: MalformedRecord) -> None:
    """Send a malformed record to the dead-letter queue, data truncated to fit a message."""
    data = record["kinesis"]["data"]
    message: dict[str, Any] = {
        "reason": problem.reason,
        "field": problem.field,
        "data": data[:MAX_DEAD_LETTER_DATA_CHARS],
        "sequenceNumber": record["kinesis"]["sequenceNumber"],
    }
    if len(data) > MAX_DEAD_LETTER_DATA_CHARS:
        message["data_truncated"] = True
    aws_client("sqs").send_message(
        QueueUrl=settings.dead_letter_queue_url, MessageBody=json.dumps(message)
    )


def process_record(settings: Settings, record: Mapping[str, Any], now: float) -> Outcome:
    """One Kinesis record to its outcome; raises on retriable failures."""
    try:
        transaction = parse_transaction(record["kinesis"]["data"], now)
    except MalformedRecord as problem:
        logger.warning(
            "malformed record %s: %s (field %s)",
            record["kinesis"]["sequenceNumber"],
            problem.reason,
            problem.field,
        )
        dead_letter(settings, record, problem)
        return "malformed"
    return process_transaction(settings, transaction, now)


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


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point: returns the partial-batch response for ReportBatchItemFailures."""
    settings = load_settings()
    counts: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        sequence_number = record["kinesis"]["sequenceNumber"]
        if _remaining_millis(context) < RESERVED_MILLIS:
            logger.warning("record %s handed back for retry: out of time", sequence_number)
            outcome: Outcome = "failed"
        else:
            try:
                outcome = process_record(settings, record, current_time())
            except Exception:
                logger.exception("record %s failed; reported for retry", sequence_number)
                outcome = "failed"
        if outcome == "failed":
            failures.append({"itemIdentifier": sequence_number})
        counts[OUTCOME_METRICS[outcome]] += 1
    print(metrics_line(settings, counts, current_time()))
    return {"batchItemFailures": failures}
