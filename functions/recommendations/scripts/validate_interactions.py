"""ValidateInteractions step of the batch recommender's training pipeline: refuse a
training set the model should not be trained or judged on.

Processing job (SKLearn 1.4-2 image, Python 3.10; network-isolated); stdlib only.
Input: /opt/ml/processing/input/dataset (`--dataset`): BuildInteractions' output, with
train/ and holdout/ (CSV `user_id,item_id,weight`, no header; every file, recursively).

Fails (exit 1, one message on stderr naming every problem) when:
* a row is bad: not exactly three fields; a user id the lookup API cannot serve (1 to 128
  letters, digits or `._:@-`); an item id that is empty, longer than 256 characters or
  holds a double quote; a weight that is not a finite number > 0 (the first 5 bad rows are
  named as `split/file:line`, with the count of all);
* train has fewer than `--min-users` distinct users or `--min-items` distinct items;
* the holdout is empty, or none of its users is in train (the evaluation would only
  measure the popular fallback).
Prints a summary line (users, items, rows per split) when it passes.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

DATASET = Path("/opt/ml/processing/input/dataset")
USER_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
ITEM_ID = re.compile(r'[^,"\r\n]{1,256}')
SHOWN = 5


def problems(dataset: Path, min_users: int, min_items: int) -> tuple[list[str], str]:
    """(what is wrong, a summary)."""
    found: list[str] = []
    bad: list[str] = []
    bad_count = 0
    users: dict[str, set[str]] = {"train": set(), "holdout": set()}
    items: dict[str, set[str]] = {"train": set(), "holdout": set()}
    rows = {"train": 0, "holdout": 0}
    for split in ("train", "holdout"):
        for path in sorted(p for p in (dataset / split).rglob("*") if p.is_file()):
            text = path.read_text(encoding="utf-8")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                fields = line.split(",")
                reason = None
                if len(fields) != 3:
                    reason = f"{len(fields)} fields, not user_id,item_id,weight"
                elif not USER_ID.fullmatch(fields[0]):
                    reason = f"user id {fields[0][:40]!r} is not one the lookup API serves"
                elif not ITEM_ID.fullmatch(fields[1]):
                    reason = f"item id {fields[1][:40]!r} is empty, too long or has a quote"
                else:
                    try:
                        weight = float(fields[2])
                    except ValueError:
                        weight = math.nan
                    if not math.isfinite(weight) or weight <= 0:
                        reason = f"weight {fields[2][:40]!r} is not a number > 0"
                if reason:
                    bad_count += 1
                    if len(bad) < SHOWN:
                        bad.append(
                            f"{split}/{path.relative_to(dataset / split)}:{number}: {reason}"
                        )
                    continue
                rows[split] += 1
                users[split].add(fields[0])
                items[split].add(fields[1])
    if bad_count:
        more = f" (and {bad_count - len(bad)} more)" if bad_count > len(bad) else ""
        found.append(f"{bad_count} bad rows{more}: " + "; ".join(bad))
    if len(users["train"]) < min_users:
        found.append(f"train has {len(users['train'])} users, fewer than --min-users {min_users}")
    if len(items["train"]) < min_items:
        found.append(f"train has {len(items['train'])} items, fewer than --min-items {min_items}")
    if not rows["holdout"]:
        found.append("the holdout is empty")
    elif not users["holdout"] & users["train"]:
        found.append("no holdout user is in train")
    summary = (
        f"train: {rows['train']} rows, {len(users['train'])} users, {len(items['train'])} "
        f"items; holdout: {rows['holdout']} rows, {len(users['holdout'])} users "
        f"({len(users['holdout'] & users['train'])} in train)"
    )
    return found, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--min-users", type=int, required=True)
    parser.add_argument("--min-items", type=int, required=True)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)
    try:
        found, summary = problems(args.dataset, args.min_users, args.min_items)
    except (OSError, UnicodeDecodeError) as error:
        found, summary = [f"cannot read the data set: {error}"], ""
    if found:
        print("ValidateInteractions failed: " + " | ".join(found), file=sys.stderr)
        return 1
    print(f"interactions valid: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
