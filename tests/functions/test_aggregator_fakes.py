"""Test doubles for the aggregator, attached to real botocore clients through botocore's
events, so every call is still validated against the real API model (parameter names, types,
list bounds) and counted by the same `before-call` counter as calls that reach moto.

- `CallCounter` counts every API call a client makes (`before-call`, registered first, so
  stubbed and faked calls count too).
- `FakeAws` is an in-memory FAKE of exactly the calls the aggregator makes: DynamoDB
  BatchGetItem / TransactWriteItems (the condition and update expressions the handler writes,
  nothing more: anything else raises NotImplementedError), featurestore-runtime PutRecord and
  BatchWriteRecord (which moto lacks; BatchWriteRecord writes every entry, unless
  `refuse_batch_entries` names entries to answer as unprocessed or as errors) and SQS
  SendMessageBatch. It enforces the DynamoDB limits the handler
  relies on (100 keys, 100 actions, one action per item, 400 KB items). moto-backed tests in
  test_aggregator.py, test_aggregator_calls.py and test_aggregator_properties.py cover the
  real DynamoDB and SQS call shapes.
- `FaultInjector` makes chosen calls (numbered over all attached clients) fail: an error
  before the call takes effect, an error after it took effect (a lost response), or a crash
  (a BaseException, like the runtime ending the invocation) before or after. It works the same
  on faked calls and on calls that reach moto.

No tests here.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from botocore.awsrequest import AWSResponse

from functions.aggregator import handler as aggregator

Key = tuple[str, str]


class Crash(BaseException):
    """The runtime ending the invocation (timeout, out of memory) in the middle of a call."""


class CallCounter:
    """Counts API calls per (service, operation) on the clients it is attached to."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[(model.service_model.service_name, model.name)] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def total(self, service: str | None = None, operation: str | None = None) -> int:
        return sum(
            count
            for (svc, op), count in self.calls.items()
            if service in (None, svc) and operation in (None, op)
        )


@dataclass(frozen=True)
class Fault:
    """What happens to one call: `when` is "before" (nothing applied), "after" (applied, the
    response lost) or "crash-before" / "crash-after"."""

    when: str
    code: str = "InternalServerError"

    @property
    def crash(self) -> bool:
        return self.when.startswith("crash")

    @property
    def applied(self) -> bool:
        return self.when.endswith("after")


@dataclass
class FakeAws:
    """In-memory FAKE of the aggregator's DynamoDB, Feature Store and SQS calls."""

    items: dict[Key, dict[str, Any]] = field(default_factory=dict)
    records: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """Feature-store puts that took effect: (feature group, feature name -> value)."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    latency: float = 0.0
    """Seconds to sleep per call (benchmarks)."""
    refuse_batch_entries: Callable[[int, int], str | None] | None = None
    """(BatchWriteRecord call number from 0, entry position) -> None (written),
    "unprocessed" or an error code; default: every entry written."""
    batch_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.*.*", _remember_params)
        client.meta.events.register("before-call.*.*", self._serve)

    def reset(self) -> None:
        with self._lock:
            self.items.clear()
            self.records.clear()
            self.messages.clear()
            self.batch_calls = 0

    def _serve(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any]:
        if self.latency:
            threading.Event().wait(self.latency)
        with self._lock:
            try:
                response = getattr(self, f"_{model.name}")(context["api_params"])
            except _Error as error:
                return _error_response(error.code, error.message, error.extra)
        return AWSResponse("https://fake", 200, {}, None), response

    # --- DynamoDB -------------------------------------------------------------------

    def _BatchGetItem(self, params: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = params["RequestItems"].items()
        keys = [_key(key) for key in request["Keys"]]
        if len(keys) > 100:
            raise _Error("ValidationException", "Too many items requested")
        if len(set(keys)) != len(keys):
            raise _Error("ValidationException", "Provided list of item keys contains duplicates")
        found = [copy.deepcopy(self.items[key]) for key in keys if key in self.items]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}

    def _TransactWriteItems(self, params: dict[str, Any]) -> dict[str, Any]:
        actions = params["TransactItems"]
        if len(actions) > 100:
            raise _Error("ValidationException", "Member must have length less than or equal to 100")
        targets = [_action_key(action) for action in actions]
        if len(set(targets)) != len(targets):
            raise _Error(
                "ValidationException",
                "Transaction request cannot include multiple operations on one item",
            )
        reasons: list[dict[str, Any]] = []
        for action, key in zip(actions, targets, strict=True):
            ((kind, body),) = action.items()
            current = self.items.get(key)
            if "ConditionExpression" in body and not _condition(body, current):
                reason: dict[str, Any] = {
                    "Code": "ConditionalCheckFailed",
                    "Message": "The conditional request failed",
                }
                if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    reason["Item"] = copy.deepcopy(current)
                reasons.append(reason)
            else:
                reasons.append({"Code": "None"})
        if any(reason["Code"] != "None" for reason in reasons):
            raise _Error(
                "TransactionCanceledException",
                "Transaction cancelled",
                {"CancellationReasons": reasons},
            )
        updated = {}
        for action, key in zip(actions, targets, strict=True):
            ((kind, body),) = action.items()
            if kind == "Put":
                item = copy.deepcopy(body["Item"])
            elif kind == "Update":
                item = _update(body, copy.deepcopy(self.items.get(key) or dict(body["Key"])))
            else:
                raise NotImplementedError(kind)
            if aggregator.item_size(item) > 400_000:
                raise _Error("ValidationException", "Item size has exceeded the maximum")
            updated[key] = item
        self.items.update(updated)
        return {}

    # --- Feature Store and SQS ----------------------------------------------------------

    def _PutRecord(self, params: dict[str, Any]) -> dict[str, Any]:
        values = {value["FeatureName"]: value["ValueAsString"] for value in params["Record"]}
        self.records.append((params["FeatureGroupName"], values))
        return {}

    def _BatchWriteRecord(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params["Entries"]
        if len(entries) > aggregator.MAX_BATCH_WRITE_ENTRIES:
            raise _Error("ValidationError", "Member must have length less than or equal to 25")
        call, self.batch_calls = self.batch_calls, self.batch_calls + 1
        errors, unprocessed = [], []
        for position, entry in enumerate(entries):
            values = {value["FeatureName"]: value["ValueAsString"] for value in entry["Record"]}
            refuse = self.refuse_batch_entries
            refusal = refuse(call, position) if refuse else None
            if refusal is None:
                self.records.append((entry["FeatureGroupName"], values))
            elif refusal == "unprocessed":
                unprocessed.append(copy.deepcopy(entry))
            else:
                errors.append(
                    {"Entry": copy.deepcopy(entry), "ErrorCode": refusal, "ErrorMessage": "no"}
                )
        return {"Errors": errors, "UnprocessedEntries": unprocessed}

    def _SendMessageBatch(self, params: dict[str, Any]) -> dict[str, Any]:
        successful = []
        for entry in params["Entries"]:
            self.messages.append(json.loads(entry["MessageBody"]))
            successful.append({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": "x"})
        return {"Successful": successful, "Failed": []}

    # --- views ------------------------------------------------------------------------

    def puts(self, group: str) -> list[dict[str, str]]:
        return [values for name, values in self.records if name == group]

    def latest_card_records(self, group: str) -> dict[str, dict[str, str]]:
        """The last put per card: what the online store holds."""
        return {values["card_id"]: values for values in self.puts(group)}

    def state(self, card_id: str) -> aggregator.CardState | None:
        item = self.items.get((card_id, aggregator.STATE_SORT_KEY))
        return None if item is None else aggregator.parse_state(item)


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # Read only; the fake copies what it stores.
    context["api_params"] = params


def operation_label(model: Any, params: dict[str, Any]) -> str:
    """The operation; TransactWriteItems as `Commit` (the handler's Puts) or `Confirm` (its
    Updates after the feature-store writes)."""
    if model.name == "TransactWriteItems":
        kinds = {kind for action in params["TransactItems"] for kind in action}
        return "Confirm" if kinds == {"Update"} else "Commit"
    return str(model.name)


@dataclass
class FaultInjector:
    """Faults for chosen calls, numbered from 0 over every attached client's calls."""

    faults: dict[int, Fault] = field(default_factory=dict)
    injected: list[tuple[str, Fault]] = field(default_factory=list)
    """(operation label, fault) of every fault injected so far."""
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        # Registered before a fake's or Stubber's before-call handler, so it acts first.
        client.meta.events.register_first("before-parameter-build.*.*", _remember_params)
        client.meta.events.register_first("before-call.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    def reset(self, faults: dict[int, Fault] | None = None) -> None:
        with self._lock:
            self.faults = dict(faults or {})
            self.injected = []
            self.calls = 0

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        with self._lock:
            fault = self.faults.get(self.calls)
            self.calls += 1
            if fault is not None:
                self.injected.append((operation_label(model, context["api_params"]), fault))
        context["fault"] = fault
        if fault is None or fault.applied:
            return None
        if fault.crash:
            raise Crash(f"{fault.when} {model.name}")
        return _error_response(fault.code, f"injected before {model.name}")

    @staticmethod
    def _after(
        http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        fault = context.get("fault")
        if fault is None or not fault.applied or http_response.status_code >= 300:
            return
        if fault.crash:
            raise Crash(f"{fault.when} {model.name}")
        http_response.status_code = 500
        parsed["Error"] = {"Code": fault.code, "Message": f"injected after {model.name}"}


class _Error(Exception):
    def __init__(self, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}


def _error_response(
    code: str, message: str, extra: dict[str, Any] | None = None
) -> tuple[AWSResponse, Any]:
    status = 500 if code in {"InternalServerError", "ServiceUnavailable"} else 400
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **(extra or {}),
    }
    return AWSResponse("https://fake", status, {}, None), parsed


def _key(key: dict[str, Any]) -> Key:
    return key["card_id"]["S"], key["sk"]["S"]


def _action_key(action: dict[str, Any]) -> Key:
    ((kind, body),) = action.items()
    return _key(body["Item"] if kind == "Put" else body["Key"])


def _name(token: str, body: dict[str, Any]) -> str:
    return body.get("ExpressionAttributeNames", {}).get(token, token)


def _value(token: str, body: dict[str, Any]) -> dict[str, Any]:
    return body["ExpressionAttributeValues"][token]


def _condition(body: dict[str, Any], current: dict[str, Any] | None) -> bool:
    expression = body["ConditionExpression"]
    item = current or {}
    if match := re.fullmatch(r"attribute_not_exists\((\S+)\)", expression):
        return _name(match[1], body) not in item
    if match := re.fullmatch(r"attribute_exists\((\S+)\)", expression):
        return _name(match[1], body) in item
    if match := re.fullmatch(r"(\S+) = (\S+)", expression):
        return item.get(_name(match[1], body)) == _value(match[2], body)
    raise NotImplementedError(expression)


def _split_actions(text: str) -> Iterable[str]:
    depth, start = 0, 0
    for index, character in enumerate(text):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == "," and depth == 0:
            yield text[start:index].strip()
            start = index + 1
    yield text[start:].strip()


def _update(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    parts = re.split(r"\b(SET|ADD|DELETE|REMOVE)\b", body["UpdateExpression"])
    for keyword, text in zip(parts[1::2], parts[2::2], strict=True):
        for action in _split_actions(text.strip()):
            _apply(keyword, action, body, item)
    return item


def _apply(keyword: str, action: str, body: dict[str, Any], item: dict[str, Any]) -> None:
    if keyword == "REMOVE":
        item.pop(_name(action, body), None)
        return
    if keyword == "SET":
        if match := re.fullmatch(r"(\S+) = if_not_exists\((\S+), (\S+)\)", action):
            name = _name(match[1], body)
            if _name(match[2], body) not in item:
                item[name] = _value(match[3], body)
            return
        if match := re.fullmatch(r"(\S+) = (\S+)", action):
            item[_name(match[1], body)] = _value(match[2], body)
            return
        raise NotImplementedError(action)
    name_token, value_token = action.split()
    name, value = _name(name_token, body), _value(value_token, body)
    ((kind, operand),) = value.items()
    if keyword == "ADD" and kind == "N":
        total = Decimal(item.get(name, {"N": "0"})["N"]) + Decimal(operand)
        item[name] = {"N": str(total)}
    elif keyword == "ADD" and kind == "SS":
        item[name] = {"SS": sorted(set(item.get(name, {"SS": []})["SS"]) | set(operand))}
    elif keyword == "DELETE" and kind == "SS":
        remaining = set(item.get(name, {"SS": []})["SS"]) - set(operand)
        if remaining:
            item[name] = {"SS": sorted(remaining)}
        else:
            item.pop(name, None)  # DynamoDB removes a set left empty
    else:
        raise NotImplementedError(f"{keyword} {action}")


# --- clients and events ---------------------------------------------------------------


def make_clients(
    faked: Iterable[str],
    real: Iterable[str] = (),
    fake: FakeAws | None = None,
    counter: CallCounter | None = None,
    faults: FaultInjector | None = None,
) -> dict[str, Any]:
    """The handler's clients (its own config): `faked` services served by `fake`, `real` ones
    sent to AWS_ENDPOINT_URL (moto); the counter and the fault injector on all of them."""
    clients: dict[str, Any] = {}
    for service in [*faked, *real]:
        client = aggregator.boto3.client(service, config=aggregator._CLIENT_CONFIG)
        if faults is not None:
            faults.attach(client)
        if counter is not None:
            counter.attach(client)
        if service in faked:
            assert fake is not None
            fake.attach(client)
        clients[service] = client
    return clients


OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}
"""Environment for clients whose every call a fake answers: dummy credentials, no instance
metadata, and a closed local port as the endpoint regardless (nothing is sent)."""

_SEQUENCE = itertools.count(1)


def kinesis_records(
    payloads: Iterable[dict[str, Any] | bytes], encode: Callable[[Any], str]
) -> list[dict[str, Any]]:
    """Kinesis records with increasing numeric sequence numbers, partition key = card id."""
    records = []
    for payload in payloads:
        number = str(next(_SEQUENCE)).zfill(20)
        card = payload.get("card_id", "x") if isinstance(payload, dict) else "x"
        records.append(
            {
                "kinesis": {
                    "data": encode(payload),
                    "sequenceNumber": number,
                    "partitionKey": card,
                },
                "eventID": f"shardId-000000000000:{number}",
            }
        )
    return records


# --- a brute-force reference ----------------------------------------------------------


def event_epoch(payload: dict[str, Any]) -> int:
    text = payload["event_time"]
    parsed = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(parsed.timestamp())


def unique_transactions(payloads: Iterable[dict[str, Any] | bytes]) -> list[dict[str, Any]]:
    """The first record of each (card, transaction id), in stream order; malformed skipped."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        key = (payload["card_id"], payload["transaction_id"])
        if key not in seen:
            seen.add(key)
            unique.append(payload)
    return unique


def reference_card_records(
    payloads: Iterable[dict[str, Any] | bytes], windows: dict[str, int], bucket_seconds: int
) -> dict[str, dict[str, str]]:
    """Per card, the aggregates a correct aggregator ends with, from the definition: T is the
    newest event time of the card's deduplicated transactions, and window w counts the events
    whose bucket start s has T - w < s <= T (late events never qualify: their bucket is at or
    before T - longest window)."""
    by_card: dict[str, list[tuple[int, Decimal]]] = {}
    for payload in unique_transactions(payloads):
        amount = Decimal(json.dumps(payload["amount"]))
        by_card.setdefault(payload["card_id"], []).append((event_epoch(payload), amount))
    expected = {}
    for card, events in by_card.items():
        newest = max(epoch for epoch, _ in events)
        record = {"card_id": card, "event_time": _iso(newest)}
        for label, seconds in windows.items():
            inside = [
                amount
                for epoch, amount in events
                if newest - seconds < epoch - epoch % bucket_seconds <= newest
            ]
            record[f"txn_count_{label}"] = str(len(inside))
            total = sum(inside, Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            record[f"txn_amount_{label}"] = str(total)
        expected[card] = record
    return expected


def reference_late(
    payloads: Iterable[dict[str, Any] | bytes], longest_seconds: int, bucket_seconds: int
) -> set[tuple[str, str]]:
    """(card, transaction id) of the late events when the deduplicated transactions are
    processed in stream order: bucket start at or before (newest so far) - longest window."""
    newest: dict[str, int] = {}
    late = set()
    for payload in unique_transactions(payloads):
        card, epoch = payload["card_id"], event_epoch(payload)
        newest[card] = max(newest.get(card, epoch), epoch)
        if epoch - epoch % bucket_seconds <= newest[card] - longest_seconds:
            late.add((card, payload["transaction_id"]))
    return late


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
