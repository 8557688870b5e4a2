"""Scoring API of the real-time fraud blueprint (AWS Lambda, python3.12, boto3 only).

Contract with the Pulumi module that deploys it:

* Trigger: API Gateway HTTP API, payload format 2.0. Entry point ``handler(event, context)``.
* Environment:
  ``ENDPOINT_NAME``     SageMaker real-time endpoint to invoke;
  ``MODEL_PACKAGE_ARN`` approved model package the endpoint serves (returned as modelVersion);
  ``MODEL_SCHEMA``      JSON ``{"request": [{name, type}], "lookups": [{featureGroup, key,
                        features: [{name, type}], defaults: {name: value}, required: [name]}],
                        "order": [name]}`` with types ``string`` / ``integral`` /
                        ``fractional`` (Feature Store's); ``required`` may be left out (none).
  The schema is parsed once per execution environment; an invalid one raises ValueError on the
  first call (a deployment bug, not a request error). ``validate_schema`` is the same check as a
  pure function, for the kit to run at plan time.
* Request body: a JSON object with exactly the ``request`` fields, correctly typed. Otherwise 400
  ``{"error", "field", "requestId"}`` (``field`` is null when the body is not a JSON object).
* Each lookup reads ``get_record`` from the online store, keyed by the request field ``key``. A
  feature without an online value (no record for the key, or the record lacks it) takes its
  declared default; else, if the lookup lists it as ``required``, the answer is 422
  ``{"error", "feature", "requestId"}``; else it reaches the model as a missing value: an empty
  CSV field, which the SageMaker XGBoost container reads as NaN, XGBoost's missing value. The
  training data set leaves a feature without a value empty in the same way (and fills the same
  defaults), so a customer without a profile record is scored as such rows were trained. An
  online value that does not convert to its type is 422 too. Feature store errors are 502.
* The endpoint gets ``text/csv`` (the values in ``order``, missing ones empty) and answers one
  float. Endpoint errors or an unreadable answer are 502
  ``{"error": "model endpoint unavailable", ...}``.
* Success: 200 ``{"score", "modelVersion", "requestId"}``.
* Every request, whatever its outcome, prints exactly one JSON audit line: requestId,
  modelPackageArn, endpointName, status, error, features (values actually served, in order,
  null where missing), featureNames, defaulted (features that took a default), missing
  (features sent as missing), score, latencyMs, and on 5xx a detail. Raw request
  identifiers (card/customer ids) are deliberately not logged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TYPES = ("string", "integral", "fractional")
# Feature Store record identifiers can only be String or Integral.
KEY_TYPES = ("string", "integral")
# Characters that would split or corrupt a value in the text/csv body sent to the endpoint.
CSV_UNSAFE = (",", '"', "\n", "\r")

Value = str | int | float
Served = Value | None
"""A value sent to the model; None is a missing value (an empty CSV field)."""

# The scoring path is latency bound: fail fast on a stuck connection instead of holding the
# API Gateway request (30 s integration limit) open.
_BOTO_CONFIG = Config(connect_timeout=2, read_timeout=10)


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str
    type: str


@dataclass(frozen=True)
class Lookup:
    feature_group: str
    key: str
    features: tuple[Feature, ...]
    defaults: Mapping[str, Value]
    required: frozenset[str] = frozenset()
    """Features without which the request is refused (422) rather than scored as missing."""


@dataclass(frozen=True)
class Schema:
    request: tuple[Feature, ...]
    lookups: tuple[Lookup, ...]
    order: tuple[str, ...]
    types: Mapping[str, str]  # every feature name (request and lookups) -> type


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages callers can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def coerce(type_: str, value: object) -> Value:
    """Return ``value`` as the Python value of Feature Store type ``type_``, or raise ValueError
    saying what it must be. bool is rejected as a number: JSON true is never a count or amount."""
    if type_ == "string":
        if isinstance(value, str) and value:
            return value
        got = "empty string" if value == "" else _json_type(value)
        raise ValueError(f"must be a non-empty string, got {got}")
    if type_ == "integral":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"must be integral (an integer), got {_json_type(value)}")
    if type_ == "fractional":
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an int beyond float range
                number = math.inf
            if math.isfinite(number):
                return number
            raise ValueError("must be fractional (a finite number), got a non-finite number")
        raise ValueError(f"must be fractional (a finite number), got {_json_type(value)}")
    raise ValueError(f"unknown type {type_!r}")


def _features(raw: object, where: str) -> tuple[Feature, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list of {{name, type}} objects")
    features = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"name", "type"}:
            raise ValueError(f"{where}[{index}] must be an object with exactly name and type")
        name, type_ = item["name"], item["type"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}[{index}].name must be a non-empty string")
        if type_ not in TYPES:
            raise ValueError(
                f"{where}[{index}]: unknown type {type_!r} for {name!r} "
                f"(expected one of {', '.join(TYPES)})"
            )
        features.append(Feature(name, type_))
    return tuple(features)


def parse_schema(schema: object) -> Schema:
    """Validate a model schema (the decoded MODEL_SCHEMA) and return it parsed.

    Raises ValueError with a message naming the offending part."""
    if not isinstance(schema, dict):
        raise ValueError(f"schema must be a JSON object, got {_json_type(schema)}")
    for key in ("request", "lookups", "order"):
        if key not in schema:
            raise ValueError(f"schema has no {key!r}")
    unknown = sorted(set(schema) - {"request", "lookups", "order"})
    if unknown:
        raise ValueError(f"schema has unknown keys {unknown}")

    request = _features(schema["request"], "request")
    types: dict[str, str] = {}

    def declare(feature: Feature) -> None:
        # One namespace for request fields and looked-up features: `order` refers to both.
        if feature.name in types:
            raise ValueError(f"duplicate feature name {feature.name!r}")
        types[feature.name] = feature.type

    for feature in request:
        declare(feature)

    request_types = {f.name: f.type for f in request}
    raw_lookups = schema["lookups"]
    if not isinstance(raw_lookups, list):
        raise ValueError("lookups must be a list")
    lookups = []
    for index, raw in enumerate(raw_lookups):
        if not isinstance(raw, dict):
            raise ValueError(f"lookups[{index}] must be an object")
        extra = sorted(set(raw) - {"featureGroup", "key", "features", "defaults", "required"})
        if extra:
            raise ValueError(f"lookups[{index}] has unknown keys {extra}")
        group = raw.get("featureGroup")
        if not isinstance(group, str) or not group:
            raise ValueError(f"lookups[{index}].featureGroup must be a non-empty string")
        key = raw.get("key")
        if key not in request_types:
            raise ValueError(f"lookup {group}: key {key!r} is not a request field")
        if request_types[key] not in KEY_TYPES:
            raise ValueError(
                f"lookup {group}: key {key!r} must be a string or integral request field, "
                f"got {request_types[key]}"
            )
        features = _features(raw.get("features"), f"lookup {group} features")
        if not features:
            raise ValueError(f"lookup {group} has no features")
        for feature in features:
            declare(feature)
        raw_defaults = raw.get("defaults", {})
        if not isinstance(raw_defaults, dict):
            raise ValueError(f"lookup {group}: defaults must be an object")
        own = {f.name: f.type for f in features}
        defaults: dict[str, Value] = {}
        for name, value in raw_defaults.items():
            if name not in own:
                raise ValueError(f"lookup {group}: default for unknown feature {name!r}")
            try:
                defaults[name] = coerce(own[name], value)
            except ValueError as exc:
                raise ValueError(f"lookup {group}: default for {name!r} {exc}") from None
        raw_required = raw.get("required", [])
        if not isinstance(raw_required, list) or not all(
            isinstance(name, str) for name in raw_required
        ):
            raise ValueError(f"lookup {group}: required must be a list of feature names")
        for name in raw_required:
            if name not in own:
                raise ValueError(f"lookup {group}: required names unknown feature {name!r}")
            if name in defaults:
                raise ValueError(f"lookup {group}: {name!r} has a default and cannot be required")
        if len(set(raw_required)) != len(raw_required):
            raise ValueError(f"lookup {group}: required lists a feature twice")
        lookups.append(Lookup(group, key, features, defaults, frozenset(raw_required)))

    order = schema["order"]
    if not isinstance(order, list) or not order:
        raise ValueError("order must be a non-empty list of feature names")
    seen: set[str] = set()
    for name in order:
        if name not in types:
            raise ValueError(f"order names unknown feature {name!r}")
        if name in seen:
            raise ValueError(f"order lists {name!r} twice")
        seen.add(name)
    for lookup in lookups:
        for feature in lookup.features:
            # A looked-up feature the model never sees would only add latency and spurious 422s.
            if feature.name not in seen:
                raise ValueError(
                    f"lookup {lookup.feature_group}: feature {feature.name!r} is not in order"
                )
    return Schema(request, tuple(lookups), tuple(order), types)


def validate_schema(schema: dict) -> None:
    """Raise ValueError if ``schema`` is not a valid MODEL_SCHEMA (pure; for plan time)."""
    parse_schema(schema)


# ---------------------------------------------------------------------------------------------
# Cold start: configuration and clients
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    endpoint_name: str
    model_package_arn: str
    schema: Schema


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate the function's environment; ValueError names what is wrong."""
    missing = [
        name
        for name in ("ENDPOINT_NAME", "MODEL_PACKAGE_ARN", "MODEL_SCHEMA")
        if not environ.get(name)
    ]
    if missing:
        raise ValueError(f"scoring function misconfigured: {', '.join(missing)} not set")
    try:
        raw = json.loads(environ["MODEL_SCHEMA"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"MODEL_SCHEMA is not valid JSON: {exc}") from None
    try:
        schema = parse_schema(raw)
    except ValueError as exc:
        raise ValueError(f"MODEL_SCHEMA is invalid: {exc}") from None
    return Settings(environ["ENDPOINT_NAME"], environ["MODEL_PACKAGE_ARN"], schema)


# Cached per execution environment, i.e. paid once at cold start.
@functools.cache
def _settings() -> Settings:
    return load_settings(os.environ)


@functools.cache
def _featurestore() -> Any:
    return boto3.client("sagemaker-featurestore-runtime", config=_BOTO_CONFIG)


@functools.cache
def _sagemaker_runtime() -> Any:
    return boto3.client("sagemaker-runtime", config=_BOTO_CONFIG)


# ---------------------------------------------------------------------------------------------
# Request handling
# ---------------------------------------------------------------------------------------------


class HttpError(Exception):
    """An outcome other than 200: status, the caller-facing body, and a detail for the log."""

    def __init__(self, status: int, message: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.extra = extra


def _reject_constant(name: str) -> None:
    # json accepts NaN/Infinity by default; they are not JSON and never a valid input.
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate keys json keeps the last silently; the audit must show what was scored.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise HttpError(400, f"duplicate field {key!r}", field=key)
        result[key] = value
    return result


def parse_request(event: Mapping[str, Any], schema: Schema) -> dict[str, Value]:
    """The validated request fields of an HTTP API (2.0) event, or HttpError(400)."""
    body = event.get("body")
    if body is None or body == "":
        raise HttpError(400, "request body is empty", field=None)
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "request body is not valid base64", field=None) from None
    else:
        raw = body.encode("utf-8")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise HttpError(400, "request body is not valid UTF-8", field=None) from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise HttpError(400, f"request body is not valid JSON: {exc}", field=None) from None
    if not isinstance(data, dict):
        raise HttpError(
            400, f"request body must be a JSON object, got {_json_type(data)}", field=None
        )

    declared = {f.name for f in schema.request}
    unknown = sorted(set(data) - declared)
    if unknown:
        raise HttpError(400, f"unknown field {unknown[0]!r}", field=unknown[0])
    in_vector = set(schema.order)
    request: dict[str, Value] = {}
    for feature in schema.request:
        if feature.name not in data:
            raise HttpError(400, f"missing field {feature.name!r}", field=feature.name)
        try:
            value = coerce(feature.type, data[feature.name])
        except ValueError as exc:
            raise HttpError(400, f"field {feature.name!r} {exc}", field=feature.name) from None
        if feature.name in in_vector and isinstance(value, str) and _csv_unsafe(value):
            raise HttpError(
                400,
                f"field {feature.name!r} must not contain commas, quotes or line breaks",
                field=feature.name,
            )
        request[feature.name] = value
    return request


def _csv_unsafe(value: str) -> bool:
    return any(char in value for char in CSV_UNSAFE)


def _online_value(lookup: Lookup, feature: Feature, raw: str, where: str) -> Value:
    """Convert a Feature Store string by type; a value that does not convert is a data error
    for this record, so 422 like a missing one."""
    try:
        if feature.type == "integral":
            return int(raw)
        if feature.type == "fractional":
            number = float(raw)
            if math.isfinite(number):
                return number
            raise ValueError
        if raw and not _csv_unsafe(raw):
            return raw
        raise ValueError
    except ValueError:
        raise HttpError(
            422,
            f"online value {raw!r} of {feature.name} for {where} in {lookup.feature_group} "
            f"is not a valid {feature.type} feature",
            feature=feature.name,
        ) from None


def fetch_features(
    request: Mapping[str, Value], schema: Schema
) -> tuple[dict[str, Served], list[str], list[str]]:
    """Online feature values for every lookup (defaults filled in, None where missing), the
    names defaulted and the names missing; HttpError(422) for a required one missing."""
    values: dict[str, Served] = {}
    defaulted: list[str] = []
    missing: list[str] = []
    client = _featurestore()
    for lookup in schema.lookups:
        key_value = str(request[lookup.key])
        try:
            response = client.get_record(
                FeatureGroupName=lookup.feature_group,
                RecordIdentifierValueAsString=key_value,
                FeatureNames=[f.name for f in lookup.features],
            )
        except (ClientError, BotoCoreError) as exc:
            raise HttpError(502, "feature store unavailable", detail=repr(exc)) from None
        # No "Record" at all means no record for this key (e.g. a card never seen).
        record = {
            item["FeatureName"]: item["ValueAsString"]
            for item in response.get("Record") or []
            if "ValueAsString" in item
        }
        where = f"{lookup.key}={key_value}"
        for feature in lookup.features:
            if feature.name in record:
                values[feature.name] = _online_value(lookup, feature, record[feature.name], where)
            elif feature.name in lookup.defaults:
                values[feature.name] = lookup.defaults[feature.name]
                defaulted.append(feature.name)
            elif feature.name in lookup.required:
                raise HttpError(
                    422,
                    f"no online value for {feature.name} of {where} in {lookup.feature_group}",
                    feature=feature.name,
                )
            else:
                values[feature.name] = None
                missing.append(feature.name)
    return values, defaulted, missing


def to_csv(vector: list[Served]) -> str:
    """One CSV row, a missing value an empty field; repr of a float round-trips exactly, so the
    audit line matches the wire."""
    return ",".join(
        "" if v is None else repr(v) if isinstance(v, float) else str(v) for v in vector
    )


def invoke_model(endpoint_name: str, vector: list[Served], inference_id: str | None) -> float:
    """The endpoint's score for one feature vector, or HttpError(502). The inference id (the
    API request id) is stored with the captured data, so Model Monitor can join the delayed
    ground-truth label of this very request (its `eventMetadata.eventId`)."""
    extra = {"InferenceId": inference_id[:64]} if inference_id else {}
    try:
        response = _sagemaker_runtime().invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="text/csv",
            Accept="text/csv",
            Body=to_csv(vector).encode("utf-8"),
            **extra,
        )
        text = response["Body"].read().decode("utf-8").strip()
    except (ClientError, BotoCoreError) as exc:
        raise HttpError(502, "model endpoint unavailable", detail=repr(exc)) from None
    try:
        score = float(text)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise HttpError(
            502, "model endpoint unavailable", detail=f"unreadable score {text[:200]!r}"
        )
    return score


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
    schema = settings.schema
    request_id = _request_id(event, context)
    audit: dict[str, Any] = {
        "requestId": request_id,
        "modelPackageArn": settings.model_package_arn,
        "endpointName": settings.endpoint_name,
        "status": None,
        "error": None,
        "featureNames": list(schema.order),
        "features": None,
        "defaulted": None,
        "missing": None,
        "score": None,
        "latencyMs": None,
    }
    try:
        request = parse_request(event, schema)
        looked_up, defaulted, missing = fetch_features(request, schema)
        known: dict[str, Served] = {**request, **looked_up}
        vector = [known[name] for name in schema.order]
        audit["features"] = vector
        audit["defaulted"] = defaulted
        audit["missing"] = missing
        score = invoke_model(settings.endpoint_name, vector, request_id)
        audit["score"] = score
        status = 200
        body: dict[str, Any] = {
            "score": score,
            "modelVersion": settings.model_package_arn,
            "requestId": request_id,
        }
    except HttpError as exc:
        status = exc.status
        body = {"error": exc.message, **exc.extra, "requestId": request_id}
        audit["error"] = exc.message
        if exc.detail is not None:
            audit["detail"] = exc.detail
    except Exception:
        # A bug here must still answer JSON, not a traceback, and still leave its audit line.
        status = 500
        body = {"error": "internal error", "requestId": request_id}
        audit["error"] = "internal error"
        audit["detail"] = traceback.format_exc()
    audit["status"] = status
    audit["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
    print(json.dumps(audit), flush=True)
    return _response(status, body)
