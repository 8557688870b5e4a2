"""The fraud scoring Lambda against moto (SageMaker endpoint, sagemaker-runtime) on 127.0.0.1.

moto 5.2.5 does not implement sagemaker-featurestore-runtime, so get_record is a botocore
Stubber on the handler's own client with exact expected parameters. sagemaker-runtime
invoke_endpoint is moto's: it answers a canned body configured through moto-api (default
"body", which is not a score), and the exact request sent is captured with a botocore
before-send hook on the handler's client.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ConnectTimeoutError
from botocore.stub import Stubber

from functions.scoring import handler as scoring

ENDPOINT = "fraud-dev-scoring"
PACKAGE_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud-dev-model/3"
CARD_GROUP = "fraud-dev-card-aggregates"
CUSTOMER_GROUP = "fraud-dev-customer-profile"

SCHEMA: dict[str, Any] = {
    "request": [
        {"name": "card_id", "type": "string"},
        {"name": "customer_id", "type": "string"},
        {"name": "amount", "type": "fractional"},
        {"name": "merchant_category", "type": "string"},
        {"name": "hour_of_day", "type": "integral"},
    ],
    "lookups": [
        {
            "featureGroup": CARD_GROUP,
            "key": "card_id",
            "features": [
                {"name": "txn_count_10m", "type": "integral"},
                {"name": "txn_amount_10m", "type": "fractional"},
            ],
            "defaults": {"txn_count_10m": 0, "txn_amount_10m": 0.0},
        },
        {
            "featureGroup": CUSTOMER_GROUP,
            "key": "customer_id",
            "features": [{"name": "account_age_days", "type": "integral"}],
            "defaults": {},
        },
    ],
    "order": [
        "amount",
        "hour_of_day",
        "merchant_category",
        "txn_count_10m",
        "txn_amount_10m",
        "account_age_days",
    ],
}
ORDER = SCHEMA["order"]

VALID = {
    "card_id": "card-123",
    "customer_id": "cust-9",
    "amount": 125.5,
    "merchant_category": "5411",
    "hour_of_day": 23,
}


def api_event(body: Any, *, raw: bool = False, b64: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event for POST /score."""
    text = body if raw else json.dumps(body)
    if b64:
        text = base64.b64encode(text.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "POST /score",
        "rawPath": "/score",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "requestId": "req-1",
            "http": {"method": "POST", "path": "/score"},
        },
        "body": text,
        "isBase64Encoded": b64,
    }


def record(**values: str) -> dict[str, Any]:
    return {"Record": [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]}


def get_record_params(group: str, key: str, names: list[str]) -> dict[str, Any]:
    return {
        "FeatureGroupName": group,
        "RecordIdentifierValueAsString": key,
        "FeatureNames": names,
    }


CARD_PARAMS = get_record_params(CARD_GROUP, "card-123", ["txn_count_10m", "txn_amount_10m"])
CUSTOMER_PARAMS = get_record_params(CUSTOMER_GROUP, "cust-9", ["account_age_days"])


def call(event: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, dict]:
    """Invoke the handler; return status, decoded body and the single audit line."""
    response = scoring.handler(event, None)
    assert response["headers"] == {"Content-Type": "application/json"}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    audit = json.loads(lines[0])
    assert isinstance(audit.pop("latencyMs"), float)
    return response["statusCode"], json.loads(response["body"]), audit


def audit_line(status: int, error: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "requestId": "req-1",
        "modelPackageArn": PACKAGE_ARN,
        "endpointName": ENDPOINT,
        "status": status,
        "error": error,
        "featureNames": ORDER,
        "features": None,
        "defaulted": None,
        "missing": None,
        "score": None,
    } | fields


def clear_caches() -> None:
    scoring._settings.cache_clear()
    scoring._featurestore.cache_clear()
    scoring._sagemaker_runtime.cache_clear()


@pytest.fixture
def env(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("MODEL_PACKAGE_ARN", PACKAGE_ARN)
    monkeypatch.setenv("MODEL_SCHEMA", json.dumps(SCHEMA))
    clear_caches()
    yield aws
    clear_caches()


@pytest.fixture
def featurestore(env: str) -> Iterator[Stubber]:
    with Stubber(scoring._featurestore()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sent(env: str) -> list[Any]:
    """Requests the handler's sagemaker-runtime client sends (they still reach moto)."""
    captured: list[Any] = []
    scoring._sagemaker_runtime().meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpoint",
        lambda request, **_: captured.append(request),
    )
    return captured


def canned_score(aws: str, body: str) -> None:
    response = requests.post(
        f"{aws}/moto-api/static/sagemaker/endpoint-results",
        json={"region": "eu-west-1", "results": [{"Body": body, "ContentType": "text/csv"}]},
        timeout=5,
    )
    assert response.status_code == 201


@pytest.fixture
def endpoint(env: str) -> str:
    """The endpoint in moto, InService, answering one canned score."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="fraud-dev-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/fraud-dev-sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgb:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="fraud-dev-config",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "fraud-dev-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="fraud-dev-config")
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    canned_score(env, "0.8731\n")
    return ENDPOINT


# --- success -------------------------------------------------------------------------------


def test_valid_request_is_scored_with_online_features(featurestore, endpoint, sent, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)

    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (
        200,
        {"score": 0.8731, "modelVersion": PACKAGE_ARN, "requestId": "req-1"},
    )
    assert len(sent) == 1
    assert sent[0].body == b"125.5,23,5411,3,310.25,42"
    assert sent[0].headers["Content-Type"] == b"text/csv"
    assert sent[0].headers["Accept"] == b"text/csv"
    # Captured with the request id, so Model Monitor can join this request's delayed label.
    assert sent[0].headers["X-Amzn-SageMaker-Inference-Id"] == b"req-1"
    assert sent[0].url.endswith(f"/endpoints/{ENDPOINT}/invocations")
    assert audit == audit_line(
        200,
        None,
        features=[125.5, 23, "5411", 3, 310.25, 42],
        defaulted=[],
        missing=[],
        score=0.8731,
    )


def test_base64_body_is_decoded(featurestore, endpoint, sent, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)

    status, body, _ = call(api_event(VALID, b64=True), capsys)

    assert (status, body["score"]) == (200, 0.8731)
    assert sent[0].body == b"125.5,23,5411,3,310.25,42"


@pytest.mark.parametrize(
    ("card_record", "defaulted", "served"),
    [
        ({}, ["txn_count_10m", "txn_amount_10m"], [0, 0.0]),  # card never seen: no record
        (record(txn_count_10m="2"), ["txn_amount_10m"], [2, 0.0]),  # one feature unset
    ],
    ids=["no-record", "missing-feature"],
)
def test_defaults_fill_missing_online_values(
    featurestore, endpoint, sent, capsys, card_record, defaulted, served
):
    featurestore.add_response("get_record", card_record, CARD_PARAMS)
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)

    # An integer amount is a valid fractional and is served as a float.
    status, body, audit = call(api_event(VALID | {"amount": 120}), capsys)

    assert (status, body["score"]) == (200, 0.8731)
    count, total = served
    assert sent[0].body == f"120.0,23,5411,{count},{total!r},42".encode()
    assert audit["features"] == [120.0, 23, "5411", count, total, 42]
    assert audit["defaulted"] == defaulted


def test_settings_are_parsed_once_per_environment(featurestore, endpoint, monkeypatch, capsys):
    for _ in range(2):
        featurestore.add_response(
            "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
        )
        featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)
    assert call(api_event(VALID), capsys)[0] == 200
    # A schema change after cold start is not seen: the environment is read once.
    monkeypatch.setenv("MODEL_SCHEMA", "not json")
    assert call(api_event(VALID), capsys)[0] == 200


# --- 400: the request ----------------------------------------------------------------------


def without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != field}


BAD_REQUESTS = [
    ("missing", without("amount"), "missing field 'amount'", "amount"),
    ("unknown", VALID | {"ammount": 1.0}, "unknown field 'ammount'", "ammount"),
    (
        "string-wrong-type",
        VALID | {"card_id": 123},
        "field 'card_id' must be a non-empty string, got integer",
        "card_id",
    ),
    (
        "string-empty",
        VALID | {"customer_id": ""},
        "field 'customer_id' must be a non-empty string, got empty string",
        "customer_id",
    ),
    (
        "integral-wrong-type",
        VALID | {"hour_of_day": 23.0},
        "field 'hour_of_day' must be integral (an integer), got number",
        "hour_of_day",
    ),
    (
        "integral-bool",
        VALID | {"hour_of_day": True},
        "field 'hour_of_day' must be integral (an integer), got boolean",
        "hour_of_day",
    ),
    (
        "fractional-wrong-type",
        VALID | {"amount": "125.5"},
        "field 'amount' must be fractional (a finite number), got string",
        "amount",
    ),
    (
        "fractional-bool",
        VALID | {"amount": False},
        "field 'amount' must be fractional (a finite number), got boolean",
        "amount",
    ),
    (
        "fractional-beyond-float",
        VALID | {"amount": 10**400},  # a JSON integer too large for a float
        "field 'amount' must be fractional (a finite number), got a non-finite number",
        "amount",
    ),
    (
        "fractional-null",
        VALID | {"amount": None},
        "field 'amount' must be fractional (a finite number), got null",
        "amount",
    ),
    (
        "csv-unsafe",
        VALID | {"merchant_category": "54,11"},
        "field 'merchant_category' must not contain commas, quotes or line breaks",
        "merchant_category",
    ),
    ("not-an-object", [VALID], "request body must be a JSON object, got array", None),
]


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_invalid_request_is_400_naming_the_field(featurestore, sent, capsys, body, error, field):
    status, response, audit = call(api_event(body), capsys)

    assert (status, response) == (400, {"error": error, "field": field, "requestId": "req-1"})
    assert audit == audit_line(400, error)
    assert sent == []  # nothing looked up (the Stubber has no responses), nothing scored


ENCODED_VALID = base64.b64encode(json.dumps(VALID).encode()).decode()
STRAY_BASE64 = f"{ENCODED_VALID[:8]}*{ENCODED_VALID[8:]}"
RAW_BAD_REQUESTS = [
    (
        "invalid-json",
        api_event('{"card_id": ', raw=True),
        "request body is not valid JSON: Expecting value: line 1 column 13 (char 12)",
        None,
    ),
    (
        "non-finite-number",
        api_event(json.dumps(VALID).replace("125.5", "1e400"), raw=True),
        "field 'amount' must be fractional (a finite number), got a non-finite number",
        "amount",
    ),
    (
        "nan-constant",
        api_event(json.dumps(VALID).replace("125.5", "NaN"), raw=True),
        "request body is not valid JSON: NaN is not valid JSON",
        None,
    ),
    (
        "duplicate-field",
        api_event(json.dumps(VALID)[:-1] + ', "amount": 1.0}', raw=True),
        "duplicate field 'amount'",
        "amount",
    ),
    ("empty-body", api_event("", raw=True), "request body is empty", None),
    (
        "invalid-base64",
        api_event("not base64!", raw=True) | {"isBase64Encoded": True},
        "request body is not valid base64",
        None,
    ),
    (
        "base64-with-a-stray-character",  # not skipped: the body is refused
        api_event(STRAY_BASE64, raw=True) | {"isBase64Encoded": True},
        "request body is not valid base64",
        None,
    ),
    (
        "invalid-utf8",
        api_event(base64.b64encode(b'{"card_id": "\xff"}').decode(), raw=True)
        | {"isBase64Encoded": True},
        "request body is not valid UTF-8",
        None,
    ),
]


@pytest.mark.parametrize(
    ("event", "error", "field"),
    [case[1:] for case in RAW_BAD_REQUESTS],
    ids=[case[0] for case in RAW_BAD_REQUESTS],
)
def test_unparseable_body_is_400(featurestore, sent, capsys, event, error, field):
    status, response, audit = call(event, capsys)

    assert (status, response) == (400, {"error": error, "field": field, "requestId": "req-1"})
    assert audit == audit_line(400, error)
    assert sent == []


# --- 422: online features ------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile",
    [{}, record(home_country="FR")],
    ids=["no-record", "feature-absent"],
)
def test_a_missing_feature_without_default_reaches_the_model_as_missing(
    featurestore, endpoint, sent, capsys, profile
):
    # A customer without a profile record (or one lacking the feature) is still scored: the
    # model gets an empty CSV field, which the SageMaker XGBoost container reads as NaN
    # (sagemaker-xgboost-container encoder: '' -> 'nan'), as training left it empty.
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", profile, CUSTOMER_PARAMS)

    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body["score"]) == (200, 0.8731)
    assert sent[0].body == b"125.5,23,5411,3,310.25,"
    assert audit == audit_line(
        200,
        None,
        features=[125.5, 23, "5411", 3, 310.25, None],
        defaulted=[],
        missing=["account_age_days"],
        score=0.8731,
    )


REQUIRED_SCHEMA = copy.deepcopy(SCHEMA)
REQUIRED_SCHEMA["lookups"][1]["required"] = ["account_age_days"]


def test_missing_required_feature_is_422(featurestore, sent, capsys, monkeypatch):
    monkeypatch.setenv("MODEL_SCHEMA", json.dumps(REQUIRED_SCHEMA))
    clear_caches()
    with Stubber(scoring._featurestore()) as required_store:
        required_store.add_response(
            "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
        )
        required_store.add_response("get_record", {}, CUSTOMER_PARAMS)  # no profile

        status, body, audit = call(api_event(VALID), capsys)

        required_store.assert_no_pending_responses()
    error = f"no online value for account_age_days of customer_id=cust-9 in {CUSTOMER_GROUP}"
    assert (status, body) == (
        422,
        {"error": error, "feature": "account_age_days", "requestId": "req-1"},
    )
    assert audit == audit_line(422, error)
    assert sent == []


def test_required_features_are_parsed_per_lookup():
    parsed = scoring.parse_schema(REQUIRED_SCHEMA)
    assert [lookup.required for lookup in parsed.lookups] == [
        frozenset(),
        frozenset({"account_age_days"}),
    ]


def test_online_value_of_the_wrong_type_is_422(featurestore, sent, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3.5", txn_amount_10m="310.25"), CARD_PARAMS
    )

    status, body, _ = call(api_event(VALID), capsys)

    assert (status, body) == (
        422,
        {
            "error": "online value '3.5' of txn_count_10m for card_id=card-123 in "
            f"{CARD_GROUP} is not a valid integral feature",
            "feature": "txn_count_10m",
            "requestId": "req-1",
        },
    )
    assert sent == []


# --- 502: dependencies ---------------------------------------------------------------------


def test_model_error_is_502(featurestore, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)
    with Stubber(scoring._sagemaker_runtime()) as runtime:
        runtime.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary",
            http_status_code=424,
            expected_params={
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": b"125.5,23,5411,3,310.25,42",
                "InferenceId": "req-1",
            },
        )
        status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (502, {"error": "model endpoint unavailable", "requestId": "req-1"})
    detail = audit.pop("detail")
    assert "ModelError" in detail
    assert "Received server error (500) from primary" in detail
    assert audit == audit_line(
        502,
        "model endpoint unavailable",
        features=[125.5, 23, "5411", 3, 310.25, 42],
        defaulted=[],
        missing=[],
    )


def test_an_unexpected_failure_is_500_with_its_traceback_in_the_audit_line(
    featurestore, sent, capsys, monkeypatch
):
    def broken(request: Any, schema: Any) -> Any:
        raise RuntimeError("lookup bug")

    monkeypatch.setattr(scoring, "fetch_features", broken)
    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (500, {"error": "internal error", "requestId": "req-1"})
    assert audit.pop("detail").endswith("RuntimeError: lookup bug\n")
    assert audit == audit_line(500, "internal error")
    assert sent == []


def test_a_direct_invocation_takes_the_lambda_request_id_and_times_itself(
    featurestore, sent, capsys
):
    event = api_event("", raw=True) | {"requestContext": {}}
    context = SimpleNamespace(aws_request_id="lambda-req-7")
    capsys.readouterr()
    started = time.perf_counter()
    response = scoring.handler(event, context)
    elapsed_ms = (time.perf_counter() - started) * 1000

    body = {"error": "request body is empty", "field": None, "requestId": "lambda-req-7"}
    assert (response["statusCode"], json.loads(response["body"])) == (400, body)
    audit = json.loads(capsys.readouterr().out)
    assert audit["requestId"] == "lambda-req-7"
    assert 0 <= audit["latencyMs"] <= round(elapsed_ms, 1) + 0.1


def test_unreadable_score_is_502(featurestore, sent, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)

    # Nothing configured in moto: it answers its default body "body".
    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (502, {"error": "model endpoint unavailable", "requestId": "req-1"})
    assert audit["detail"] == "unreadable score 'body'"
    assert len(sent) == 1


def test_endpoint_connection_failure_is_502(featurestore, capsys):
    featurestore.add_response(
        "get_record", record(txn_count_10m="3", txn_amount_10m="310.25"), CARD_PARAMS
    )
    featurestore.add_response("get_record", record(account_age_days="42"), CUSTOMER_PARAMS)

    def time_out(request: Any, **_: Any) -> None:
        raise ConnectTimeoutError(endpoint_url=request.url)

    scoring._sagemaker_runtime().meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpoint", time_out
    )
    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (502, {"error": "model endpoint unavailable", "requestId": "req-1"})
    assert audit["detail"].startswith("ConnectTimeoutError(")


def test_feature_store_error_is_502(featurestore, sent, capsys):
    featurestore.add_client_error(
        "get_record",
        service_error_code="ResourceNotFound",
        service_message=f"Feature group {CARD_GROUP} not found",
        http_status_code=404,
        expected_params=CARD_PARAMS,
    )

    status, body, audit = call(api_event(VALID), capsys)

    assert (status, body) == (502, {"error": "feature store unavailable", "requestId": "req-1"})
    assert "ResourceNotFound" in audit.pop("detail")
    assert audit == audit_line(502, "feature store unavailable")
    assert sent == []


# --- schema --------------------------------------------------------------------------------


def test_published_schema_is_valid():
    assert scoring.validate_schema(SCHEMA) is None


def mutated(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    change(schema)
    return schema


BAD_SCHEMAS = [
    ("not-an-object", [], "schema must be a JSON object, got array"),
    ("no-order", mutated(lambda s: s.pop("order")), "schema has no 'order'"),
    (
        "unknown-key",
        mutated(lambda s: s.update(lookup=[])),
        "schema has unknown keys ['lookup']",
    ),
    (
        "unknown-order-name",
        mutated(lambda s: s["order"].append("velocity_1h")),
        "order names unknown feature 'velocity_1h'",
    ),
    (
        "order-duplicate",
        mutated(lambda s: s["order"].append("amount")),
        "order lists 'amount' twice",
    ),
    (
        "unknown-request-type",
        mutated(lambda s: s["request"][2].update(type="float")),
        "request[2]: unknown type 'float' for 'amount' "
        "(expected one of string, integral, fractional)",
    ),
    (
        "request-item-extra-key",
        mutated(lambda s: s["request"][0].update(required=True)),
        "request[0] must be an object with exactly name and type",
    ),
    (
        "request-item-not-an-object",
        mutated(lambda s: s["request"].append(3)),
        "request[5] must be an object with exactly name and type",
    ),
    (
        "empty-feature-group",
        mutated(lambda s: s["lookups"][0].update(featureGroup="")),
        "lookups[0].featureGroup must be a non-empty string",
    ),
    (
        "unknown-lookup-type",
        mutated(lambda s: s["lookups"][1]["features"][0].update(type="int")),
        f"lookup {CUSTOMER_GROUP} features[0]: unknown type 'int' for 'account_age_days' "
        "(expected one of string, integral, fractional)",
    ),
    (
        "duplicate-request-field",
        mutated(lambda s: s["request"].append({"name": "amount", "type": "fractional"})),
        "duplicate feature name 'amount'",
    ),
    (
        "lookup-shadows-request-field",
        mutated(
            lambda s: s["lookups"][1]["features"].append({"name": "amount", "type": "fractional"})
        ),
        "duplicate feature name 'amount'",
    ),
    (
        "unknown-key-field",
        mutated(lambda s: s["lookups"][0].update(key="pan")),
        f"lookup {CARD_GROUP}: key 'pan' is not a request field",
    ),
    (
        "fractional-key",
        mutated(lambda s: s["lookups"][0].update(key="amount")),
        f"lookup {CARD_GROUP}: key 'amount' must be a string or integral request field, "
        "got fractional",
    ),
    (
        "default-of-unknown-feature",
        mutated(lambda s: s["lookups"][0]["defaults"].update(txn_count_1h=0)),
        f"lookup {CARD_GROUP}: default for unknown feature 'txn_count_1h'",
    ),
    (
        "default-of-wrong-type",
        mutated(lambda s: s["lookups"][0]["defaults"].update(txn_count_10m=0.0)),
        f"lookup {CARD_GROUP}: default for 'txn_count_10m' must be integral (an integer), "
        "got number",
    ),
    (
        "lookup-feature-not-served",
        mutated(lambda s: s["order"].remove("account_age_days")),
        f"lookup {CUSTOMER_GROUP}: feature 'account_age_days' is not in order",
    ),
    (
        "required-not-a-list",
        mutated(lambda s: s["lookups"][1].update(required="account_age_days")),
        f"lookup {CUSTOMER_GROUP}: required must be a list of feature names",
    ),
    (
        "required-unknown-feature",
        mutated(lambda s: s["lookups"][1].update(required=["amount"])),
        f"lookup {CUSTOMER_GROUP}: required names unknown feature 'amount'",
    ),
    (
        "required-with-default",
        mutated(lambda s: s["lookups"][0].update(required=["txn_count_10m"])),
        f"lookup {CARD_GROUP}: 'txn_count_10m' has a default and cannot be required",
    ),
    (
        "required-twice",
        mutated(lambda s: s["lookups"][1].update(required=["account_age_days"] * 2)),
        f"lookup {CUSTOMER_GROUP}: required lists a feature twice",
    ),
    (
        "empty-order",
        mutated(lambda s: s.update(order=[])),
        "order must be a non-empty list of feature names",
    ),
]


@pytest.mark.parametrize(
    ("schema", "error"),
    [case[1:] for case in BAD_SCHEMAS],
    ids=[case[0] for case in BAD_SCHEMAS],
)
def test_invalid_schema_is_rejected(schema, error):
    with pytest.raises(ValueError) as raised:
        scoring.validate_schema(schema)
    assert str(raised.value) == error


def test_invalid_schema_fails_the_first_call(env, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_SCHEMA", json.dumps(mutated(lambda s: s["order"].append("x"))))
    with pytest.raises(ValueError) as raised:
        scoring.handler(api_event(VALID), None)
    assert str(raised.value) == "MODEL_SCHEMA is invalid: order names unknown feature 'x'"
    assert capsys.readouterr().out == ""


def test_missing_environment_fails_the_first_call(env, monkeypatch):
    monkeypatch.delenv("ENDPOINT_NAME")
    monkeypatch.setenv("MODEL_SCHEMA", "")
    with pytest.raises(ValueError) as raised:
        scoring.handler(api_event(VALID), None)
    assert str(raised.value) == (
        "scoring function misconfigured: ENDPOINT_NAME, MODEL_SCHEMA not set"
    )
