"""The training-set SQL (functions/training/sql/training_set.sql), run on DuckDB against
offline-store-shaped tables and compared row by row with a brute-force reference: plain
loops over the same records, following the rules in build_dataset.py's docstring.

Athena runs the very text the tests run. DuckDB lacks two Trino functions the query calls;
the macros below stand in for them (nothing else differs). The tables look as Feature Store
writes its offline store: the group's features as columns (string -> VARCHAR, integral ->
BIGINT, fractional -> DOUBLE; event times as ISO-8601 strings or fractional epoch seconds,
as the group declares), plus write_time, api_invocation_time and is_deleted. The labels table
is the Glue CSV table over the ground truth: strings, plus Athena's "$path" pseudo-column.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.training.definition import SCRIPTS_DIR, TRAINING_SET_SQL


def _script(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"dataset_sql_{name}", SCRIPTS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_dataset = _script("build_dataset")
TEMPLATE = TRAINING_SET_SQL.read_text(encoding="utf-8")

# Trino functions the query uses that DuckDB does not have, with Trino's types: a timestamp
# with time zone from an ISO-8601 string, and its epoch seconds as a double.
TRINO_MACROS = (
    "CREATE MACRO from_iso8601_timestamp(text) AS CAST(text AS TIMESTAMPTZ)",
    "CREATE MACRO to_unixtime(moment) AS epoch(moment)",
)

SCHEMA: dict[str, Any] = {
    "featureGroups": [
        {
            "name": "transactions",
            "recordIdentifier": "transaction_id",
            "eventTime": "event_time",
            "features": [
                {"name": "transaction_id", "type": "string"},
                {"name": "card_id", "type": "string"},
                {"name": "customer_id", "type": "string"},
                {"name": "amount", "type": "fractional"},
                {"name": "event_time", "type": "string"},
            ],
        },
        {
            "name": "card_aggregates",
            "recordIdentifier": "card_id",
            "eventTime": "event_time",
            "features": [
                {"name": "card_id", "type": "string"},
                # Epoch seconds here, ISO-8601 strings in the other groups: both kinds of
                # event time meet in one join.
                {"name": "event_time", "type": "fractional"},
                {"name": "txn_count_10m", "type": "integral", "default": 0},
                {"name": "txn_amount_10m", "type": "fractional", "default": 0.0},
            ],
        },
        {
            "name": "customer_profile",
            "recordIdentifier": "customer_id",
            "eventTime": "event_time",
            "features": [
                {"name": "customer_id", "type": "string"},
                {"name": "event_time", "type": "string"},
                {"name": "account_age_days", "type": "integral"},
                {"name": "avg_monthly_spend", "type": "fractional"},
            ],
        },
    ],
    "label": "is_fraud",
    # Interleaved across groups, as the model's order may be.
    "order": [
        "amount",
        "txn_count_10m",
        "account_age_days",
        "txn_amount_10m",
        "avg_monthly_spend",
    ],
}
GROUPS = {group["name"]: group for group in SCHEMA["featureGroups"]}
KINDS = {f["name"]: f["type"] for g in SCHEMA["featureGroups"] for f in g["features"]}
DEFAULTS = {
    f["name"]: f["default"]
    for g in SCHEMA["featureGroups"]
    for f in g["features"]
    if "default" in f
}
TABLES = build_dataset.Tables(
    database="fraud_features",
    groups={
        "transactions": "fraud_dev_transactions",
        "card_aggregates": "fraud_dev_card_aggregates",
        "customer_profile": "fraud_dev_customer_profile",
    },
    labels_database="fraud_ground_truth",
    labels_table="labels",
)
SQL_TYPES = {"string": "VARCHAR", "integral": "BIGINT", "fractional": "DOUBLE"}
END = datetime(2024, 5, 1, 12, tzinfo=UTC)
SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


E = ms(END)


# --- the offline store as data ---------------------------------------------------------------


def record(
    group: str,
    at: int,
    *,
    written: int,
    invoked: int | None = None,
    deleted: bool = False,
    iso_millis: bool = True,
    **features: Any,
) -> dict[str, Any]:
    """One offline-store row of `group`, event time `at` (epoch ms). Features not given are
    null (as in the deletion markers Feature Store writes)."""
    spec = GROUPS[group]
    time_kind = KINDS_BY_GROUP[group][spec["eventTime"]]
    if time_kind == "string":
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=at)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        stamp: Any = text + (f".{at % 1000:03d}Z" if iso_millis or at % 1000 else "Z")
    else:
        stamp = at / 1000
    row = {name: None for name in KINDS_BY_GROUP[group]}
    row.update(features)
    row[spec["eventTime"]] = stamp
    row["write_time"] = written
    row["api_invocation_time"] = written if invoked is None else invoked
    row["is_deleted"] = deleted
    row["_at"] = at  # for the reference only; not a column
    return row


KINDS_BY_GROUP = {
    group["name"]: {f["name"]: f["type"] for f in group["features"]}
    for group in SCHEMA["featureGroups"]
}


def label(record_id: str | None, verdict: str | None, path: str) -> dict[str, Any]:
    return {"transaction_id": record_id, "is_fraud": verdict, "$path": path}


def _timestamp(epoch_ms: int | None) -> datetime | None:
    if epoch_ms is None:
        return None
    return datetime(1970, 1, 1) + timedelta(milliseconds=epoch_ms)


def _table_columns() -> dict[str, dict[str, str]]:
    """Table -> column -> DuckDB type, as Feature Store lays out the offline store."""
    tables = {}
    for group in SCHEMA["featureGroups"]:
        columns = {f["name"]: SQL_TYPES[f["type"]] for f in group["features"]}
        columns |= {"write_time": "TIMESTAMP", "api_invocation_time": "TIMESTAMP"}
        columns |= {"is_deleted": "BOOLEAN"}
        tables[f'"{TABLES.database}"."{TABLES.groups[group["name"]]}"'] = columns
    labels = {"transaction_id": "VARCHAR", "is_fraud": "VARCHAR", "$path": "VARCHAR"}
    tables[f'"{TABLES.labels_database}"."{TABLES.labels_table}"'] = labels
    return tables


TABLE_COLUMNS = _table_columns()


@functools.cache
def database() -> Any:
    """One in-memory DuckDB for the module (connecting costs more than a query): the macros
    and the empty tables; `run_sql` refills the tables."""
    connection = duckdb.connect(config={"threads": 1})
    connection.execute("SET TimeZone = 'UTC'")
    for macro in TRINO_MACROS:
        connection.execute(macro)
    for schema in (TABLES.database, TABLES.labels_database):
        connection.execute(f'CREATE SCHEMA "{schema}"')
    for table, columns in TABLE_COLUMNS.items():
        names = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        connection.execute(f"CREATE TABLE {table} ({names})")
    return connection


def run_sql(
    stores: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Sequence[Mapping[str, Any]],
    window: Any,
    schema: Mapping[str, Any] = SCHEMA,
) -> list[tuple[str, str]]:
    """The rendered query's (part, line) rows, run on DuckDB over these tables."""
    connection = database()
    contents = {
        f'"{TABLES.database}"."{TABLES.groups[group]}"': [
            {
                **row,
                "write_time": _timestamp(row["write_time"]),
                "api_invocation_time": _timestamp(row["api_invocation_time"]),
            }
            for row in stores.get(group, [])
        ]
        for group in TABLES.groups
    }
    contents[f'"{TABLES.labels_database}"."{TABLES.labels_table}"'] = list(labels)
    for table, rows in contents.items():
        connection.execute(f"DELETE FROM {table}")
        columns = TABLE_COLUMNS[table]
        if rows:
            marks = ", ".join(["(" + ", ".join("?" for _ in columns) + ")"] * len(rows))
            values = [row.get(name) for row in rows for name in columns]
            connection.execute(f"INSERT INTO {table} VALUES {marks}", values)
    query = build_dataset.render_training_set(TEMPLATE, schema, TABLES, window)
    return [(part, line) for line, part in connection.execute(query).fetchall()]


# --- the reference: plain loops --------------------------------------------------------------


def newest_writes(rows: Iterable[Mapping[str, Any]], key: str) -> dict[tuple[Any, int], Any]:
    """(record id, event ms) -> its newest write (write_time, then api_invocation_time; a
    deletion wins an exact tie)."""
    newest: dict[tuple[Any, int], Any] = {}
    for row in rows:
        if row[key] is None:
            continue
        slot = (str(row[key]), row["_at"])
        order = (row["write_time"], row["api_invocation_time"], row["is_deleted"])
        if slot not in newest or order > newest[slot][0]:
            newest[slot] = (order, row)
    return {slot: row for slot, (_, row) in newest.items()}


def reference_labels(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    verdicts = {"1": 1, "1.0": 1, "true": 1, "0": 0, "0.0": 0, "false": 0}
    best: dict[str, tuple[str, int]] = {}
    for row in rows:
        record_id = row["transaction_id"].strip() if row["transaction_id"] is not None else ""
        raw = row["is_fraud"].strip() if row["is_fraud"] is not None else None
        if not record_id or (record_id == "transaction_id" and raw == "is_fraud"):
            continue
        value = verdicts[raw.lower()]  # a KeyError here means the generator made a bad label
        candidate = (row["$path"], value)
        if record_id not in best or candidate > best[record_id]:
            best[record_id] = candidate
    return {record_id: value for record_id, (_, value) in best.items()}


def reference(
    stores: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Sequence[Mapping[str, Any]],
    window: Any,
) -> list[tuple[str, tuple[Any, ...]]]:
    """(part, (label, *features)) per output row, features None when missing."""
    current: dict[str, Any] = {}
    for (record_id, at), row in newest_writes(stores["transactions"], "transaction_id").items():
        if record_id not in current or at > current[record_id]["_at"]:
            current[record_id] = row
    verdicts = reference_labels(labels)
    histories = {
        group: newest_writes(stores.get(group, []), GROUPS[group]["recordIdentifier"])
        for group in ("card_aggregates", "customer_profile")
    }
    rows = []
    for record_id, transaction in current.items():
        at = transaction["_at"]
        if transaction["is_deleted"] or not window.start_ms < at <= window.end_ms:
            continue
        if record_id not in verdicts:
            continue
        values: dict[str, Any] = {"amount": transaction["amount"]}
        for group, history in histories.items():
            key = transaction[GROUPS[group]["recordIdentifier"]]
            before = [
                (record_at, row)
                for (record_key, record_at), row in history.items()
                if key is not None and record_key == str(key) and record_at < at
            ]
            chosen = max(before, key=lambda item: item[0])[1] if before else None
            for name in KINDS_BY_GROUP[group]:
                if name in SCHEMA["order"]:
                    alive = chosen is not None and not chosen["is_deleted"]
                    values[name] = chosen[name] if alive else None
        features = []
        for name in SCHEMA["order"]:
            value = values[name]
            features.append(DEFAULTS.get(name) if value is None else value)
        part = "train" if at < window.split_ms else "validation"
        rows.append((part, (verdicts[record_id], *features)))
        if part == "train":
            rows.append(("baseline", tuple(features)))
    return sorted(rows, key=repr)


def parse(rows: Iterable[tuple[str, str]]) -> list[tuple[str, tuple[Any, ...]]]:
    """SQL output lines as typed values: '' is missing (None), integral features int."""
    kinds = [KINDS[name] for name in SCHEMA["order"]]
    parsed = []
    for part, line in rows:
        fields = line.split(",")
        if part != "baseline":
            assert fields[0] in ("0", "1"), line
            values: list[Any] = [int(fields[0])]
            fields = fields[1:]
        else:
            values = []
        assert len(fields) == len(kinds), line
        for kind, field in zip(kinds, fields, strict=True):
            if field == "":
                values.append(None)
            elif kind == "integral":
                assert re.fullmatch(r"-?\d+", field), line  # no "3.0" for an integral feature
                values.append(int(field))
            else:
                values.append(float(field))
        parsed.append((part, tuple(values)))
    return sorted(parsed, key=repr)


# --- explicit cases --------------------------------------------------------------------------

WINDOW = build_dataset.Window.before(END, 10)  # Apr 21 12:00 .. May 1 12:00, split Apr 29 12:00
T1 = ms(datetime(2024, 4, 25, 10, tzinfo=UTC))
T2 = ms(datetime(2024, 4, 26, 9, 30, tzinfo=UTC))
T3 = ms(datetime(2024, 4, 30, 8, tzinfo=UTC)) + 250  # validation; fractional seconds
T4 = ms(datetime(2024, 4, 27, 16, tzinfo=UTC))
W = ms(datetime(2024, 5, 1, 13, tzinfo=UTC))  # when the offline store was written


def tx(
    record_id: str,
    at: int,
    card: str | None,
    customer: str | None,
    amount: float | None,
    **bookkeeping: Any,
) -> dict[str, Any]:
    return record(
        "transactions",
        at,
        written=bookkeeping.pop("written", W),
        transaction_id=record_id,
        card_id=card,
        customer_id=customer,
        amount=amount,
        **bookkeeping,
    )


def card(key: str, at: int, count: int | None, total: float | None, **bookkeeping: Any) -> Any:
    return record(
        "card_aggregates",
        at,
        written=bookkeeping.pop("written", at + SECOND),
        card_id=key,
        txn_count_10m=count,
        txn_amount_10m=total,
        **bookkeeping,
    )


def profile(key: str, at: int, age: int | None, spend: float | None, **bookkeeping: Any) -> Any:
    return record(
        "customer_profile",
        at,
        written=bookkeeping.pop("written", at + SECOND),
        customer_id=key,
        account_age_days=age,
        avg_monthly_spend=spend,
        **bookkeeping,
    )


def explicit_stores() -> dict[str, list[dict[str, Any]]]:
    transactions = [
        tx("t1", T1, "c1", "u1", 20.0, iso_millis=False),  # "...T10:00:00Z"
        tx("t2", T2, "c2", "u2", 5.25),
        tx("t3", T3, "c1", "u1", 99.5),
        tx("t4", T4, "c9", "u9", None),  # no aggregates, no profile, no amount
        # Written twice in one offline-store batch: the later PutRecord wins.
        tx("t5", T4 + HOUR, "c1", "u1", 1.0, written=W, invoked=W - 2 * MINUTE),
        tx("t5", T4 + HOUR, "c1", "u1", 2.0, written=W, invoked=W - MINUTE),
        # Deleted: its newest write of its latest event time is a deletion.
        tx("t6", T4, "c1", "u1", 3.0),
        tx("t6", T4, "c1", "u1", None, written=W + HOUR, deleted=True),
        # Re-stamped: its current version (latest event time) is outside the window.
        tx("t7", T2, "c1", "u1", 4.0),
        tx("t7", E + HOUR, "c1", "u1", 4.0),
        # Outside the window, labelled: before the start, at the start (excluded), at the
        # end (included), after the end.
        tx("t8", WINDOW.start_ms - DAY, "c1", "u1", 8.0),
        tx("t9", WINDOW.start_ms, "c1", "u1", 9.0),
        tx("t10", E, "c1", "u1", 10.0),
        tx("t11", E + 1, "c1", "u1", 11.0),
        tx("t12", T1, "c1", "u1", 12.0),  # unlabelled
    ]
    cards = [
        card("c1", T1 - 10 * MINUTE, 1, 10.0),
        # Late: written well after t1, stamped before it: used. Written three times: the
        # newest write wins (write_time, then api_invocation_time).
        card("c1", T1 - MINUTE, 3, 30.0, written=T1 + HOUR),
        card("c1", T1 - MINUTE, 4, 40.0, written=T1 + 2 * HOUR, invoked=T1 + 90 * MINUTE),
        card("c1", T1 - MINUTE, 5, 50.0, written=T1 + 2 * HOUR, invoked=T1 + 80 * MINUTE),
        # At exactly t1's time (the aggregate counting t1 itself) and just after: not used.
        card("c1", T1, 6, 60.0),
        # Just after t1 (so not for t1, but for later transactions); two writes in one batch,
        # the later PutRecord listed last here, first above: no tie-break by file order.
        card("c1", T1 + 1, 8, 80.0, written=T1 + DAY, invoked=T1 + 1),
        card("c1", T1 + 1, 7, 70.0, written=T1 + DAY, invoked=T1 + 2),
        # c2: its latest record before t2 was deleted (a later write of the same event time
        # is a deletion): missing, not the older record.
        card("c2", T2 - 2 * HOUR, 8, 80.0),
        card("c2", T2 - HOUR, 9, 90.0),
        # (A deletion is missing whatever values its row holds: the flag decides.)
        card("c2", T2 - HOUR, 99, 99.0, written=T2, deleted=True),
    ]
    profiles = [
        profile("u1", ms(datetime(2024, 1, 1, tzinfo=UTC)), 400, 55.5),
        # Stamped exactly at t1 (written as "...T10:00:00.000Z", t1 as "...T10:00:00Z"): the
        # same instant, so not used for t1; used for t3.
        profile("u1", T1, 999, None),
        profile("u2", ms(datetime(2024, 3, 1, tzinfo=UTC)), 100, 12.0),
        profile("u2", T2 - DAY, 1, 1.0, deleted=True),  # u2 no longer exists at t2
    ]
    return {"transactions": transactions, "card_aggregates": cards, "customer_profile": profiles}


OLD, NEW = "s3://gt/labels/2024-04-28.csv", "s3://gt/labels/2024-04-30.csv"
EXPLICIT_LABELS = [
    label("transaction_id", "is_fraud", OLD),  # a header row
    label("t1", "1", OLD),
    label(" t1 ", "0", NEW),  # the newer file corrects the verdict
    label("t2", "0", NEW),
    label("t2", "1", NEW),  # twice in one file: fraud wins
    label("t3", " true ", OLD),
    label("t4", "0", OLD),
    label("t5", "1.0", OLD),
    *(label(f"t{n}", "0", OLD) for n in range(6, 12)),
    label("t99", "1", OLD),  # no such transaction
]
EXPECTED_LINES = [
    # label, amount, txn_count_10m, account_age_days, txn_amount_10m, avg_monthly_spend
    ("train", "0,20.0,4,400,40.0,55.5"),
    ("baseline", "20.0,4,400,40.0,55.5"),
    ("train", "1,5.25,0,,0.0,"),  # deleted card record -> defaults; deleted profile -> empty
    ("baseline", "5.25,0,,0.0,"),
    ("train", "0,,0,,0.0,"),  # t4: nothing known but the transaction
    ("baseline", ",0,,0.0,"),
    ("train", "1,2.0,7,999,70.0,"),  # t5
    ("baseline", "2.0,7,999,70.0,"),
    ("validation", "1,99.5,7,999,70.0,"),  # t3
    ("validation", "0,10.0,7,999,70.0,"),  # t10, at the window's end
]


def test_the_explicit_cases_give_the_expected_rows() -> None:
    rows = run_sql(explicit_stores(), EXPLICIT_LABELS, WINDOW)
    assert sorted(rows) == sorted(EXPECTED_LINES)
    assert parse(rows) == reference(explicit_stores(), EXPLICIT_LABELS, WINDOW)


def test_a_record_at_exactly_the_event_time_is_not_used_and_later_ones_do_not_leak() -> None:
    stores = {
        "transactions": [tx("t1", T1, "c1", "u1", 1.0)],
        "card_aggregates": [card("c1", T1, 6, 60.0), card("c1", T1 + 1, 7, 70.0)],
        "customer_profile": [profile("u1", T1, 5, 5.0), profile("u1", T1 + DAY, 6, 6.0)],
    }
    rows = run_sql(stores, [label("t1", "0", OLD)], WINDOW)
    assert sorted(rows) == [("baseline", "1.0,0,,0.0,"), ("train", "0,1.0,0,,0.0,")]
    # One millisecond earlier, both are used.
    stores["transactions"] = [tx("t1", T1 + 1, "c1", "u1", 1.0)]
    rows = run_sql(stores, [label("t1", "0", OLD)], WINDOW)
    assert sorted(rows) == [("baseline", "1.0,6,5,60.0,5.0"), ("train", "0,1.0,6,5,60.0,5.0")]


def test_the_split_is_by_time_the_newest_fifth_of_the_window_validates() -> None:
    assert WINDOW.end_ms - WINDOW.start_ms == 10 * DAY
    assert WINDOW.end_ms - WINDOW.split_ms == 2 * DAY
    assert WINDOW.describe() == {
        "start": "2024-04-21T12:00:00.000Z",
        "split": "2024-04-29T12:00:00.000Z",
        "end": "2024-05-01T12:00:00.000Z",
    }
    at = {"just-before": WINDOW.split_ms - 1, "at": WINDOW.split_ms}
    stores = {"transactions": [tx(name, t, None, None, 1.0) for name, t in at.items()]}
    labels = [label(name, "1", OLD) for name in at]
    assert sorted(run_sql(stores, labels, WINDOW)) == [
        ("baseline", "1.0,0,,0.0,"),
        ("train", "1,1.0,0,,0.0,"),
        ("validation", "1,1.0,0,,0.0,"),
    ]


@pytest.mark.parametrize("verdict", ["maybe", "2", "", None])
def test_a_label_other_than_0_or_1_fails_the_query(verdict: str | None) -> None:
    stores = {"transactions": [tx("t1", T1, "c1", "u1", 1.0)]}
    with pytest.raises(duckdb.ConversionException, match="label is_fraud must be 0 or 1, got: "):
        run_sql(stores, [label("t1", verdict, OLD)], WINDOW)


# --- the pandas version's cases give its answers ---------------------------------------------
# (from the tests of the script this query replaced; its time split counted rows, this one
# cuts the window at 80% of its span, so the window here is 5 days: split a day before the end)


def _schema(order: list[str], without_defaults: tuple[str, ...] = ()) -> dict[str, Any]:
    groups = [
        group
        | {
            "features": [
                {k: v for k, v in f.items() if k != "default" or f["name"] not in without_defaults}
                for f in group["features"]
            ]
        }
        for group in SCHEMA["featureGroups"]
    ]
    return SCHEMA | {"featureGroups": groups, "order": order}


def test_the_pandas_version_s_data_set_comes_out_the_same() -> None:
    day, written = DAY, E + 5 * MINUTE
    rows = [
        ("t0", "c1", "u1", 10.5, E - 40 * day),  # outside the window
        ("t1", "c1", "u1", 20.0, E - 3 * day),
        ("t2", "c2", "u2", 5.25, E - 2 * day),
        ("t3", "c1", "u1", 99.99, E - 1 * day),
        ("t4", "c3", "u2", 1.0, E - 12 * HOUR),
        ("t5", "c2", "u2", 7.0, E - HOUR),  # unlabelled
    ]
    stores = {
        "transactions": [tx(n, at, c, u, a, written=written) for n, c, u, a, at in rows],
        "card_aggregates": [
            card("c1", E - 3 * day - MINUTE, 1, 12.0),
            card("c1", E - 3 * day, 2, 32.0),  # the aggregate counting t1 itself
            card("c1", E - day - 5 * MINUTE, 1, 8.5),
            card("c2", E - 2 * day - MINUTE, 4, 40.0),
        ],
        "customer_profile": [
            profile("u1", E - 90 * day, 400, None),
            profile("u1", E - 2 * day, 488, None),
            profile("u2", E - 10 * day, 15, None),
        ],
    }
    first, second = "s3://gt/labels/2024-05-01.csv", "s3://gt/labels/2024-05-02.csv"
    labels = [
        label("transaction_id", "is_fraud", first),
        label("t0", "0", first),
        label("t1", "0", first),
        label("t2", "1", first),
        label("t3", "0", second),
        label("t4", "1", second),
        label("t2", "0", second),  # the later file corrects the earlier verdict
    ]
    schema = _schema(
        ["amount", "txn_count_10m", "txn_amount_10m", "account_age_days"],
        without_defaults=("txn_amount_10m",),
    )
    window = build_dataset.Window.before(END, 5)
    assert sorted(run_sql(stores, labels, window, schema)) == sorted(
        [
            ("train", "0,20.0,1,12.0,400"),
            ("train", "0,5.25,4,40.0,15"),
            ("baseline", "20.0,1,12.0,400"),
            ("baseline", "5.25,4,40.0,15"),
            ("validation", "0,99.99,1,8.5,488"),
            ("validation", "1,1.0,0,,15"),  # no aggregate for c3: the declared default, else empty
        ]
    )


def test_the_pandas_version_s_deletions_come_out_the_same() -> None:
    cards = [
        card("c1", E - 10 * MINUTE, 2, None),
        card("c1", E - 10 * MINUTE, 2, None, written=E, deleted=True),  # as if never written
        card("c2", E - 10 * MINUTE, 5, None),
        card("c2", E - 5 * MINUTE, 5, None, deleted=True),  # no value from then on
        card("c3", E - 10 * MINUTE, 1, None),
        card("c3", E - 5 * MINUTE, 0, None, deleted=True),
        card("c3", E - 2 * MINUTE, 3, None),  # re-created after the deletion
    ]
    stores = {
        "transactions": [tx(f"t{n}", E, f"c{n}", None, None) for n in (1, 2, 3)],
        "card_aggregates": cards,
    }
    labels = [label("t1", "0", OLD), label("t2", "1", OLD), label("t3", "0", OLD)]
    schema = _schema(["txn_count_10m"], without_defaults=("txn_count_10m",))
    assert sorted(run_sql(stores, labels, WINDOW, schema)) == [
        ("validation", "0,"),
        ("validation", "0,3"),
        ("validation", "1,"),
    ]


# --- generated cases -------------------------------------------------------------------------

# Event times near the edges that matter: the window's start, split and end, and (for the
# joined groups) the transactions' own times, exactly and a millisecond either side.
EDGES = [WINDOW.start_ms, WINDOW.split_ms, WINDOW.end_ms]
CARDS, CUSTOMERS = ["c0", "c1", "c2", None], ["u0", "u1", None]
CARD_IDS, CUSTOMER_IDS = st.sampled_from(CARDS), st.sampled_from(CUSTOMERS)
VALUES = st.one_of(st.none(), st.integers(0, 400).map(lambda n: n / 4))


# Strategies built once (drawing from a new strategy object costs more than the draw).
DELTAS = st.sampled_from([-SECOND, -1, 0, 0, 1, HOUR])
SPAN = st.integers(WINDOW.start_ms - 2 * DAY, WINDOW.end_ms + DAY)
KIND_OF_TIME = st.integers(0, 3)
BATCHES = st.sampled_from([W, W + HOUR])
PUT_DELAYS = st.integers(1, 3600)
DELETED = st.sampled_from([False, False, False, True])
VERDICTS = st.sampled_from(["0", "1", "true", "false", "1.0", " 0 "])
BLANKS = st.sampled_from(["", " "])
FILES = st.sampled_from([OLD, NEW])


def near(draw: Any, points: Sequence[int]) -> int:
    """One of `points`, or a millisecond, a second or an hour off it."""
    return points[draw(st.integers(0, len(points) - 1))] + draw(DELTAS)


def time_near(draw: Any, points: Sequence[int]) -> int:
    """Near one of `points`, or anywhere around the window (on a second or not)."""
    kind = draw(KIND_OF_TIME)
    if kind < 2:
        return near(draw, points)
    at = draw(SPAN)
    return at - at % SECOND if kind == 2 else at


def writes(draw: Any, index: int) -> dict[str, Any]:
    """Bookkeeping of one write: offline-store batches share a write_time; the
    api_invocation_time orders writes within a batch (unique, so never an exact tie)."""
    batch = draw(BATCHES)
    return {
        "written": batch,
        "invoked": batch - draw(PUT_DELAYS) * SECOND - index,
        "deleted": draw(DELETED),
        "iso_millis": draw(st.booleans()),
    }


@st.composite
def worlds(draw: Any) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    index = iter(range(10_000))
    transactions: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 6))):
        name = f"t{n}"
        at = time_near(draw, EDGES)
        for _ in range(draw(st.integers(1, 3))):  # more writes: duplicates, re-stamps
            if draw(st.booleans()):
                at = time_near(draw, [at])
            transactions.append(
                tx(
                    name,
                    at,
                    draw(CARD_IDS),
                    draw(CUSTOMER_IDS),
                    draw(VALUES),
                    **writes(draw, next(index)),
                )
            )

    def related(key: str, pool: Sequence[str | None]) -> tuple[str, int]:
        """A record's key and event time: mostly a transaction's key, at, just before or
        just after its time (the edge of the point-in-time rule); else anything."""
        if draw(st.integers(0, 3)):
            row = transactions[draw(st.integers(0, len(transactions) - 1))]
            if row[key] is not None:
                return row[key], near(draw, [row["_at"]])
        return draw(st.sampled_from([k for k in pool if k is not None])), time_near(draw, EDGES)

    # Records, each written once to three times (same record and event time; the newest
    # write wins). The integral feature numbers the write, so using any other write shows.
    # Deleted writes carry values too: the flag, not the nulls, makes them missing.
    cards, profiles = [], []
    for _ in range(draw(st.integers(0, 6))):
        key, at = related("card_id", CARDS)
        for _ in range(draw(st.integers(1, 3))):
            write = next(index)
            cards.append(card(key, at, write, draw(VALUES), **writes(draw, write)))
    for _ in range(draw(st.integers(0, 4))):
        key, at = related("customer_id", CUSTOMERS)
        for _ in range(draw(st.integers(1, 2))):
            write = next(index)
            profiles.append(profile(key, at, write, draw(VALUES), **writes(draw, write)))
    # Labels: per transaction none, one or two (in either file, so files and values clash),
    # ids with stray blanks, a transaction that does not exist, maybe a header row.
    labels = []
    for name in [*sorted({row["transaction_id"] for row in transactions}), "t-unknown"]:
        for _ in range(draw(st.integers(0, 2))):
            labels.append(
                label(
                    name + draw(BLANKS),
                    draw(VERDICTS),
                    draw(FILES),
                )
            )
    if draw(st.booleans()):
        labels.append(label("transaction_id", "is_fraud", OLD))
    return {
        "transactions": transactions,
        "card_aggregates": cards,
        "customer_profile": profiles,
    }, labels


@settings(
    max_examples=30,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples in every run; no example database
    database=None,
)
@given(worlds())
def test_the_sql_matches_the_reference_on_generated_offline_stores(world: Any) -> None:
    stores, labels = world
    assert parse(run_sql(stores, labels, WINDOW)) == reference(stores, labels, WINDOW)


# --- what the rendering guarantees -----------------------------------------------------------


def test_each_table_is_read_once_and_the_scans_are_bounded_on_the_raw_event_time() -> None:
    query = build_dataset.render_training_set(TEMPLATE, SCHEMA, TABLES, WINDOW)
    for table in [*TABLES.groups.values()]:
        assert query.count(f'"{TABLES.database}"."{table}"') == 1
    assert query.count('"fraud_ground_truth"."labels"') == 1
    # Transactions from the day of the window's start (their daily partitions), the joined
    # groups up to the day after its end: predicates on the raw column, which Athena pushes
    # into the Iceberg scan. ISO-8601 strings compare as dates; epoch seconds as numbers.
    transactions = query.split('FROM "fraud_features"."fraud_dev_transactions"')[1]
    assert transactions.lstrip().startswith("WHERE \"event_time\" >= '2024-04-21'\n")
    cards = query.split('FROM "fraud_features"."fraud_dev_card_aggregates"')[1]
    assert cards.lstrip().startswith(
        f'WHERE "card_id" IS NOT NULL AND "event_time" < {WINDOW.end_ms // 1000 + 2}\n'
    )
    profiles = query.split('FROM "fraud_features"."fraud_dev_customer_profile"')[1]
    assert profiles.lstrip().startswith(
        'WHERE "customer_id" IS NOT NULL AND "event_time" < \'2024-05-02\'\n'
    )
    assert "{{" not in query and "}}" not in query


def test_a_schema_of_transactions_features_only_needs_no_join() -> None:
    schema = SCHEMA | {"order": ["amount"]}
    stores = {"transactions": [tx("t1", T1, "c1", "u1", 1.5), tx("t2", T3, None, None, None)]}
    labels = [label("t1", "1", OLD), label("t2", "0", OLD)]
    assert sorted(run_sql(stores, labels, WINDOW, schema)) == [
        ("baseline", "1.5"),
        ("train", "1,1.5"),
        ("validation", "0,"),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"order": ["amount", "nope"]},
            "feature 'nope' must be in exactly one feature group, is in no feature group",
        ),
        (
            {
                "featureGroups": [
                    *SCHEMA["featureGroups"],
                    {"name": "x", "features": [{"name": "amount", "type": "fractional"}]},
                ]
            },
            "feature 'amount' must be in exactly one feature group, is in transactions, x",
        ),
        (
            {"order": ["amount", "transaction_id"]},
            "feature 'transaction_id' is string; the model takes numbers",
        ),
        ({"order": []}, "the schema's order names no features"),
        ({"featureGroups": SCHEMA["featureGroups"][1:]}, "the schema has no 'transactions'"),
        ({"label": "is fraud"}, "'is fraud' is not a plain identifier"),
        ({"label": "write_time"}, "'write_time' is reserved"),
    ],
)
def test_rendering_rejects_an_inconsistent_schema(change: dict[str, Any], message: str) -> None:
    with pytest.raises(build_dataset.DatasetError, match=f"^{re.escape(message)}"):
        build_dataset.render_training_set(TEMPLATE, SCHEMA | change, TABLES, WINDOW)


def test_rendering_rejects_missing_tables_and_keys_and_unsafe_names() -> None:
    render = build_dataset.render_training_set
    groups = {group: table for group, table in TABLES.groups.items() if group != "customer_profile"}
    no_profile = TABLES._replace(groups=groups)
    with pytest.raises(build_dataset.DatasetError, match=r"table given for .*customer_profile"):
        render(TEMPLATE, SCHEMA, no_profile, WINDOW)
    with pytest.raises(build_dataset.DatasetError, match="is not a Glue name"):
        render(TEMPLATE, SCHEMA, TABLES._replace(labels_table='x" --'), WINDOW)
    without_card = [f for f in SCHEMA["featureGroups"][0]["features"] if f["name"] != "card_id"]
    schema = SCHEMA | {
        "featureGroups": [
            SCHEMA["featureGroups"][0] | {"features": without_card},
            *SCHEMA["featureGroups"][1:],
        ]
    }
    with pytest.raises(build_dataset.DatasetError, match=r"lacks the join keys \['card_id'\]"):
        render(TEMPLATE, schema, TABLES, WINDOW)
