"""BuildDataset step of the fraud training pipeline: a point-in-time-correct training set,
built by Athena where the data is (the Iceberg offline store), not on this instance.

Runs in the SageMaker SKLearn processing image (Python 3.10, boto3); stdlib and boto3 only,
no mlkit imports. The job runs in the VPC without network isolation: it calls Athena (the
interface endpoint `com.amazonaws.<region>.athena`) and S3 (the gateway endpoint).

Inputs (under /opt/ml/processing/input/):
    schema/    the feature schema JSON (featureGroups, label, order)
    sql/       training_set.sql, the query template (functions/training/sql/)

What it does: renders the template from the schema, the Glue tables and the window; runs it
in the given Athena workgroup as an UNLOAD (CSV text, uncompressed) to a staging prefix of
this run; copies the files into place under `--output-s3-uri`; removes the staging prefix.

Outputs (under `--output-s3-uri`, the step's `dataset` output):
    train/*.csv, validation/*.csv
        label first, then the schema's `order`, no header (the built-in XGBoost algorithm's
        CSV convention); a feature with no value is left empty (missing for XGBoost), or is
        the schema's `default` where one is declared
    baseline/*.csv
        the training split's features only: the schema's `order`, no label, no header, as
        the endpoint receives them; the data-quality baseline of Model Monitor, which names
        these columns `_c0`, `_c1`, ... in the baseline and in the captured requests alike
    columns.json       `[label, *order]`
    training_set.sql   the query that built them; build.json: window, split, Athena query
(the last three are written locally to /opt/ml/processing/output and uploaded by the job).

Window: the `--training-window-days` days before `--as-of` (default: now), (start, end]. The
split is by time: transactions in the newest 20% of the window validate, the older ones
train, so the model is judged on data from after what it learned from, as in production
(and the split is the same in every engine: no random numbers, no row counting).

Point-in-time rule: each transaction gets a joined group's features as they were strictly
before the transaction's event time (the newest record of its key with an earlier event
time). A record stamped exactly at the transaction's time is not used: the streaming
aggregator writes a card's aggregates at the time of the transaction it has just counted,
so that record already includes the transaction itself.

Offline-store bookkeeping: of several writes of one (record, event time) the newest wins
(by `write_time`, then `api_invocation_time`; a deletion wins an exact tie), as in the online
store; a newest write with `is_deleted` means the record did not exist from that event time
on. A transaction is used in its current version (latest event time), unless that is a
deletion. `write_time`, `api_invocation_time` and `is_deleted` are not features. Event times
are ISO-8601 strings or fractional epoch seconds, as each group declares its event time
feature, compared at millisecond precision (Feature Store's).

Labels: the Glue table over the ground-truth CSVs (`<record id>,<label>`, a header row
allowed); a later file (by S3 key) replaces an earlier one's label of a transaction (a
chargeback corrects an earlier verdict); within one file fraud wins. Rows in a table have no
order, so "later row of the same file" (the pandas version's rule) cannot be expressed.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")

BASE_GROUP = "transactions"
EVENT_TIME = "event_time"
BOOKKEEPING = ("write_time", "api_invocation_time", "is_deleted")
# Record identifiers when the schema does not name them (the registry format does).
DEFAULT_RECORD_IDS = {
    "transactions": "transaction_id",
    "card_aggregates": "card_id",
    "customer_profile": "customer_id",
}
VALIDATION_FRACTION = 0.2
PARTS = ("train", "validation", "baseline")
NUMERIC_TYPES = {"integral": "BIGINT", "fractional": "DOUBLE"}
UNLOAD_OPTIONS = (
    "format = 'TEXTFILE', field_delimiter = ',', compression = 'NONE', "
    "partitioned_by = ARRAY['part']"
)
DAY_MS = 86_400_000
COPY_LIMIT = 5 * 1024**3  # CopyObject's maximum object size
UTC = timezone.utc  # noqa: UP017 - the processing image runs Python 3.10 (no datetime.UTC)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GLUE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/([^'\\\s]*)$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_BLOCK = re.compile(r"^-- \{\{#(\w+)\}\}\n(.*?)^-- \{\{/\1\}\}\n", re.DOTALL | re.MULTILINE)


class DatasetError(Exception):
    """The inputs cannot make a training set; the message says why."""


# --- schema ----------------------------------------------------------------------------------


def record_identifier(group: Mapping[str, Any]) -> str:
    """The group's record identifier feature."""
    name = group.get("recordIdentifier") or DEFAULT_RECORD_IDS.get(group["name"])
    if not name:
        raise DatasetError(f"feature group {group['name']}: no recordIdentifier in the schema")
    return str(name)


def event_time_feature(group: Mapping[str, Any]) -> str:
    """The group's event time feature."""
    return str(group.get("eventTime") or EVENT_TIME)


def event_time_type(group: Mapping[str, Any]) -> str:
    """`string` (ISO-8601) or `fractional`/`integral` (epoch seconds), as the group declares
    its event time feature; ISO-8601 when the schema does not list it."""
    name = event_time_feature(group)
    declared = [str(f["type"]).lower() for f in group["features"] if f["name"] == name]
    kind = declared[0] if declared else "string"
    if kind not in ("string", *NUMERIC_TYPES):
        raise DatasetError(f"feature group {group['name']}: event time {name!r} is {kind}")
    return kind


def feature_sources(schema: Mapping[str, Any]) -> dict[str, str]:
    """Feature in `order` -> the feature group that holds it (exactly one must)."""
    holders: dict[str, list[str]] = {}
    for group in schema["featureGroups"]:
        for feature in group["features"]:
            holders.setdefault(feature["name"], []).append(group["name"])
    sources = {}
    for name in schema["order"]:
        groups = holders.get(name, [])
        if len(groups) != 1:
            where = f"in {', '.join(groups)}" if groups else "in no feature group"
            raise DatasetError(f"feature {name!r} must be in exactly one feature group, is {where}")
        sources[name] = groups[0]
    return sources


def feature_specs(schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Feature name -> its declaration (`type`, optional `default`) in the schema."""
    return {f["name"]: f for group in schema["featureGroups"] for f in group["features"]}


# --- the window ------------------------------------------------------------------------------


class Window(NamedTuple):
    """Epoch milliseconds: transactions in (start, end]; before `split` train, from it on
    validate."""

    start_ms: int
    end_ms: int
    split_ms: int

    @staticmethod
    def before(as_of: datetime, days: int) -> Window:
        """The `days` days before `as_of` (timezone-aware), at millisecond precision."""
        if days < 1:
            raise DatasetError("the training window must be at least 1 day")
        end_ms = int(as_of.timestamp() * 1000)
        start_ms = end_ms - days * DAY_MS
        split_ms = end_ms - round((end_ms - start_ms) * VALIDATION_FRACTION)
        return Window(start_ms, end_ms, split_ms)

    def describe(self) -> dict[str, str]:
        return {name: iso(getattr(self, f"{name}_ms")) for name in ("start", "split", "end")}


def iso(epoch_ms: int) -> str:
    """`2024-05-01T12:00:00.000Z`."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_as_of(text: str | None) -> datetime:
    """ISO-8601 (a trailing Z allowed, naive means UTC), or now."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DatasetError(f"--as-of is not an ISO-8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- rendering the query ---------------------------------------------------------------------


class Tables(NamedTuple):
    """Where the query reads: Glue database and table of each feature group's offline store,
    and the labels table."""

    database: str
    groups: Mapping[str, str]
    labels_database: str
    labels_table: str


def quote(name: str) -> str:
    """A column name as a quoted identifier (validated: no quoting games)."""
    if not _IDENTIFIER.match(name):
        raise DatasetError(f"{name!r} is not a plain identifier (letters, digits, underscores)")
    if name.startswith("pit_") or name in BOOKKEEPING:
        raise DatasetError(f"{name!r} is reserved (offline-store bookkeeping or the query's own)")
    return f'"{name}"'


def table_name(database: str, table: str) -> str:
    for name in (database, table):
        if not _GLUE_NAME.match(name):
            raise DatasetError(f"{name!r} is not a Glue name (letters, digits, underscores)")
    return f'"{database}"."{table}"'


def event_ms(column: str, kind: str) -> str:
    """SQL: the event time column as epoch milliseconds (BIGINT)."""
    if kind == "string":
        return f"CAST(round(to_unixtime(from_iso8601_timestamp({column})) * 1000) AS BIGINT)"
    return f"CAST(round({column} * 1000) AS BIGINT)"


def _day(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).strftime("%Y-%m-%d")


def scan_from(column: str, kind: str, start_ms: int) -> str:
    """SQL on the raw column, true for every event time after `start_ms` (and a little
    before): a predicate the engine can push into the scan (partition and file pruning)."""
    if kind == "string":
        return f"{column} >= '{_day(start_ms)}'"
    return f"{column} >= {start_ms // 1000 - 1}"


def scan_until(column: str, kind: str, end_ms: int) -> str:
    """SQL on the raw column, true for every event time before `end_ms` (and a little after)."""
    if kind == "string":
        return f"{column} < '{_day(end_ms + DAY_MS)}'"
    return f"{column} < {end_ms // 1000 + 2}"


def feature_text(column: str, kind: str) -> str:
    """SQL: the feature as the CSV field (typed as declared; empty when missing)."""
    return f"COALESCE(CAST(CAST({column} AS {NUMERIC_TYPES[kind]}) AS VARCHAR), '')"


def default_text(name: str, spec: Mapping[str, Any]) -> str | None:
    """The declared default as the CSV field, or None."""
    default = spec.get("default")
    if default is None:
        return None
    if isinstance(default, bool) or not isinstance(default, int | float):
        raise DatasetError(f"feature {name!r}: default {default!r} is not a number")
    if str(spec["type"]).lower() == "integral":
        if default % 1:
            raise DatasetError(f"feature {name!r} is integral, its default is {default!r}")
        return str(int(default))
    return repr(float(default))


def fill(text: str, values: Mapping[str, object]) -> str:
    """Replace every `{{name}}`; an unknown name is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise DatasetError(f"training-set template: no value for {{{{{name}}}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(value, text)


def render_template(
    template: str,
    values: Mapping[str, object],
    blocks: Mapping[str, Sequence[Mapping[str, object]]],
) -> str:
    """`fill`, after repeating each `-- {{#block}}` ... `-- {{/block}}` once per item."""

    def expand(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        if name not in blocks:
            raise DatasetError(f"training-set template: no items for block {name!r}")
        return "".join(fill(body, {**values, **item}) for item in blocks[name])

    return fill(_BLOCK.sub(expand, template), values)


def render_training_set(
    template: str, schema: Mapping[str, Any], tables: Tables, window: Window
) -> str:
    """The training-set query for this schema, these tables and this window: rows of
    (`line`, `part`), `line` the CSV text of the row, `part` train, validation or baseline."""
    groups = {group["name"]: group for group in schema["featureGroups"]}
    if BASE_GROUP not in groups:
        raise DatasetError(f"the schema has no {BASE_GROUP!r} feature group")
    label, order = str(schema["label"]), [str(name) for name in schema["order"]]
    if not order:
        raise DatasetError("the schema's order names no features")
    quote(label)
    sources, specs = feature_sources(schema), feature_specs(schema)
    kinds = {}
    for name in order:
        kinds[name] = str(specs[name]["type"]).lower()
        if kinds[name] not in NUMERIC_TYPES:
            raise DatasetError(f"feature {name!r} is {kinds[name]}; the model takes numbers")
    missing = sorted({BASE_GROUP, *sources.values()} - set(tables.groups))
    if missing:
        raise DatasetError(f"no offline-store table given for feature groups {missing}")

    base = groups[BASE_GROUP]
    base_id, base_time = record_identifier(base), event_time_feature(base)
    base_kind = event_time_type(base)
    joined = [name for name in groups if name != BASE_GROUP and name in sources.values()]
    keys = list(dict.fromkeys(record_identifier(groups[name]) for name in joined))
    base_features = [name for name in order if sources[name] == BASE_GROUP]
    declared = {f["name"] for f in base["features"]}
    absent = [key for key in keys if key not in declared]
    if absent:
        raise DatasetError(f"the {BASE_GROUP} group lacks the join keys {absent}")

    # Columns carried from the transactions through every join: name -> SQL type.
    carried = {"pit_record_id": "VARCHAR", "pit_event_ms": "BIGINT"}
    carried |= {quote(key): "VARCHAR" for key in keys}
    carried |= {quote(name): "VARCHAR" for name in base_features}
    carried |= {"pit_label": "INTEGER", "pit_split": "VARCHAR"}
    base_columns = [f"CAST({quote(key)} AS VARCHAR) AS {quote(key)}" for key in keys] + [
        f"{feature_text(quote(name), kinds[name])} AS {quote(name)}" for name in base_features
    ]
    base_names = [quote(name) for name in (*keys, *base_features)]

    values: dict[str, object] = {
        "base_id": quote(base_id),
        "base_event_ms": event_ms(quote(base_time), base_kind),
        "base_columns": ",\n        ".join(base_columns),
        "base_column_names": ", ".join(base_names),
        "labelled_base_columns": ", ".join(f"b.{name}" for name in base_names),
        "base_table": table_name(tables.database, tables.groups[BASE_GROUP]),
        "base_scan_bound": scan_from(quote(base_time), base_kind, window.start_ms),
        "window_start_ms": window.start_ms,
        "window_end_ms": window.end_ms,
        "split_ms": window.split_ms,
        "label_record_id": quote(base_id),
        "label_record_id_name": base_id,
        "label": quote(label),
        "label_name": label,
        "labels_table": table_name(tables.labels_database, tables.labels_table),
    }
    fields = {name: f"r.{quote(name)}" for name in base_features}
    blocks, previous = [], "labelled"
    for name in joined:
        group = groups[name]
        key, time_column = quote(record_identifier(group)), quote(event_time_feature(group))
        kind = event_time_type(group)
        features = [feature for feature in order if sources[feature] == name]
        packed = f"pit_{name}"
        quote(name)  # the group name prefixes CTE names
        blocks.append(
            {
                "group": name,
                "key": key,  # the record identifier, also the transactions' column
                "event_ms": event_ms(time_column, kind),
                "payload": " || ".join(
                    f"'|' || {feature_text(quote(f), kinds[f])}" for f in features
                ),
                "table": table_name(tables.database, tables.groups[name]),
                "scan_bound": scan_until(time_column, kind, window.end_ms),
                "previous": previous,
                "row_columns": ", ".join(carried),
                "null_row_columns": ", ".join(f"CAST(NULL AS {t})" for t in carried.values()),
                "packed": packed,
            }
        )
        for index, feature in enumerate(features, start=2):
            fields[feature] = (
                f"CASE WHEN substr(r.{packed}, 21, 1) = 'L' "
                f"THEN split_part(r.{packed}, '|', {index}) ELSE '' END"
            )
        carried[packed] = "VARCHAR"
        previous = f"{name}_rows"

    line = []
    for name in order:
        default = default_text(name, specs[name])
        field = fields[name]
        line.append(field if default is None else f"COALESCE(NULLIF({field}, ''), '{default}')")
    values["feature_line"] = "\n            || ',' || ".join(line)
    values["joined_rows"] = f"{previous} r"
    return render_template(template, values, {"group": blocks})


def unload_statement(query: str, destination: str) -> str:
    """Athena's UNLOAD of the query's rows to `destination` (an empty S3 prefix): CSV text,
    uncompressed, one directory per `part` (`part=train/` ...)."""
    _split_s3(destination)
    return (
        f"UNLOAD (SELECT line, part FROM (\n{query.rstrip().rstrip(';')}\n) training_set)\n"
        f"TO '{destination}'\nWITH ({UNLOAD_OPTIONS})"
    )


# --- Athena ----------------------------------------------------------------------------------

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def run_query(
    athena: Any,
    statement: str,
    *,
    workgroup: str,
    database: str,
    output_location: str,
    kms_key_arn: str,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    first_poll: float = 1.0,
    max_poll: float = 30.0,
) -> dict[str, Any]:
    """Start `statement` in `workgroup` and wait for it (polls back off from `first_poll` to
    `max_poll` seconds); the finished QueryExecution. Raises DatasetError with Athena's
    reason if it fails or is cancelled, and stops it on a timeout or an interruption."""
    query_id = athena.start_query_execution(
        QueryString=statement,
        WorkGroup=workgroup,
        QueryExecutionContext={"Catalog": "AwsDataCatalog", "Database": database},
        # Where the workgroup enforces its own settings (it should), these are overridden;
        # either way the results and the UNLOAD files are encrypted with the stack key.
        ResultConfiguration={
            "OutputLocation": output_location,
            "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": kms_key_arn},
        },
    )["QueryExecutionId"]
    deadline, delay, finished = clock() + timeout_seconds, first_poll, False
    try:
        while True:
            execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state in TERMINAL:
                finished = True
                break
            if clock() + delay > deadline:
                raise DatasetError(
                    f"Athena query {query_id} still {state} after {timeout_seconds:.0f} s; "
                    "stopped it"
                )
            sleep(delay)
            delay = min(delay * 1.5, max_poll)
    finally:
        if not finished:
            athena.stop_query_execution(QueryExecutionId=query_id)
    if state != "SUCCEEDED":
        reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get(
            "ErrorMessage", "no reason given"
        )
        raise DatasetError(f"Athena query {query_id} {state}: {reason}")
    return execution


# --- S3 --------------------------------------------------------------------------------------


def _split_s3(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri)
    if not match:
        raise DatasetError(f"not an S3 URI this job can use: {uri!r}")
    return match.group(1), match.group(2)


def _keys(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


def delete_prefix(s3: Any, uri: str) -> int:
    """Delete every object under the prefix `uri`; how many there were."""
    bucket, prefix = _split_s3(uri)
    keys = [item["Key"] for item in _keys(s3, bucket, prefix)]
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys)


def publish(s3: Any, unloaded: str, dataset: str, kms_key_arn: str) -> dict[str, list[str]]:
    """Copy the UNLOAD files (`<unloaded>part=<part>/<file>`) to `<dataset>/<part>/<file>.csv`,
    replacing what an earlier attempt left there; part -> the keys written."""
    source_bucket, source_prefix = _split_s3(unloaded)
    bucket, prefix = _split_s3(dataset.rstrip("/"))
    stale = [
        {"Key": item["Key"]}
        for item in _keys(s3, bucket, f"{prefix}/")
        if item["Key"][len(prefix) + 1 :].split("/")[0] in PARTS
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000]})
    written: dict[str, list[str]] = {part: [] for part in PARTS}
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
    for item in _keys(s3, source_bucket, source_prefix):
        match = re.match(r"part=([a-z]+)/([^/]+)$", item["Key"][len(source_prefix) :])
        if not match or match.group(1) not in written or not item.get("Size"):
            continue
        part, name = match.groups()
        key = f"{prefix}/{part}/{name}" + ("" if name.endswith(".csv") else ".csv")
        source = {"Bucket": source_bucket, "Key": item["Key"]}
        if item["Size"] < COPY_LIMIT:
            s3.copy_object(CopySource=source, Bucket=bucket, Key=key, **encryption)
        else:  # multipart copy (UploadPartCopy), for objects of 5 GiB and more
            s3.copy(source, bucket, key, ExtraArgs=encryption)
        written[part].append(key)
    return written


# --- files -----------------------------------------------------------------------------------


def read_schema(directory: Path) -> dict[str, Any]:
    """The one JSON file in `directory` (the schema input)."""
    files = sorted(directory.rglob("*.json"))
    if len(files) != 1:
        raise DatasetError(
            f"expected one feature schema JSON under {directory}, found {len(files)}"
        )
    return json.loads(files[0].read_text(encoding="utf-8"))


def write_outputs(out: Path, columns: list[str], query: str, build: Mapping[str, Any]) -> None:
    """columns.json, the query and what the build did, for the job to upload."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "columns.json").write_text(json.dumps(columns) + "\n", encoding="utf-8")
    (out / "training_set.sql").write_text(query.rstrip() + "\n", encoding="utf-8")
    (out / "build.json").write_text(json.dumps(build, indent=2) + "\n", encoding="utf-8")


def region_of(kms_key_arn: str) -> str | None:
    """`arn:aws:kms:<region>:...` -> the region (the stack's), for clients without one."""
    parts = kms_key_arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


def _clients(region: str | None) -> tuple[Any, Any]:
    import boto3  # the image has it; imported here so the module loads without it

    region = boto3.session.Session().region_name or region
    return boto3.client("athena", region_name=region), boto3.client("s3", region_name=region)


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: Callable[[str | None], tuple[Any, Any]] = _clients,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--training-window-days", type=int, required=True)
    parser.add_argument("--as-of", help="ISO-8601 end of the window (default: now, UTC)")
    parser.add_argument("--workgroup", required=True, help="Athena workgroup (engine v3)")
    parser.add_argument("--database", required=True, help="Glue database of the offline store")
    parser.add_argument(
        "--table",
        nargs=2,
        action="append",
        required=True,
        metavar=("GROUP", "TABLE"),
        help="a feature group's offline-store Glue table (repeat per group)",
    )
    parser.add_argument("--labels-database", required=True)
    parser.add_argument("--labels-table", required=True)
    parser.add_argument("--output-s3-uri", required=True, help="this step's dataset output")
    parser.add_argument("--staging-s3-uri", required=True, help="prefix for the UNLOAD files")
    parser.add_argument("--kms-key-arn", required=True, help="the stack key (results, copies)")
    parser.add_argument("--query-timeout-seconds", type=float, default=6600.0)
    parser.add_argument("--run-id", default=None, help="staging sub-prefix (default: random)")
    parser.add_argument("--input", type=Path, default=INPUT)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--sql", type=Path, default=None, help="the query template")
    args = parser.parse_args(argv)
    if args.training_window_days < 1:
        parser.error("--training-window-days must be at least 1")

    run = f"{args.staging_s3_uri.rstrip('/')}/{args.run_id or uuid.uuid4().hex}"
    athena = s3 = None
    try:
        schema = read_schema(args.input / "schema")
        template_path = args.sql or args.input / "sql" / "training_set.sql"
        template = template_path.read_text(encoding="utf-8")
        tables = Tables(args.database, dict(args.table), args.labels_database, args.labels_table)
        window = Window.before(parse_as_of(args.as_of), args.training_window_days)
        query = render_training_set(template, schema, tables, window)
        unloaded = f"{run}/data/"
        athena, s3 = clients(region_of(args.kms_key_arn))
        execution = run_query(
            athena,
            unload_statement(query, unloaded),
            workgroup=args.workgroup,
            database=args.database,
            output_location=f"{run}/results/",
            kms_key_arn=args.kms_key_arn,
            timeout_seconds=args.query_timeout_seconds,
            sleep=sleep,
        )
        written = publish(s3, unloaded, args.output_s3_uri, args.kms_key_arn)
        described = window.describe()
        if not written["train"]:
            raise DatasetError(
                f"no labelled transactions in the {args.training_window_days} days before "
                f"{described['end']} older than the validation split ({described['split']})"
            )
        if not written["validation"]:
            raise DatasetError(
                f"no labelled transactions from {described['split']} to {described['end']} "
                "(the validation split, the newest 20% of the window)"
            )
    except DatasetError as error:
        print(f"BuildDataset failed: {error}", file=sys.stderr)
        return 1
    finally:
        if s3 is not None:
            delete_prefix(s3, f"{run}/")

    columns = [str(schema["label"]), *schema["order"]]
    statistics = execution.get("Statistics", {})
    build = {
        "window": described,
        "trainingWindowDays": args.training_window_days,
        "queryExecutionId": execution["QueryExecutionId"],
        "workGroup": args.workgroup,
        "dataScannedInBytes": statistics.get("DataScannedInBytes"),
        "engineExecutionTimeInMillis": statistics.get("EngineExecutionTimeInMillis"),
        "files": {part: len(keys) for part, keys in written.items()},
    }
    write_outputs(args.output, columns, query, build)
    print(
        f"training set: window {described['start']} .. {described['end']}, validation from "
        f"{described['split']}; files {build['files']}; Athena query "
        f"{build['queryExecutionId']} scanned {build['dataScannedInBytes']} bytes"
    )
    return 0


def _stop_on_sigterm() -> None:
    """SageMaker stops a job with SIGTERM: raise, so `run_query` stops the Athena query and
    the staging files are removed."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"BuildDataset stopped (signal {signum})")

    signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    _stop_on_sigterm()
    sys.exit(main())
