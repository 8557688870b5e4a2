"""BuildDataset step of the fraud training pipeline: a point-in-time-correct training set.

Runs in the SageMaker SKLearn processing image (pandas, numpy, pyarrow); no mlkit imports.

Inputs (under /opt/ml/processing/input/):
    schema/            the feature schema JSON (featureGroups, label, order)
    transactions/      offline store of the base group, Parquet files at any depth
    card_aggregates/   offline stores of the groups joined to each transaction
    customer_profile/
    labels/            ground truth, CSV files `transaction_id,is_fraud`

Outputs (under /opt/ml/processing/output/):
    train/train.csv, validation/validation.csv
        label first, then the schema's `order`, no header (the built-in XGBoost algorithm's
        CSV convention); a feature with no value is left empty (missing for XGBoost)
    columns.json       `[label, *order]`
    baseline/baseline.csv
        the training split's features only: the schema's `order`, no label, no header, as
        the endpoint receives them; the data-quality baseline of Model Monitor, which names
        these columns `_c0`, `_c1`, ... in the baseline and in the captured requests alike

Point-in-time rule: each transaction gets a joined group's features as they were strictly
before the transaction's event time (the newest record of its key with an earlier event
time). A record stamped exactly at the transaction's time is not used: the streaming
aggregator writes a card's aggregates at the time of the transaction it has just counted,
so that record already includes the transaction itself.

Offline-store bookkeeping: of several writes of one (record, event time) the newest wins, as
in the online store; a newest write with `is_deleted` means the record did not exist from
that event time on. `write_time`, `api_invocation_time` and `is_deleted` are not features.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")

BASE_GROUP = "transactions"
EVENT_TIME = "event_time"
WRITE_ORDER = ("write_time", "api_invocation_time")
DELETED = "is_deleted"
# Record identifiers when the schema does not name them (the registry format does).
DEFAULT_RECORD_IDS = {
    "transactions": "transaction_id",
    "card_aggregates": "card_id",
    "customer_profile": "customer_id",
}
VALIDATION_FRACTION = 0.2


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


# --- offline store records -------------------------------------------------------------------


def parse_event_time(values: pd.Series) -> pd.Series:
    """Feature Store event times (ISO-8601 strings or fractional epoch seconds) as UTC."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = pd.to_datetime(values, unit="s", utc=True)
    elif pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        try:
            parsed = pd.to_datetime(values, utc=True, format="ISO8601")
        except (TypeError, ValueError):
            # pandas < 2 has no "ISO8601" format; its default parser reads ISO-8601 anyway.
            parsed = pd.to_datetime(values, utc=True)
    # One resolution everywhere: merge_asof refuses keys of different resolutions.
    return parsed.astype("datetime64[ns, UTC]")


def _as_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "t", "yes"])


def newest_writes(
    records: pd.DataFrame, record_id: str, event_time: str = EVENT_TIME
) -> pd.DataFrame:
    """One row per (record id, event time), the newest write winning.

    Keeps a boolean `is_deleted` column (the as-of join needs to see deletions) and drops the
    other bookkeeping columns; event times are parsed to UTC timestamps.
    """
    frame = records.copy()
    frame[event_time] = parse_event_time(frame[event_time])
    order = [column for column in WRITE_ORDER if column in frame.columns]
    if order:
        # Stable sort: among writes with equal write times, the later file row wins.
        frame = frame.sort_values(order, kind="mergesort", na_position="first")
    frame = frame.drop_duplicates([record_id, event_time], keep="last")
    deleted = frame[DELETED] if DELETED in frame.columns else pd.Series(False, index=frame.index)
    frame[DELETED] = _as_bool(deleted)
    return frame.drop(columns=order).reset_index(drop=True)


def current_records(
    records: pd.DataFrame, record_id: str, event_time: str = EVENT_TIME
) -> pd.DataFrame:
    """The latest version of each record, without deleted ones and bookkeeping columns."""
    frame = newest_writes(records, record_id, event_time)
    frame = frame.sort_values(event_time, kind="mergesort").drop_duplicates(record_id, keep="last")
    return frame.loc[~frame[DELETED]].drop(columns=DELETED).reset_index(drop=True)


def point_in_time_join(
    base: pd.DataFrame,
    records: pd.DataFrame,
    *,
    key: str,
    features: Sequence[str],
    event_time: str = EVENT_TIME,
    record_time: str = EVENT_TIME,
) -> pd.DataFrame:
    """`base` with `features` added from `records` (output of `newest_writes`): for each base
    row, the values of the newest record with the same `key` and a `record_time` strictly
    before the row's `event_time`. Missing (NaN) when there is none, or when that record is
    a deletion. Rows keep their order."""
    right = records[[key, record_time, DELETED, *features]].rename(
        columns={record_time: "_pit_time", DELETED: "_pit_deleted"}
    )
    right = right.dropna(subset=[key, "_pit_time"]).sort_values("_pit_time", kind="mergesort")
    left = base.copy()
    left["_pit_row"] = np.arange(len(left))
    # Keys must compare equal across groups: the transactions group stores ids as strings.
    left[key] = left[key].astype("object").where(left[key].isna(), left[key].astype(str))
    right[key] = right[key].astype(str).astype("object")
    left = left.sort_values(event_time, kind="mergesort")
    joined = pd.merge_asof(
        left,
        right,
        left_on=event_time,
        right_on="_pit_time",
        by=key,
        direction="backward",
        allow_exact_matches=False,
    )
    deleted = joined["_pit_deleted"].astype("boolean").fillna(False).astype(bool)
    for feature in features:
        joined[feature] = joined[feature].where(~deleted)
    joined = joined.sort_values("_pit_row", kind="mergesort").drop(
        columns=["_pit_row", "_pit_time", "_pit_deleted"]
    )
    joined.index = base.index
    return joined


# --- labels and assembly ---------------------------------------------------------------------


def clean_labels(labels: pd.DataFrame, *, record_id: str, label: str) -> pd.DataFrame:
    """`record_id` (string) and `label` (0/1) per transaction; a later row for the same
    transaction replaces an earlier one (a chargeback corrects an earlier verdict)."""
    frame = labels[[record_id, label]].copy()
    frame = frame.loc[frame[record_id].notna()]
    frame[record_id] = frame[record_id].astype(str).str.strip()
    text = frame[label].astype(str).str.strip().str.lower()
    values = text.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1})
    bad = text[values.isna()]
    if len(bad):
        raise DatasetError(
            f"label {label!r} must be 0 or 1; got {sorted(bad.unique())[:5]} ({len(bad)} rows)"
        )
    frame[label] = values.astype(int)
    return frame.drop_duplicates(record_id, keep="last").reset_index(drop=True)


def coerce_features(frame: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Features typed as the schema declares (the transactions group stores strings), with
    declared defaults filled in where no value existed (as the scoring API does)."""
    frame = frame.copy()
    for name, spec in specs.items():
        kind = str(spec["type"]).lower()
        if kind not in ("integral", "fractional"):
            raise DatasetError(f"feature {name!r} is {kind}; the model takes numbers")
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        unreadable = raw[values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")]
        if len(unreadable):
            raise DatasetError(f"feature {name!r}: not a number: {unreadable.iloc[0]!r}")
        if spec.get("default") is not None:
            values = values.fillna(spec["default"])
        if kind == "integral":
            fractional = values.dropna() % 1 != 0
            if fractional.any():
                raise DatasetError(
                    f"feature {name!r} is integral, got {values.dropna()[fractional].iloc[0]}"
                )
            values = values.astype("Int64")
        else:
            values = values.astype("float64")
        frame[name] = values
    return frame


def build_training_set(
    frames: Mapping[str, pd.DataFrame],
    labels: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    as_of: pd.Timestamp,
    window_days: int,
) -> pd.DataFrame:
    """Labelled transactions of the last `window_days` before `as_of`, each with the joined
    groups' features as they were just before it. Columns: label, the schema's order, then
    the transaction id and event time; sorted by event time."""
    groups = {group["name"]: group for group in schema["featureGroups"]}
    if BASE_GROUP not in groups:
        raise DatasetError(f"the schema has no {BASE_GROUP!r} feature group")
    label, order = str(schema["label"]), [str(name) for name in schema["order"]]
    sources = feature_sources(schema)
    base_id, base_time = (
        record_identifier(groups[BASE_GROUP]),
        event_time_feature(groups[BASE_GROUP]),
    )

    joined_groups = [name for name in groups if name != BASE_GROUP and name in sources.values()]
    keys = [record_identifier(groups[name]) for name in joined_groups]
    base_columns = list(
        dict.fromkeys([base_id, base_time, *keys, *(f for f in order if sources[f] == BASE_GROUP)])
    )
    transactions = frames[BASE_GROUP]
    missing = [column for column in base_columns if column not in transactions.columns]
    if missing:
        raise DatasetError(f"the {BASE_GROUP} offline store lacks columns {missing}")
    base = current_records(transactions, base_id, base_time)[base_columns]
    base = base.assign(**{base_id: base[base_id].astype(str)})

    start = as_of - pd.Timedelta(days=window_days)
    base = base.loc[(base[base_time] > start) & (base[base_time] <= as_of)]
    dataset = base.merge(clean_labels(labels, record_id=base_id, label=label), on=base_id)

    for name, key in zip(joined_groups, keys, strict=True):
        features = [f for f in order if sources[f] == name]
        group_time = event_time_feature(groups[name])
        records = frames[name]
        missing = [c for c in (key, group_time, *features) if c not in records.columns]
        if missing:
            raise DatasetError(f"the {name} offline store lacks columns {missing}")
        dataset = point_in_time_join(
            dataset,
            newest_writes(records, key, group_time),
            key=key,
            features=features,
            event_time=base_time,
            record_time=group_time,
        )

    specs = feature_specs(schema)
    dataset = coerce_features(dataset, {name: specs[name] for name in order})
    dataset = dataset.sort_values([base_time, base_id], kind="mergesort")
    return dataset[[label, *order, base_id, base_time]].reset_index(drop=True)


def split_by_time(
    dataset: pd.DataFrame, validation_fraction: float = VALIDATION_FRACTION
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Oldest rows train, newest validate: the model is judged on data from after what it
    learned from, as it will be in production. Expects `dataset` sorted by time."""
    cut = round(len(dataset) * (1 - validation_fraction))
    return dataset.iloc[:cut], dataset.iloc[cut:]


# --- files -----------------------------------------------------------------------------------


def read_parquet_dir(directory: Path) -> pd.DataFrame:
    """Every Parquet file under `directory`, at any depth (the offline store partitions by
    date), as one frame."""
    files = sorted(directory.rglob("*.parquet"))
    if not files:
        raise DatasetError(f"no Parquet files under {directory}")
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)


def read_labels(directory: Path, *, record_id: str, label: str) -> pd.DataFrame:
    """Every CSV under `directory`, in name order, with or without a header row."""
    files = sorted(directory.rglob("*.csv"))
    if not files:
        raise DatasetError(f"no label CSV files under {directory}")
    parts = [
        pd.read_csv(path, header=None, names=[record_id, label], dtype=str, usecols=[0, 1])
        for path in files
    ]
    frame = pd.concat(parts, ignore_index=True)
    header = (frame[record_id].str.strip() == record_id) & (frame[label].str.strip() == label)
    return frame.loc[~header].reset_index(drop=True)


def read_schema(directory: Path) -> dict[str, Any]:
    """The one JSON file in `directory` (the schema input)."""
    files = sorted(directory.rglob("*.json"))
    if len(files) != 1:
        raise DatasetError(
            f"expected one feature schema JSON under {directory}, found {len(files)}"
        )
    return json.loads(files[0].read_text(encoding="utf-8"))


def write_outputs(
    train: pd.DataFrame, validation: pd.DataFrame, columns: list[str], out: Path
) -> None:
    """CSV splits (no header, label first: `columns[0]`), columns.json, and the baseline
    (the training split's features, `columns[1:]`, no header)."""
    parts = (
        ("train", train, columns),
        ("validation", validation, columns),
        ("baseline", train, columns[1:]),
    )
    for name, part, selected in parts:
        (out / name).mkdir(parents=True, exist_ok=True)
        part[selected].to_csv(out / name / f"{name}.csv", header=False, index=False, na_rep="")
    (out / "columns.json").write_text(json.dumps(columns) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-window-days", type=int, required=True)
    parser.add_argument("--as-of", help="ISO-8601 end of the window (default: now, UTC)")
    parser.add_argument("--input", type=Path, default=INPUT)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.training_window_days < 1:
        parser.error("--training-window-days must be at least 1")
    as_of = pd.Timestamp(args.as_of) if args.as_of else pd.Timestamp.now(tz="UTC")
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")

    try:
        schema = read_schema(args.input / "schema")
        groups = {group["name"] for group in schema["featureGroups"]}
        needed = {BASE_GROUP} | set(feature_sources(schema).values())
        frames = {name: read_parquet_dir(args.input / name) for name in sorted(needed & groups)}
        base_group = next(g for g in schema["featureGroups"] if g["name"] == BASE_GROUP)
        labels = read_labels(
            args.input / "labels", record_id=record_identifier(base_group), label=schema["label"]
        )
        dataset = build_training_set(
            frames, labels, schema, as_of=as_of, window_days=args.training_window_days
        )
        if dataset.empty:
            raise DatasetError(
                f"no labelled transactions in the {args.training_window_days} days before {as_of}"
            )
    except DatasetError as error:
        print(f"BuildDataset failed: {error}", file=sys.stderr)
        return 1

    train, validation = split_by_time(dataset)
    columns = [str(schema["label"]), *schema["order"]]
    write_outputs(train, validation, columns, args.output)
    label = columns[0]
    print(
        f"rows: train {len(train)} ({int(train[label].sum())} positive), "
        f"validation {len(validation)} ({int(validation[label].sum())} positive); "
        f"window {args.training_window_days} days before {as_of.isoformat()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
