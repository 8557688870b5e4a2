"""Recommendations lookup API of the batch recommender blueprint (AWS Lambda, python3.12,
boto3 only).

Reads what the loader (``functions/recommendations/loader``) published: the pointer item
(``pk = "POINTER"``, ``sk = "CURRENT"``) names the current generation, and each user's item
of it is ``pk = "USER#<user_id>"``, ``sk = "GEN#<generation>"``. The loader's module docstring
documents the table.

* Trigger: API Gateway HTTP API, payload format 2.0, route ``GET /recommendations/{user_id}``.
  Entry point ``handler(event, context)``.
* Environment: ``TABLE_NAME``; ``TOP_N`` (1..1000, the loader's; the largest ``limit``);
  ``POINTER_CACHE_SECONDS`` (0..3600, default 60): how long an execution environment reuses
  the pointer it read, so a swap is served everywhere within that time (0: read every time).
  A pointer is only cached once a generation exists, so the first load is seen at once.
* ``user_id`` must be 1 to 128 letters, digits or ``._:@-`` (the loader accepts no other),
  else 400. Optional query parameter ``limit``: an integer from 1 to TOP_N, else 400; the
  answer has at most that many items.
* 200 ``{"user_id", "items", "model_version", "generation", "generated_at", "source",
  "requestId"}``: ``source`` is ``personal`` for the user's own items in the current
  generation, ``popular`` (the generation's popular items) for a user without any.
  ``generated_at`` is when the generation was scored (ISO-8601 UTC).
* 503 ``{"error", "requestId"}`` before any generation was loaded; 502 when DynamoDB fails;
  500 for anything else (never with details). Reads are strongly consistent.
* Every request prints exactly one JSON audit line: requestId, status, error, source,
  generation, modelVersion, items (count), latencyMs, and on 5xx a detail. User ids are
  deliberately not logged.

IAM: ``dynamodb:GetItem`` on the table.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

POINTER_KEY = {"pk": {"S": "POINTER"}, "sk": {"S": "CURRENT"}}
USER_KEY_PREFIX = "USER#"
GENERATION_KEY_PREFIX = "GEN#"
# The loader accepts exactly these user ids; keep the two in step.
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
TOP_N_MAX = 1000
POINTER_CACHE_MAX = 3600
DEFAULT_POINTER_CACHE_SECONDS = 60

# Latency bound: fail fast on a stuck connection rather than hold the API request open.
_BOTO_CONFIG = BotoConfig(connect_timeout=2, read_timeout=5)


class ConfigError(ValueError):
    """The function's environment is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    top_n: int
    pointer_cache_seconds: int


def load_config(environ: Mapping[str, str]) -> Settings:
    """Read and validate TABLE_NAME, TOP_N and POINTER_CACHE_SECONDS."""
    table_name = environ.get("TABLE_NAME", "").strip()
    if not table_name:
        raise ConfigError("TABLE_NAME is not set")
    raw_top_n = environ.get("TOP_N", "").strip()
    if not raw_top_n.isdigit() or not 1 <= int(raw_top_n) <= TOP_N_MAX:
        raise ConfigError(f"TOP_N must be an integer from 1 to {TOP_N_MAX}, got {raw_top_n!r}")
    raw_cache = environ.get("POINTER_CACHE_SECONDS", "").strip()
    cache_seconds = DEFAULT_POINTER_CACHE_SECONDS
    if raw_cache:
        if not raw_cache.isdigit() or int(raw_cache) > POINTER_CACHE_MAX:
            raise ConfigError(
                f"POINTER_CACHE_SECONDS must be an integer from 0 to {POINTER_CACHE_MAX}, "
                f"got {raw_cache!r}"
            )
        cache_seconds = int(raw_cache)
    return Settings(table_name, int(raw_top_n), cache_seconds)


# Cached per execution environment, i.e. paid once at cold start.
@functools.cache
def _settings() -> Settings:
    return load_config(os.environ)


@functools.cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb", config=_BOTO_CONFIG)


def clock() -> float:
    """Seconds on a monotonic clock. Module-level so tests can move it."""
    return time.monotonic()


@dataclass(frozen=True)
class Pointer:
    generation: str
    model_version: str
    generated_at: str
    popular: tuple[str, ...]


# The pointer last read in this execution environment and the clock() it was read at.
_pointer_cache: dict[str, Any] = {}


def clear_pointer_cache() -> None:
    _pointer_cache.clear()


class HttpError(Exception):
    """An outcome other than 200: status, the caller-facing message, and a detail for the log."""

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def _strings(value: Mapping[str, Any]) -> tuple[str, ...]:
    """A DynamoDB list of strings; KeyError/TypeError (a 500) for anything else."""
    return tuple(element["S"] for element in value["L"])


def parse_pointer(item: Mapping[str, Any]) -> Pointer:
    return Pointer(
        item["generation"]["S"],
        item["model_version"]["S"],
        item["generated_at"]["S"],
        _strings(item["popular"]),
    )


def _get_item(settings: Settings, key: dict[str, Any], names: tuple[str, ...]) -> dict | None:
    """The item's ``names`` attributes (strongly consistent), None if there is no item; every
    name is a placeholder, as ``items`` is a DynamoDB reserved word."""
    try:
        return (
            _dynamodb()
            .get_item(
                TableName=settings.table_name,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression=", ".join(f"#a{i}" for i in range(len(names))),
                ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(names)},
            )
            .get("Item")
        )
    except (ClientError, BotoCoreError) as exc:
        raise HttpError(502, "recommendations unavailable", detail=repr(exc)) from None


def current_pointer(settings: Settings) -> Pointer | None:
    """The pointer, from this environment's cache while it is younger than
    POINTER_CACHE_SECONDS, else read again; None before the first load (not cached)."""
    at = clock()
    cached = _pointer_cache.get("pointer")
    if cached is not None and at - _pointer_cache["read_at"] < settings.pointer_cache_seconds:
        return cached
    item = _get_item(
        settings, POINTER_KEY, ("generation", "model_version", "generated_at", "popular")
    )
    if item is None:
        return None
    pointer = parse_pointer(item)
    _pointer_cache.update(pointer=pointer, read_at=at)
    return pointer


def parse_user_id(event: Mapping[str, Any]) -> str:
    user_id = (event.get("pathParameters") or {}).get("user_id")
    if not isinstance(user_id, str) or not USER_ID_PATTERN.fullmatch(user_id):
        raise HttpError(400, "user_id must be 1 to 128 letters, digits or ._:@-")
    return user_id


def parse_limit(event: Mapping[str, Any], top_n: int) -> int:
    raw = (event.get("queryStringParameters") or {}).get("limit")
    if raw is None:
        return top_n
    # HTTP API joins a repeated parameter with commas: "2,3" is refused like any non-integer.
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit():
        raise HttpError(400, f"limit must be an integer from 1 to {top_n}")
    limit = int(raw)
    if not 1 <= limit <= top_n:
        raise HttpError(400, f"limit must be an integer from 1 to {top_n}")
    return limit


def recommend(settings: Settings, user_id: str, limit: int) -> dict[str, Any]:
    """The 200 body (without requestId), or HttpError."""
    pointer = current_pointer(settings)
    if pointer is None:
        raise HttpError(503, "no recommendations have been loaded yet")
    item = _get_item(
        settings,
        {
            "pk": {"S": USER_KEY_PREFIX + user_id},
            "sk": {"S": GENERATION_KEY_PREFIX + pointer.generation},
        },
        ("items", "model_version"),
    )
    if item is None:
        items, model_version, source = pointer.popular, pointer.model_version, "popular"
    else:
        items, model_version = _strings(item["items"]), item["model_version"]["S"]
        source = "personal"
    return {
        "user_id": user_id,
        "items": list(items[:limit]),
        "model_version": model_version,
        "generation": pointer.generation,
        "generated_at": pointer.generated_at,
        "source": source,
    }


def _request_id(event: Mapping[str, Any], context: Any) -> str | None:
    request_id = (event.get("requestContext") or {}).get("requestId")
    # Direct invocations (no API Gateway) still get a traceable id.
    return request_id or getattr(context, "aws_request_id", None)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0) entry point; see the module docstring."""
    started = time.perf_counter()
    settings = _settings()  # raises on a bad deployment: no request can be served
    request_id = _request_id(event, context)
    audit: dict[str, Any] = {
        "requestId": request_id,
        "status": None,
        "error": None,
        "source": None,
        "generation": None,
        "modelVersion": None,
        "items": None,
        "latencyMs": None,
    }
    try:
        user_id = parse_user_id(event)
        limit = parse_limit(event, settings.top_n)
        result = recommend(settings, user_id, limit)
        status = 200
        body: dict[str, Any] = result | {"requestId": request_id}
        audit.update(
            source=result["source"],
            generation=result["generation"],
            modelVersion=result["model_version"],
            items=len(result["items"]),
        )
    except HttpError as exc:
        status = exc.status
        body = {"error": exc.message, "requestId": request_id}
        audit["error"] = exc.message
        if exc.detail is not None:
            audit["detail"] = exc.detail
    except Exception:
        # A bug or a malformed item must still answer JSON, without internals, and be logged.
        status = 500
        body = {"error": "internal error", "requestId": request_id}
        audit["error"] = "internal error"
        audit["detail"] = traceback.format_exc()
    audit["status"] = status
    audit["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
    print(json.dumps(audit), flush=True)
    return _response(status, body)
