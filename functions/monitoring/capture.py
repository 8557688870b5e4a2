"""What the monitoring jobs read and write; shared by `drift.py` and `quality.py`.

Runs inside a network-isolated SageMaker Processing job: no AWS calls, only the files
SageMaker downloaded into the input paths and the one results file it uploads afterwards.

SageMaker data capture (the endpoint's `DataCaptureConfig`, CSV content types declared):
JSON lines under `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`, one per request:

    {"captureData": {"endpointInput":  {"data": "12.5,3,0", "encoding": "CSV", ...},
                     "endpointOutput": {"data": "0.031", "encoding": "CSV", ...}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<request id>",
                       "inferenceTime": "2026-05-04T10:15:02Z"},
     "eventVersion": "0"}

`encoding` is `CSV` or `JSON` (data as text) or `BASE64`. The scoring API sends its request id
as the inference id; a record without one is keyed by its event id (as Model Monitor did).

Ground-truth labels (the format the blueprint already documents, Model Monitor's): JSON lines
under `<labels prefix>/yyyy/mm/dd/hh/*.jsonl`, the hour being when the label was written:

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<request id>"}, "eventVersion": "0"}

`data` is 0 or 1 (also `true`/`false`, `0.0`/`1.0`). Of several labels for one request the one
written last wins (a chargeback corrects an earlier verdict).

Feature lists: `--features name:type,...` (types `integral` or `fractional`, the model's
order) or one JSON file in the schema input: the training feature schema
(`{"featureGroups": [{"features": [{name, type}]}], "order": [...]}`, recorded with the model
package) or the scoring API's MODEL_SCHEMA (`request`, `lookups[].features`, `order`).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")
RESULTS_FILE = "results.json"
RESULTS_VERSION = 1
FEATURE_TYPES = ("integral", "fractional")
OK = "ok"
INSUFFICIENT_DATA = "insufficient_data"

# .../yyyy/mm/dd/hh/<file>: the hour SageMaker (or the label writer) filed the object under.
_HOUR_PATH = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_LABELS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


class MonitoringError(Exception):
    """The inputs cannot be analysed (a deployment or contract problem); the message says
    why. The job exits 1 and fails, which is not the same as too little data."""


# --- features --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # integral | fractional


def parse_features(text: str) -> list[Feature]:
    """`amount:fractional,txn_count_1h:integral` -> features in that order."""
    features = []
    for item in text.split(","):
        name, _, kind = item.strip().partition(":")
        if not name or kind not in FEATURE_TYPES:
            raise MonitoringError(
                f"feature {item.strip()!r} must be name:type with type one of "
                f"{', '.join(FEATURE_TYPES)}"
            )
        features.append(Feature(name, kind))
    return _unique(features)


def schema_features(schema: Mapping[str, Any]) -> list[Feature]:
    """The model's features in `order`, typed from a training feature schema or a
    MODEL_SCHEMA (see the module docstring)."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("order"), list):
        raise MonitoringError("the feature schema has no 'order' list")
    declared: list[Any] = []
    for group in schema.get("featureGroups", []):
        declared += group.get("features", [])
    declared += schema.get("request", [])
    for lookup in schema.get("lookups", []):
        declared += lookup.get("features", [])
    types = {str(f["name"]): str(f["type"]) for f in declared if isinstance(f, Mapping)}
    features = []
    for name in schema["order"]:
        kind = types.get(str(name))
        if kind not in FEATURE_TYPES:
            raise MonitoringError(
                f"feature {name!r} is {kind or 'not declared'} in the schema; the model takes "
                f"{' or '.join(FEATURE_TYPES)} features"
            )
        features.append(Feature(str(name), kind))
    return _unique(features)


def read_features(features: str | None, schema_dir: Path) -> list[Feature]:
    """The `--features` argument if given, else the one JSON file under `schema_dir`."""
    if features:
        return parse_features(features)
    files = sorted(schema_dir.rglob("*.json")) if schema_dir.is_dir() else []
    if len(files) != 1:
        raise MonitoringError(
            f"expected --features or one feature schema JSON under {schema_dir}, "
            f"found {len(files)} files"
        )
    try:
        return schema_features(json.loads(files[0].read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise MonitoringError(f"unreadable feature schema {files[0]}: {error}") from None


def _unique(features: list[Feature]) -> list[Feature]:
    names = [f.name for f in features]
    if not names or len(set(names)) != len(names):
        raise MonitoringError(f"feature names must be non-empty and unique, got {names}")
    return features


# --- time ------------------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (`2026-05-04T10:00:00Z`; no zone means UTC) as aware UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """Records with start < time <= end are analysed."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime) -> bool:
        return self.start < when <= self.end

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "hours": (self.end - self.start).total_seconds() / 3600,
        }


def window_before(as_of: datetime, hours: float) -> Window:
    """The `hours` up to `as_of`."""
    return Window(as_of - timedelta(hours=hours), as_of)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def path_hour(path: Path) -> datetime | None:
    """The hour a capture or label object is filed under (`.../yyyy/mm/dd/hh/file`)."""
    match = _HOUR_PATH.search(path.as_posix())
    if not match:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def _hour_may_overlap(hour: datetime | None, window: Window, margin: timedelta) -> bool:
    # Files are filed by the hour they were written in, records inside may be a little older.
    if hour is None:
        return True
    return hour + timedelta(hours=1) + margin > window.start and hour - margin <= window.end


def jsonl_files(directory: Path) -> list[Path]:
    """Every `*.jsonl` file under `directory`, in path order (oldest hour first)."""
    if not directory.is_dir():
        raise MonitoringError(f"input directory {directory} does not exist")
    return sorted(directory.rglob("*.jsonl"))


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) of each non-empty line; a line that is not JSON decodes
    to None."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError:
                    yield number, None


# --- captured requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    key: str  # inference id, else event id
    time: datetime
    input: str | None
    output: str | None


@dataclass
class CaptureRead:
    records: list[Capture] = field(default_factory=list)
    malformed: int = 0  # lines that are not capture records
    outside_window: int = 0  # records read whose time is outside the window
    skipped_files: int = 0  # files filed under hours outside the window, not read


def decode(block: object) -> str | None:
    """The payload text of an `endpointInput` / `endpointOutput` block."""
    if not isinstance(block, Mapping) or not isinstance(block.get("data"), str):
        return None
    data, encoding = block["data"], str(block.get("encoding", "CSV")).upper()
    if encoding in ("CSV", "JSON"):
        return data
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
    return None


def read_capture(directory: Path, window: Window) -> CaptureRead:
    """The captured requests under `directory` whose inference time is in `window` (the file's
    hour when a record has no time). Files filed under hours well outside the window are not
    read."""
    read = CaptureRead()
    margin = timedelta(hours=1)
    for path in jsonl_files(directory):
        hour = path_hour(path)
        if not _hour_may_overlap(hour, window, margin):
            read.skipped_files += 1
            continue
        for _, record in json_lines(path):
            capture = _capture(record, hour)
            if capture is None:
                read.malformed += 1
            elif capture.time in window:
                read.records.append(capture)
            else:
                read.outside_window += 1
    return read


def _capture(record: object, hour: datetime | None) -> Capture | None:
    if not isinstance(record, Mapping):
        return None
    data, meta = record.get("captureData"), record.get("eventMetadata")
    if not isinstance(data, Mapping) or not isinstance(meta, Mapping):
        return None
    key = meta.get("inferenceId") or meta.get("eventId")
    if not isinstance(key, str) or not key:
        return None
    when: datetime | None = hour
    if isinstance(meta.get("inferenceTime"), str):
        try:
            when = parse_time(meta["inferenceTime"])
        except ValueError:
            return None
    if when is None:
        return None
    return Capture(key, when, decode(data.get("endpointInput")), decode(data.get("endpointOutput")))


# --- labels ----------------------------------------------------------------------------------


@dataclass
class LabelsRead:
    labels: dict[str, int] = field(default_factory=dict)  # inference id -> 0/1
    malformed: int = 0
    skipped_files: int = 0  # written before the window or after its end, not read


def read_labels(directory: Path, window: Window) -> LabelsRead:
    """Labels written during `window` (by their hour path; objects without one are all
    read). A label written before the window belongs to a prediction before it; one written
    after its end had not arrived at the time analysed (re-runs give the same answer)."""
    read = LabelsRead()
    first_hour = window.start.replace(minute=0, second=0, microsecond=0)
    ordered: list[tuple[datetime, Path, int, str, int]] = []
    for path in jsonl_files(directory):
        hour = path_hour(path)
        if hour is not None and not first_hour <= hour <= window.end:
            read.skipped_files += 1
            continue
        for number, record in json_lines(path):
            parsed = _label(record)
            if parsed is None:
                read.malformed += 1
            else:
                ordered.append((hour or datetime.min.replace(tzinfo=UTC), path, number, *parsed))
    for *_, key, label in sorted(ordered, key=lambda item: item[:3]):
        read.labels[key] = label  # written later wins
    return read


def _label(record: object) -> tuple[str, int] | None:
    if not isinstance(record, Mapping):
        return None
    truth, meta = record.get("groundTruthData"), record.get("eventMetadata")
    if not isinstance(meta, Mapping):
        return None
    key = meta.get("eventId") or meta.get("inferenceId")
    text = decode(truth)
    if not isinstance(key, str) or not key or text is None:
        return None
    label = _LABELS.get(text.strip().strip('"').lower())
    return None if label is None else (key, label)


# --- results ---------------------------------------------------------------------------------


def finite(value: float | None) -> float | None:
    """JSON has no NaN: undefined numbers are written as null."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def write_results(output_dir: Path, results: Mapping[str, Any]) -> Path:
    """`results.json` in the output path (SageMaker uploads it when the job ends) and a
    one-line summary on stdout (the job's log)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    summary = {k: results.get(k) for k in ("kind", "endpoint", "status", "reason")}
    print(json.dumps(summary | {"results": str(path)}), flush=True)
    return path


def fail(error: Exception, job: str) -> int:
    print(f"{job} failed: {error}", file=sys.stderr, flush=True)
    return 1


def base_results(
    kind: str, endpoint: str, as_of: datetime, window: Window, model_package_arn: str | None
) -> dict[str, Any]:
    """Fields every results file has (see the job modules for the rest)."""
    return {
        "version": RESULTS_VERSION,
        "kind": kind,
        "endpoint": endpoint,
        "model_package_arn": model_package_arn,
        "status": OK,
        "reason": None,
        "as_of": iso(as_of),
        "window": window.as_dict(),
        "generated_at": iso(datetime.now(UTC)),
    }


def positive(kind: type, name: str) -> Any:
    """An argparse type: a finite number > 0."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{name} must be a number") from None
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be > 0")
        return value

    convert.__name__ = name
    return convert


def non_negative_hours(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("hours must be >= 0")
    return value


def as_of_argument(text: str | None) -> datetime:
    return parse_time(text) if text else datetime.now(UTC)


def csv_rows(text: str) -> list[list[str]]:
    """The non-empty rows of a CSV payload."""
    return [row for row in csv.reader(io.StringIO(text)) if row and any(v.strip() for v in row)]
