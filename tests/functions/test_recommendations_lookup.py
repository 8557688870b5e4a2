"""The recommendations lookup API against moto's DynamoDB on 127.0.0.1, on tables written by
the loader itself (and, for malformed data, by hand), in the environment of
test_recommendations_loader.py. The pointer cache runs on the module's ``clock``, moved by the
tests instead of sleeping."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.recommendations.loader import handler as loader
from functions.recommendations.lookup import handler as lookup
from tests.functions.test_recommendations_loader import (
    BUCKET,
    G1,
    G2,
    MODEL_1,
    MODEL_2,
    NOW,
    POPULAR,
    TABLE,
    TOP_N,
    Store,
    clients,  # noqa: F401 - the fixture
    env,  # noqa: F401 - the fixture
    put_output,
    rec,
    store,  # noqa: F401 - the fixture
    throttled,
    users,
    wrap_batch_writes,
)

CACHE_SECONDS = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reader(
    env: None,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Clock]:
    """The lookup in a fresh execution environment (settings, client, pointer cache) with the
    test's environment (tests that read add ``table``); yields its clock."""
    lookup._settings.cache_clear()
    lookup._dynamodb.cache_clear()
    lookup.clear_pointer_cache()
    clock = Clock()
    monkeypatch.setattr(lookup, "clock", clock)
    yield clock
    lookup._settings.cache_clear()
    lookup._dynamodb.cache_clear()
    lookup.clear_pointer_cache()


def api_event(user_id: str | None, limit: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event for GET /recommendations/{user_id}."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "GET /recommendations/{user_id}",
        "rawPath": f"/recommendations/{user_id}",
        "rawQueryString": "" if limit is None else f"limit={limit}",
        "headers": {},
        "requestContext": {
            "requestId": "req-1",
            "http": {"method": "GET", "path": f"/recommendations/{user_id}"},
        },
        "isBase64Encoded": False,
    }
    if user_id is not None:
        event["pathParameters"] = {"user_id": user_id}
    if limit is not None:
        event["queryStringParameters"] = {"limit": limit}
    return event


def call(
    capsys: pytest.CaptureFixture[str], user_id: str | None, limit: str | None = None
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Invoke the handler; return status, decoded body and the single audit line."""
    response = lookup.handler(api_event(user_id, limit), None)
    assert response["headers"] == {"Content-Type": "application/json"}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    audit = json.loads(lines[0])
    assert isinstance(audit.pop("latencyMs"), float)
    return response["statusCode"], json.loads(response["body"]), audit


@pytest.fixture
def table(store: Store) -> Store:  # noqa: F811 - the fixture
    """The bucket and the table, empty."""
    return store


def load(table: Store, generation: str, lines: list[dict[str, Any]], **kwargs: Any) -> None:
    """Load a generation with the loader, its log line kept out of the lookup's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        loader.handler(put_output(table.s3, generation, lines, **kwargs), None)


def seed(table: Store, generation: str, lines: list[dict[str, Any]]) -> None:
    """Write a generation with the loader's own functions but without S3 (three calls
    instead of a whole load's ten, where the test is about reading)."""
    request = loader.LoadRequest(BUCKET, f"batch/{generation}/", generation, MODEL_1)
    settings = loader.load_config(os.environ)
    items = [
        loader.user_item(loader.parse_line(json.dumps(line).encode(), TOP_N), request, 2**31)
        for line in lines
    ]
    loader.write_batch(settings, items, request.uri)
    previous = loader.read_pointer(settings, request.uri)
    manifest = loader.Manifest(len(items), tuple(POPULAR))
    loader.swap_pointer(settings, request, manifest, len(items), previous, NOW)


FIRST = [rec("u1", ["a", "b", "c", "d"], [0.9, 0.8, 0.7, 0.6]), rec("u2", ["e"])]


def test_a_known_user_gets_their_items(table, reader, capsys) -> None:
    seed(table, G1, FIRST)

    status, body, audit = call(capsys, "u1")

    assert status == 200
    assert body == {
        "user_id": "u1",
        "items": ["a", "b", "c", "d"],
        "model_version": MODEL_1,
        "generation": G1,
        "generated_at": "2026-03-01T02:00:00Z",
        "source": "personal",
        "requestId": "req-1",
    }
    assert audit == {
        "requestId": "req-1",
        "status": 200,
        "error": None,
        "source": "personal",
        "generation": G1,
        "modelVersion": MODEL_1,
        "items": 4,
    }


def test_an_unknown_user_gets_the_popular_items(table, reader, capsys) -> None:
    seed(table, G1, FIRST)

    status, body, audit = call(capsys, "newcomer")

    assert status == 200
    assert body["items"] == POPULAR
    assert body["source"] == "popular"
    assert body["model_version"] == MODEL_1
    assert body["generation"] == G1
    assert audit["source"] == "popular"


@pytest.mark.parametrize(
    ("user", "limit", "expected"),
    [("u1", "2", ["a", "b"]), ("u1", str(TOP_N), ["a", "b", "c", "d"]), ("x", "1", ["i-top1"])],
)
def test_limit_cuts_the_ranked_items(table, reader, capsys, user, limit, expected) -> None:
    seed(table, G1, FIRST)

    status, body, _ = call(capsys, user, limit)

    assert status == 200
    assert body["items"] == expected


@pytest.mark.parametrize("limit", ["0", str(TOP_N + 1), "abc", "-1", "2,3", " 2", "1.5", "²"])
def test_a_bad_limit_is_400(reader, capsys, limit) -> None:
    status, body, audit = call(capsys, "u1", limit)

    assert status == 400
    assert body == {"error": f"limit must be an integer from 1 to {TOP_N}", "requestId": "req-1"}
    assert audit["error"] == body["error"]


@pytest.mark.parametrize("user", [None, "", "u 1", "a/b", "ü", "u#1", "x" * 129, "%2F"])
def test_a_bad_user_id_is_400(reader, capsys, user) -> None:
    status, body, _ = call(capsys, user)

    assert status == 400
    assert body == {
        "error": "user_id must be 1 to 128 letters, digits or ._:@-",
        "requestId": "req-1",
    }


def test_before_any_load_the_answer_is_503_and_the_first_load_is_seen_at_once(
    table, reader, capsys
) -> None:
    status, body, _ = call(capsys, "u1")
    assert status == 503
    assert body == {"error": "no recommendations have been loaded yet", "requestId": "req-1"}

    load(table, G1, FIRST)  # the clock has not moved: absence is never cached

    status, body, _ = call(capsys, "u1")
    assert (status, body["generation"]) == (200, G1)


def test_readers_get_the_new_generation_once_the_cache_expires(table, reader, capsys) -> None:
    load(table, G1, FIRST)
    assert call(capsys, "u1")[1]["generation"] == G1
    load(table, G2, [rec("u1", ["z", "y"])], model_version=MODEL_2)

    reader.now += CACHE_SECONDS - 0.5
    _, body, _ = call(capsys, "u1")
    assert (body["generation"], body["items"]) == (G1, ["a", "b", "c", "d"])  # cached pointer

    reader.now += 0.5
    _, body, _ = call(capsys, "u1")
    assert body == {
        "user_id": "u1",
        "items": ["z", "y"],
        "model_version": MODEL_2,
        "generation": G2,
        "generated_at": "2026-03-02T02:00:00Z",
        "source": "personal",
        "requestId": "req-1",
    }
    _, body, _ = call(capsys, "u2")  # in G1 but not in G2: popular now
    assert (body["source"], body["model_version"]) == ("popular", MODEL_2)


def test_without_a_cache_every_request_reads_the_pointer(
    table, reader, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("POINTER_CACHE_SECONDS", "0")
    load(table, G1, FIRST)
    assert call(capsys, "u1")[1]["generation"] == G1
    load(table, G2, [rec("u1", ["z"])])

    assert call(capsys, "u1")[1]["generation"] == G2


def test_an_interrupted_load_leaves_readers_on_the_previous_generation(
    table, reader, capsys, monkeypatch
) -> None:
    load(table, G1, FIRST)

    def fail_second(real: Callable[..., Any], number: int, request_items: dict) -> Any:
        if number == 2:
            raise throttled()
        return real(RequestItems=request_items)

    monkeypatch.setattr(loader, "BATCH_SIZE", 5)
    wrap_batch_writes(monkeypatch, fail_second)
    # u1 is in the first batch of G2, which is written before the failure.
    second = [rec("u1", ["new"]), *users(10, "v")]
    with pytest.raises(loader.WriteFailed):
        load(table, G2, second, model_version=MODEL_2)

    reader.now += 10 * CACHE_SECONDS
    _, body, _ = call(capsys, "u1")
    assert (body["generation"], body["items"], body["model_version"]) == (
        G1,
        ["a", "b", "c", "d"],
        MODEL_1,
    )


def test_a_store_error_is_502_without_details(table, reader, capsys, monkeypatch) -> None:
    seed(table, G1, FIRST)

    def unavailable(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "secret internals"}}, "GetItem"
        )

    monkeypatch.setattr(lookup._dynamodb(), "get_item", unavailable)

    status, body, audit = call(capsys, "u1")

    assert status == 502
    assert body == {"error": "recommendations unavailable", "requestId": "req-1"}
    assert "secret internals" in audit["detail"]


def test_a_malformed_item_is_500_without_details(table, reader, capsys) -> None:
    seed(table, G1, FIRST)
    table.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "USER#bad"},
            "sk": {"S": f"GEN#{G1}"},
            "items": {"S": "not a list"},
            "model_version": {"S": MODEL_1},
        },
    )

    status, body, audit = call(capsys, "bad")

    assert status == 500
    assert body == {"error": "internal error", "requestId": "req-1"}
    assert "KeyError" in audit["detail"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TOP_N": "5"}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": TABLE, "TOP_N": "x"}, "TOP_N must be an integer from 1 to 1000"),
        ({"TABLE_NAME": TABLE, "TOP_N": "5", "POINTER_CACHE_SECONDS": "3601"}, "0 to 3600"),
        ({"TABLE_NAME": TABLE, "TOP_N": "5", "POINTER_CACHE_SECONDS": "-1"}, "0 to 3600"),
    ],
)
def test_bad_configuration_is_refused(environ, message) -> None:
    with pytest.raises(lookup.ConfigError, match=message):
        lookup.load_config(environ)


def test_the_default_pointer_cache_is_a_minute() -> None:
    assert lookup.load_config({"TABLE_NAME": TABLE, "TOP_N": "5"}).pointer_cache_seconds == 60


def test_loader_and_lookup_agree_on_keys_and_user_ids() -> None:
    assert lookup.USER_ID_PATTERN.pattern == loader.USER_ID_PATTERN.pattern
    assert lookup.POINTER_KEY == loader.POINTER_KEY
    assert (lookup.USER_KEY_PREFIX, lookup.GENERATION_KEY_PREFIX) == (
        loader.USER_KEY_PREFIX,
        loader.GENERATION_KEY_PREFIX,
    )
    assert lookup.TOP_N_MAX == loader.TOP_N_MAX
