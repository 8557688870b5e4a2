"""Recommendations loader of the batch recommender blueprint (AWS Lambda, python3.12, boto3 only).

Loads one generation of top-N recommendations (a batch-transform output in S3) into the
DynamoDB recommendations table so that readers never see a half-loaded generation.

Design: versioned items and a pointer swap
------------------------------------------
Every generation is written next to the ones before it, never over them; readers follow one
pointer item to the generation they serve, and the loader moves that pointer only once the
whole generation is written and counted. Moving it is a single conditional write, atomic for
readers: they see the previous generation, complete, until the swap and the new one, complete,
after it. Nothing a failed load wrote is ever read (no pointer names it); it expires by TTL.
This was chosen over loading into a fresh table per generation (a table per night to create,
grant and delete, and a table name readers must discover) and over overwriting in place (a
reader would see a mix of two generations while the load runs).

Table (partition key ``pk`` S, sort key ``sk`` S, TTL attribute ``expires_at``):

* ``pk = "USER#<user_id>"``, ``sk = "GEN#<generation>"``: ``items`` (L of S, ranked, best
  first), ``scores`` (L of N, same order; only when the output has them), ``model_version``,
  ``generation`` (S), ``expires_at`` (N, epoch seconds: load time + RETENTION_DAYS).
* ``pk = "POINTER"``, ``sk = "CURRENT"``: ``generation``, ``model_version``, ``generated_at``
  (ISO-8601 UTC of the generation id: when it was scored), ``loaded_at`` (ISO-8601 UTC of the
  swap), ``users`` (N, count loaded), ``popular`` (L of S, ranked: for unknown users) and
  ``previous`` (the generation it replaced; absent after the first load), and the manifest's
  ``active_users``, ``pipeline_execution`` and ``data_set`` when it has them. It never
  expires.

RETENTION_DAYS must exceed the longest time a generation may stay current (nightly loads
failing for that long) by a margin, else TTL removes the served generation's items and every
user falls back to the popular items; the freshness alarm must fire well before.

Event (e.g. a SageMaker pipeline Lambda step)
---------------------------------------------
``{"prefix": "s3://<bucket>/<key prefix>/", "generation": "YYYYMMDDTHHMMSSZ",
"model_version": "<model package ARN or version>"}``. Generation ids are UTC timestamps, so
that they sort in time order as strings; one more than an hour ahead of the clock is refused
(it would block every later load). Under the prefix:

* ``manifest.json``: ``{"users": <expected user count, >= 1>, "popular": [item ids, ranked]}``,
  optionally ``"generation"`` and ``"model_version"``, which must then match the event;
  ``"active_users"`` (users scored, at least ``users``: the generation's coverage is
  users / active_users); ``"pipeline_execution"`` and ``"data_set"`` (lineage strings of at
  most 2 KB, kept on the pointer item).
* The output files: every key under the prefix ending in ``.out`` (batch transform's naming)
  or ``.jsonl``, read in key order. JSON Lines, one object per user:
  ``{"user_id": ..., "items": [...], "scores": [...]}``; ``scores`` optional; blank lines
  skipped. User ids match ``USER_ID_PATTERN`` (the lookup API's); item ids are non-empty
  strings of at most ITEM_ID_MAX_BYTES UTF-8 bytes (integers are taken as their decimal
  string, for user ids too); a user has 1 to TOP_N distinct items; scores are finite numbers,
  one per item and non-increasing (items are ranked best first); no other keys.

Per invocation
--------------
1. The pointer is read (consistent). A generation that does not sort after the current one is
   refused before anything is written; the current generation loaded again with the same model
   version is a no-op (``{"loaded": False, ...}``): a redelivered invocation after a success.
2. The manifest is read, then the files are streamed: each line validated, its item built
   (refused beyond DynamoDB's 400 KB item size), 25 items per ``BatchWriteItem``,
   ``UnprocessedItems`` sent again with exponential backoff, at most WRITE_ATTEMPTS times.
3. The users written must be exactly the manifest's count.
4. The pointer is put with a condition: it still names the generation read in step 1 (or is
   still absent) and the new generation sorts after it. A stale or concurrent load therefore
   cannot roll it back, and a pointer moved during the load refuses the swap.

A published generation's outcome line carries its metrics in CloudWatch's embedded metric
format (namespace ``mlkit/Recommendations``, dimension ``Table``): ``GenerationsLoaded``,
``UsersLoaded`` and, with ``active_users``, ``Coverage``.

Any failure raises ``LoadError`` (a subclass says which kind) whose message names the prefix
and what was wrong (``file:line`` for input lines), with the pointer untouched. Bad
configuration raises ``ConfigError`` before any AWS call. Every invocation that gets past
configuration prints one JSON line with its outcome. Returns ``{"loaded": True, "generation",
"model_version", "previous", "users", "generated_at", "loaded_at", "table"}``.

Reusing a generation id for a *different* output after a failed attempt can leave that
attempt's users (those missing from the new output) visible: a generation id must name one
batch output. The loader is serial, 25 users per round trip, so the function's timeout bounds
the generation's size (an estimate, not measured: 1,000 to 2,500 users a second, a million or
two in Lambda's 15 minutes); it keeps every user id in memory to find duplicates.

Environment: ``TABLE_NAME``; ``TOP_N`` (1..TOP_N_MAX, the most items per user and popular
items); ``RETENTION_DAYS`` (1..RETENTION_DAYS_MAX).

IAM: ``s3:ListBucket`` on the bucket (the prefix), ``s3:GetObject`` on the objects under the
prefix (and ``kms:Decrypt`` on the bucket's key if SSE-KMS); ``dynamodb:BatchWriteItem``,
``dynamodb:GetItem`` and ``dynamodb:PutItem`` on the table.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

POINTER_KEY = {"pk": {"S": "POINTER"}, "sk": {"S": "CURRENT"}}
USER_KEY_PREFIX = "USER#"
GENERATION_KEY_PREFIX = "GEN#"
GENERATION_PATTERN = re.compile(r"\d{8}T\d{6}Z")
GENERATION_FORMAT = "%Y%m%dT%H%M%SZ"
# The lookup API accepts exactly these user ids (a path parameter); keep the two in step.
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
ITEM_ID_MAX_BYTES = 1024
MODEL_VERSION_MAX = 2048
TOP_N_MAX = 1000
RETENTION_DAYS_MAX = 365
# A generation id this far ahead of the clock is a mistake that would block later loads.
FUTURE_TOLERANCE = timedelta(hours=1)
MANIFEST = "manifest.json"
LINEAGE_KEYS = ("pipeline_execution", "data_set")
"""Optional manifest strings kept on the pointer: the scoring run and the data it read."""
LINEAGE_MAX_BYTES = 2048
METRICS_NAMESPACE = "mlkit/Recommendations"
"""CloudWatch namespace of the loader's metrics (embedded metric format: log lines CloudWatch
turns into metrics, so the loader needs no cloudwatch:PutMetricData)."""
OUTPUT_SUFFIXES = (".out", ".jsonl")
LINE_KEYS = frozenset({"user_id", "items", "scores"})
MANIFEST_KEYS = frozenset(
    {"users", "popular", "generation", "model_version", "active_users", *LINEAGE_KEYS}
)
# DynamoDB: 400 KB per item (names and values), 25 puts per BatchWriteItem.
MAX_ITEM_BYTES = 400_000  # "400 KB", read as the smaller decimal figure
BATCH_SIZE = 25
WRITE_ATTEMPTS = 8  # the first try and 7 more for UnprocessedItems
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
# Outside these DynamoDB cannot store a number.
NUMBER_MAX = 9.9e125
NUMBER_MIN = 1e-130

_BOTO_CONFIG = BotoConfig(connect_timeout=5, read_timeout=30)


class ConfigError(ValueError):
    """The function's environment is missing or invalid."""


class LoadError(Exception):
    """A load refused or failed; the pointer, and so what readers see, is unchanged."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"load of {where} refused: {message}")
        self.where = where
        self.reason = message


class InvalidInput(LoadError):
    """The event, the manifest or an output line is not what the contract says."""


class StaleGeneration(LoadError):
    """The generation does not sort after the one the pointer names."""


class CountMismatch(LoadError):
    """The users written are not the manifest's count."""


class WriteFailed(LoadError):
    """DynamoDB refused or did not process the generation's items."""


class PointerMoved(LoadError):
    """Another load moved the pointer while this one ran; this one was not published."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    top_n: int
    retention_days: int


def _bounded_int(environ: Mapping[str, str], name: str, maximum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        raise ConfigError(f"{name} is not set")
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ConfigError(f"{name} must be an integer from 1 to {maximum}, got {raw!r}")
    return int(raw)


def load_config(environ: Mapping[str, str]) -> Settings:
    """Read and validate TABLE_NAME, TOP_N and RETENTION_DAYS."""
    table_name = environ.get("TABLE_NAME", "").strip()
    if not table_name:
        raise ConfigError("TABLE_NAME is not set")
    return Settings(
        table_name,
        _bounded_int(environ, "TOP_N", TOP_N_MAX),
        _bounded_int(environ, "RETENTION_DAYS", RETENTION_DAYS_MAX),
    )


def now() -> datetime:
    """The current time (UTC). Module-level so tests can move the clock."""
    return datetime.now(UTC)


def sleep(seconds: float) -> None:
    """Back off between write attempts. Module-level so tests can record it."""
    time.sleep(seconds)


@functools.cache
def _s3() -> Any:
    # Created on first use, not at import: the endpoint comes from the environment.
    return boto3.client("s3", config=_BOTO_CONFIG)


@functools.cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb", config=_BOTO_CONFIG)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Event and input validation (pure)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    bucket: str
    prefix: str
    """Key prefix, ending in "/"."""
    generation: str
    model_version: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def generated_at(self) -> datetime:
        return generation_time(self.generation)


def generation_time(generation: str) -> datetime:
    """The UTC time a generation id names; ValueError if it is not ``YYYYMMDDTHHMMSSZ``."""
    if not GENERATION_PATTERN.fullmatch(generation):
        raise ValueError(f"generation {generation!r} is not of the form YYYYMMDDTHHMMSSZ")
    try:
        return datetime.strptime(generation, GENERATION_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"generation {generation!r} is not a valid UTC time") from None


def parse_event(event: Mapping[str, Any], at: datetime) -> LoadRequest:
    """The validated load request of an invocation event, or InvalidInput."""
    if not isinstance(event, Mapping):
        raise InvalidInput("the event", "the event must be a JSON object")
    prefix = event.get("prefix")
    where = prefix if isinstance(prefix, str) and prefix else "the event"
    unknown = sorted(set(event) - {"prefix", "generation", "model_version"})
    if unknown:
        raise InvalidInput(where, f"unknown event keys {unknown}")
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)", prefix or "")
    if not match:
        raise InvalidInput(where, "prefix must be an s3://<bucket>/<key prefix> URI")
    bucket, key_prefix = match.groups()
    if not key_prefix.endswith("/"):
        key_prefix += "/"  # "out/1" must not take in "out/10/..."
    where = f"s3://{bucket}/{key_prefix}"
    generation = event.get("generation")
    if not isinstance(generation, str):
        raise InvalidInput(where, "generation must be a string YYYYMMDDTHHMMSSZ")
    try:
        scored_at = generation_time(generation)
    except ValueError as exc:
        raise InvalidInput(where, str(exc)) from None
    if scored_at > at + FUTURE_TOLERANCE:
        raise InvalidInput(
            where,
            f"generation {generation} is more than {FUTURE_TOLERANCE} ahead of the clock "
            f"({_iso(at)}); it would block every later load",
        )
    model_version = event.get("model_version")
    if (
        not isinstance(model_version, str)
        or not model_version.strip()
        or len(model_version) > MODEL_VERSION_MAX
        or not model_version.isprintable()
    ):
        raise InvalidInput(
            where, f"model_version must be a printable string of 1 to {MODEL_VERSION_MAX} chars"
        )
    return LoadRequest(bucket, key_prefix, generation, model_version)


@dataclass(frozen=True)
class Recommendation:
    user_id: str
    items: tuple[str, ...]
    scores: tuple[float, ...] | None


def _identifier(value: object, what: str) -> str:
    # Integer ids are common in recommender data; they are stored as their decimal string.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"{what} must be a string or an integer, got {type(value).__name__}")


def parse_item_ids(raw: object, top_n: int, what: str = "items") -> tuple[str, ...]:
    """Ranked, distinct, non-empty item ids, at most ``top_n``; ValueError says what is wrong."""
    if not isinstance(raw, list):
        raise ValueError(f"{what} must be a list of item ids")
    if not raw:
        raise ValueError(f"{what} is empty")
    if len(raw) > top_n:
        raise ValueError(f"{what} has {len(raw)} entries, more than TOP_N={top_n}")
    items = tuple(_identifier(value, f"{what}[{i}]") for i, value in enumerate(raw))
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not item:
            raise ValueError(f"{what}[{index}] is an empty item id")
        if len(item.encode("utf-8")) > ITEM_ID_MAX_BYTES:
            raise ValueError(f"{what}[{index}] is longer than {ITEM_ID_MAX_BYTES} bytes")
        if item in seen:
            raise ValueError(f"{what}[{index}] repeats item {item!r}")
        seen.add(item)
    return items


def _score(value: object, index: int) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number) and (number == 0 or NUMBER_MIN <= abs(number) <= NUMBER_MAX):
            return number
    raise ValueError(f"scores[{index}] must be a finite number DynamoDB can store")


def _reject_constant(name: str) -> None:
    # json accepts NaN/Infinity by default; they are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_line(line: bytes, top_n: int) -> Recommendation:
    """One output line as a Recommendation; ValueError says what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
        )
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(data) - LINE_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}")
    if "user_id" not in data:
        raise ValueError("no user_id")
    user_id = _identifier(data["user_id"], "user_id")
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise ValueError(
            f"user_id {user_id[:80]!r} must be 1 to 128 letters, digits or ._:@- "
            "(what the lookup API accepts)"
        )
    if "items" not in data:
        raise ValueError(f"user {user_id!r} has no items")
    try:
        items = parse_item_ids(data["items"], top_n)
    except ValueError as exc:
        raise ValueError(f"user {user_id!r}: {exc}") from None
    scores = None
    if data.get("scores") is not None:
        raw = data["scores"]
        if not isinstance(raw, list) or len(raw) != len(items):
            raise ValueError(f"user {user_id!r}: scores must be a list with one score per item")
        scores = tuple(_score(value, i) for i, value in enumerate(raw))
        for index in range(1, len(scores)):
            if scores[index] > scores[index - 1]:
                raise ValueError(
                    f"user {user_id!r}: scores[{index}] is higher than scores[{index - 1}]; "
                    "items must be ranked best first"
                )
    return Recommendation(user_id, items, scores)


@dataclass(frozen=True)
class Manifest:
    users: int
    popular: tuple[str, ...]
    active_users: int | None = None
    """Users the generation was scored for (its coverage is users / active_users)."""
    lineage: tuple[tuple[str, str], ...] = ()
    """(key, value) of the LINEAGE_KEYS the manifest has."""


def parse_manifest(raw: bytes, request: LoadRequest, top_n: int) -> Manifest:
    """The validated manifest; ValueError says what is wrong with it."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as exc:  # also UnicodeDecodeError
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(data) - MANIFEST_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}")
    users = data.get("users")
    if not isinstance(users, int) or isinstance(users, bool) or users < 1:
        raise ValueError("users must be the expected user count, an integer >= 1")
    if "popular" not in data:
        raise ValueError("no popular items")
    popular = parse_item_ids(data["popular"], top_n, "popular")
    active = data.get("active_users")
    if active is not None and (
        not isinstance(active, int) or isinstance(active, bool) or active < users
    ):
        raise ValueError("active_users must be an integer of at least users")
    lineage = []
    for name in LINEAGE_KEYS:
        if name in data:
            value = data[name]
            if not isinstance(value, str) or not 0 < len(value.encode()) <= LINEAGE_MAX_BYTES:
                raise ValueError(f"{name} must be a string of 1 to {LINEAGE_MAX_BYTES} bytes")
            lineage.append((name, value))
    for name, expected in (
        ("generation", request.generation),
        ("model_version", request.model_version),
    ):
        if name in data and data[name] != expected:
            raise ValueError(f"{name} {data[name]!r} is not the event's {expected!r}")
    return Manifest(users, popular, active, tuple(lineage))


def user_item(
    recommendation: Recommendation, request: LoadRequest, expires_at: int
) -> dict[str, Any]:
    """The DynamoDB item (low-level format) of one user in a generation."""
    item: dict[str, Any] = {
        "pk": {"S": USER_KEY_PREFIX + recommendation.user_id},
        "sk": {"S": GENERATION_KEY_PREFIX + request.generation},
        "items": {"L": [{"S": item} for item in recommendation.items]},
        "model_version": {"S": request.model_version},
        "generation": {"S": request.generation},
        "expires_at": {"N": str(expires_at)},
    }
    if recommendation.scores is not None:
        item["scores"] = {"L": [{"N": repr(score)} for score in recommendation.scores]}
    return item


def attribute_size(value: Mapping[str, Any]) -> int:
    """An upper bound of a DynamoDB attribute value's size, by AWS's documented rules."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        return 21  # at most 38 significant digits: 1 byte per two, plus 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(element) for element in content)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + attribute_size(element)
            for name, element in content.items()
        )
    if kind in ("NULL", "BOOL"):
        return 1
    raise ValueError(f"unsupported attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An upper bound of a DynamoDB item's size (attribute names and values)."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


# ---------------------------------------------------------------------------------------------
# S3 input
# ---------------------------------------------------------------------------------------------


def _aws_detail(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def read_manifest(request: LoadRequest, top_n: int) -> Manifest:
    key = request.prefix + MANIFEST
    try:
        raw = _s3().get_object(Bucket=request.bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise InvalidInput(request.uri, f"cannot read {MANIFEST} ({_aws_detail(exc)})") from exc
    try:
        return parse_manifest(raw, request, top_n)
    except ValueError as exc:
        raise InvalidInput(request.uri, f"{MANIFEST}: {exc}") from None


def list_outputs(request: LoadRequest) -> list[str]:
    """The output file keys under the prefix, in key order."""
    keys: list[str] = []
    try:
        pages = (
            _s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=request.bucket, Prefix=request.prefix)
        )
        for page in pages:
            keys.extend(
                entry["Key"]
                for entry in page.get("Contents", [])
                if entry["Key"].endswith(OUTPUT_SUFFIXES)
            )
    except (ClientError, BotoCoreError) as exc:
        raise InvalidInput(request.uri, f"cannot list the prefix ({_aws_detail(exc)})") from exc
    if not keys:
        raise InvalidInput(request.uri, f"no {' or '.join(OUTPUT_SUFFIXES)} files")
    return sorted(keys)


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream, split on LF only (a CR before it dropped), so line numbers are
    what an editor shows."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r")
    if pending:
        yield pending.removesuffix(b"\r")


def read_recommendations(
    request: LoadRequest, keys: Sequence[str], top_n: int
) -> Iterator[tuple[int, int, Recommendation]]:
    """(file index, line number, recommendation) for every non-blank line of the files;
    InvalidInput naming file:line for a line that does not parse."""
    for index, key in enumerate(keys):
        name = key.removeprefix(request.prefix)
        try:
            body = _s3().get_object(Bucket=request.bucket, Key=key)["Body"]
            for number, line in enumerate(split_lines(body.iter_chunks(1 << 20)), start=1):
                if not line.strip():
                    continue
                try:
                    recommendation = parse_line(line, top_n)
                except ValueError as exc:
                    raise InvalidInput(request.uri, f"{name}:{number}: {exc}") from None
                yield index, number, recommendation
        except (ClientError, BotoCoreError) as exc:
            raise InvalidInput(request.uri, f"cannot read {name} ({_aws_detail(exc)})") from exc


# ---------------------------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pointer:
    generation: str
    model_version: str


def read_pointer(settings: Settings, where: str) -> Pointer | None:
    """The current pointer (consistent read), or None before the first load."""
    try:
        item = (
            _dynamodb()
            .get_item(
                TableName=settings.table_name,
                Key=POINTER_KEY,
                ConsistentRead=True,
                ProjectionExpression="generation, model_version",
            )
            .get("Item")
        )
    except (ClientError, BotoCoreError) as exc:
        raise WriteFailed(where, f"cannot read the pointer ({_aws_detail(exc)})") from exc
    if item is None:
        return None
    return Pointer(item["generation"]["S"], item["model_version"]["S"])


def write_batch(settings: Settings, items: Sequence[dict[str, Any]], where: str) -> None:
    """Put up to 25 items, sending UnprocessedItems again with backoff; WriteFailed if some
    are still unprocessed after WRITE_ATTEMPTS calls or DynamoDB refuses the call."""
    table = settings.table_name
    pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            sleep(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
        try:
            response = _dynamodb().batch_write_item(RequestItems={table: pending})
        except (ClientError, BotoCoreError) as exc:
            raise WriteFailed(where, f"BatchWriteItem failed ({_aws_detail(exc)})") from exc
        pending = (response.get("UnprocessedItems") or {}).get(table) or []
        if not pending:
            return
    raise WriteFailed(
        where,
        f"{len(pending)} items still unprocessed after {WRITE_ATTEMPTS} BatchWriteItem calls "
        "(table throttled?)",
    )


def swap_pointer(
    settings: Settings,
    request: LoadRequest,
    manifest: Manifest,
    users: int,
    previous: Pointer | None,
    at: datetime,
) -> None:
    """Publish the generation: put the pointer if it still names ``previous`` (or is still
    absent) and the new generation sorts after it; PointerMoved otherwise."""
    item: dict[str, Any] = {
        **POINTER_KEY,
        "generation": {"S": request.generation},
        "model_version": {"S": request.model_version},
        "generated_at": {"S": _iso(request.generated_at)},
        "loaded_at": {"S": _iso(at)},
        "users": {"N": str(users)},
        "popular": {"L": [{"S": item} for item in manifest.popular]},
    }
    if manifest.active_users is not None:
        item["active_users"] = {"N": str(manifest.active_users)}
    item.update({name: {"S": value} for name, value in manifest.lineage})
    condition: dict[str, Any]
    if previous is None:
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        item["previous"] = {"S": previous.generation}
        condition = {
            "ConditionExpression": "#generation = :previous AND #generation < :generation",
            "ExpressionAttributeNames": {"#generation": "generation"},
            "ExpressionAttributeValues": {
                ":previous": {"S": previous.generation},
                ":generation": {"S": request.generation},
            },
        }
    if item_size(item) > MAX_ITEM_BYTES:
        raise InvalidInput(request.uri, "the pointer item would exceed DynamoDB's 400 KB")
    try:
        _dynamodb().put_item(TableName=settings.table_name, Item=item, **condition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise WriteFailed(request.uri, f"pointer swap failed ({_aws_detail(exc)})") from exc
        now_current = read_pointer(settings, request.uri)
        if previous is not None and now_current == previous:
            raise StaleGeneration(
                request.uri,
                f"generation {request.generation} does not sort after the current "
                f"{previous.generation}",
            ) from None
        raise PointerMoved(
            request.uri,
            f"the pointer named {previous.generation if previous else 'no generation'} when "
            f"this load started and now names "
            f"{now_current.generation if now_current else 'no generation'}; generation "
            f"{request.generation} was written but not published",
        ) from None
    except BotoCoreError as exc:
        raise WriteFailed(request.uri, f"pointer swap failed ({_aws_detail(exc)})") from exc


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


def load(settings: Settings, request: LoadRequest, at: datetime) -> dict[str, Any]:
    """Write the generation and swap the pointer to it; see the module docstring."""
    where = request.uri
    pointer = read_pointer(settings, where)
    if pointer is not None and request.generation <= pointer.generation:
        if request.generation == pointer.generation:
            if request.model_version == pointer.model_version:
                return {
                    "loaded": False,
                    "reason": f"generation {request.generation} is already current",
                    "generation": request.generation,
                    "model_version": request.model_version,
                }
            raise StaleGeneration(
                where,
                f"generation {request.generation} is already current with model version "
                f"{pointer.model_version!r}, not {request.model_version!r}",
            )
        raise StaleGeneration(
            where,
            f"generation {request.generation} does not sort after the current {pointer.generation}",
        )
    manifest = read_manifest(request, settings.top_n)
    keys = list_outputs(request)
    names = [key.removeprefix(request.prefix) for key in keys]
    expires_at = int((at + timedelta(days=settings.retention_days)).timestamp())

    # user id -> where it was first seen, packed (file index << 32 | line) to keep memory low.
    seen: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    written = 0
    for file_index, line, recommendation in read_recommendations(request, keys, settings.top_n):
        first = seen.get(recommendation.user_id)
        if first is not None:
            raise InvalidInput(
                where,
                f"{names[file_index]}:{line}: duplicate user {recommendation.user_id!r} "
                f"(first at {names[first >> 32]}:{first & 0xFFFFFFFF})",
            )
        seen[recommendation.user_id] = file_index << 32 | line
        item = user_item(recommendation, request, expires_at)
        if item_size(item) > MAX_ITEM_BYTES:
            raise InvalidInput(
                where,
                f"{names[file_index]}:{line}: the item of user {recommendation.user_id!r} "
                "would exceed DynamoDB's 400 KB item size",
            )
        batch.append(item)
        if len(batch) == BATCH_SIZE:
            write_batch(settings, batch, where)
            written += len(batch)
            batch = []
    if batch:
        write_batch(settings, batch, where)
        written += len(batch)

    if written != manifest.users:
        raise CountMismatch(
            where,
            f"wrote {written} users but {MANIFEST} expects {manifest.users}; "
            f"generation {request.generation} was not published",
        )
    swap_pointer(settings, request, manifest, written, pointer, at)
    active = {} if manifest.active_users is None else {"active_users": manifest.active_users}
    return active | {
        "loaded": True,
        "generation": request.generation,
        "model_version": request.model_version,
        "previous": pointer.generation if pointer else None,
        "users": written,
        "generated_at": _iso(request.generated_at),
        "loaded_at": _iso(at),
        "table": settings.table_name,
    }


def load_metrics(table: str, users: int, active_users: int | None, at: datetime) -> dict[str, Any]:
    """The metrics of a published generation, in CloudWatch's embedded metric format (fields
    of the outcome's log line), per table: GenerationsLoaded (1; the freshness alarm fires
    when none arrives for its window), UsersLoaded and, when the manifest counts the users
    scored, Coverage (users loaded over users scored, 0 to 1)."""
    metrics = [
        {"Name": "GenerationsLoaded", "Unit": "Count"},
        {"Name": "UsersLoaded", "Unit": "Count"},
    ]
    values: dict[str, Any] = {"GenerationsLoaded": 1, "UsersLoaded": users}
    if active_users:
        metrics.append({"Name": "Coverage", "Unit": "None"})
        values["Coverage"] = users / active_users
    return {
        "_aws": {
            "Timestamp": int(at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": METRICS_NAMESPACE, "Dimensions": [["Table"]], "Metrics": metrics}
            ],
        },
        "Table": table,
        **values,
    }


def _log(record: Mapping[str, Any]) -> None:
    # Lambda sends stdout to CloudWatch Logs; one JSON object per line for Logs Insights.
    print(json.dumps(record, sort_keys=True), flush=True)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Load one generation and publish it; raises LoadError on any failure (see above)."""
    settings = load_config(os.environ)
    started = time.perf_counter()
    at = now()
    record: dict[str, Any] = {
        "loader": "recommendations",
        "table": settings.table_name,
        "prefix": event.get("prefix") if isinstance(event, Mapping) else None,
        "generation": event.get("generation") if isinstance(event, Mapping) else None,
    }
    try:
        result = load(settings, parse_event(event, at), at)
    except Exception as exc:  # LoadError, or a bug: either way one line says it failed
        _log(
            record
            | {
                "loaded": False,
                "error": type(exc).__name__,
                "reason": str(exc),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        raise
    metrics = (
        load_metrics(settings.table_name, result["users"], result.get("active_users"), at)
        if result["loaded"]
        else {}
    )
    _log(record | result | metrics | {"seconds": round(time.perf_counter() - started, 3)})
    return result
