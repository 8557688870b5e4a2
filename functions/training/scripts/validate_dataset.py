"""ValidateDataset step of the fraud training pipeline: the built data set must match the
feature schema, or the job exits 1 and the pipeline stops before training.

Runs in the SageMaker SKLearn processing image (pandas); no mlkit imports.

Inputs (under /opt/ml/processing/input/):
    schema/    the feature schema JSON: {"featureGroups": [{"name", "features": [{"name",
               "type"}]}], "label", "order"}
    dataset/   BuildDataset's output: columns.json, train/*.csv, validation/*.csv

Checks: columns.json is `[label, *order]`; every feature in `order` is declared once, as
integral or fractional; both splits have rows with exactly those columns; the label is never
empty and always 0 or 1; validation holds both classes (AUC needs them); integral features
hold whole numbers and fractional ones numbers (empty means missing and is allowed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

INPUT = Path("/opt/ml/processing/input")
SPLITS = ("train", "validation")
NUMERIC_TYPES = ("integral", "fractional")


def declared_types(schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """Feature name -> the types it is declared with, one per feature group declaring it."""
    types: dict[str, list[str]] = {}
    for group in schema["featureGroups"]:
        for feature in group["features"]:
            types.setdefault(feature["name"], []).append(str(feature["type"]).lower())
    return types


def validate(
    columns: Sequence[str], splits: Mapping[str, pd.DataFrame], schema: Mapping[str, Any]
) -> list[str]:
    """Every way the data set breaks the schema, as messages; empty when it is valid.

    `splits` holds each split's CSV read with `dtype=str` and no header.
    """
    label, order = str(schema["label"]), [str(name) for name in schema["order"]]
    expected = [label, *order]
    if list(columns) != expected:
        return [f"columns.json is {list(columns)}, the schema expects {expected}"]

    problems = []
    types = declared_types(schema)
    for name in order:
        declared = types.get(name, [])
        if len(declared) != 1:
            problems.append(f"feature {name!r} is declared {len(declared)} times in featureGroups")
        elif declared[0] not in NUMERIC_TYPES:
            problems.append(f"feature {name!r} is {declared[0]}; the model takes numbers")

    for split in SPLITS:
        frame = splits.get(split)
        if frame is None or frame.empty:
            problems.append(f"{split}: no rows")
            continue
        if frame.shape[1] != len(expected):
            problems.append(f"{split}: {frame.shape[1]} columns, expected {len(expected)}")
            continue
        frame = frame.set_axis(expected, axis=1)
        problems += _check_label(split, frame[label], label)
        for name in order:
            declared = types.get(name, [])
            if len(declared) == 1 and declared[0] in NUMERIC_TYPES:
                problems += _check_feature(split, frame[name], name, declared[0])
    return problems


def _check_label(split: str, values: pd.Series, label: str) -> list[str]:
    problems = []
    empty = values.isna() | (values.astype(str).str.strip() == "")
    if empty.any():
        problems.append(f"{split}: {int(empty.sum())} rows without a {label!r} label")
    numbers = pd.to_numeric(values[~empty], errors="coerce")
    bad = values[~empty][~numbers.isin([0, 1])]
    if len(bad):
        problems.append(f"{split}: label {label!r} must be 0 or 1, got {bad.iloc[0]!r}")
    elif split == "validation" and numbers.nunique() < 2:
        problems.append(f"validation: only label {int(numbers.iloc[0])}; AUC needs both classes")
    return problems


def _check_feature(split: str, values: pd.Series, name: str, kind: str) -> list[str]:
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    numbers = pd.to_numeric(present, errors="coerce")
    unreadable = present[numbers.isna()]
    if len(unreadable):
        return [f"{split}: feature {name!r} is {kind}, got {unreadable.iloc[0]!r}"]
    if kind == "integral":
        fractional = present[numbers % 1 != 0]
        if len(fractional):
            return [f"{split}: feature {name!r} is integral, got {fractional.iloc[0]!r}"]
    return []


def read_split(directory: Path) -> pd.DataFrame:
    """All CSV files of one split (no header), every value as text."""
    files = sorted(directory.glob("*.csv"))
    if not files:
        return pd.DataFrame()
    return pd.concat(
        [
            pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_values=[""])
            for path in files
        ],
        ignore_index=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job: exit 1 with the problems on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=INPUT)
    args = parser.parse_args(argv)
    schemas = sorted((args.input / "schema").rglob("*.json"))
    if len(schemas) != 1:
        print(
            f"ValidateDataset failed: expected one schema JSON, found {len(schemas)}",
            file=sys.stderr,
        )
        return 1
    schema = json.loads(schemas[0].read_text(encoding="utf-8"))
    dataset = args.input / "dataset"
    columns_file = dataset / "columns.json"
    if not columns_file.exists():
        print(f"ValidateDataset failed: {columns_file} is missing", file=sys.stderr)
        return 1
    columns = json.loads(columns_file.read_text(encoding="utf-8"))
    splits = {split: read_split(dataset / split) for split in SPLITS}
    problems = validate(columns, splits, schema)
    if problems:
        print("ValidateDataset failed:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
        return 1
    print(f"data set valid: {', '.join(f'{s} {len(splits[s])} rows' for s in SPLITS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
