"""Model-quality job: the live model's AUC, precision and recall, from the endpoint's captured
predictions joined with labels that arrive late (a SageMaker Processing job, network-isolated;
scikit-learn computes the metrics). Entry point: `python3 -m functions.monitoring.quality`.

Inputs (under /opt/ml/processing/input/, each overridable by an argument):
    capture/    the endpoint's data capture for the production variant (any depth); the score
                is the one value of `endpointOutput`
    labels/     ground-truth JSON lines under yyyy/mm/dd/hh/ (format: `capture.py`)

Which predictions and labels count, for a run at `as_of` (default now; pass the scheduled time
for reproducible windows):
    predictions captured in (as_of - lookback_hours, as_of - label_delay_hours]; the newest
    `label_delay_hours` are left out because their labels cannot have arrived yet;
    labels written (by their hour path) from the window's first hour up to as_of; a label
    written later had not arrived at as_of, one written earlier belongs to an older
    prediction. A prediction outside the window is not scored even if its label is in it.
A prediction and a label join on the inference id (the scoring API's request id).

Output: /opt/ml/processing/output/results.json

    {"version": 1, "kind": "quality", "endpoint", "model_package_arn", "status": "ok" |
     "insufficient_data", "reason", "as_of", "window": {"start", "end", "hours"},
     "generated_at", "decision_threshold", "min_labeled",
     "rows": {"predictions", "labels", "labeled", "malformed_captures", "malformed_labels",
              "captures_outside_window", "capture_files_skipped", "label_files_skipped"},
     "metrics": {"auc", "precision", "recall", "label_coverage", "positives",
                 "predicted_positives"},
     "gate": {"min_auc", "passed"} or null}

Precision and recall flag a prediction as fraud when score >= decision_threshold; a metric
that is undefined (precision with nothing flagged) is null. `label_coverage` is labeled /
predictions in the window. Fewer than --min-labeled joined rows, or labels of one class only
(AUC is undefined), give status `insufficient_data` with AUC, precision and recall null.
`gate` compares AUC with --min-auc (the training gate) when given; the alarm on the published
AUC metric is what acts on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from functions.monitoring.capture import (
    INPUT,
    INSUFFICIENT_DATA,
    OUTPUT,
    Capture,
    MonitoringError,
    Window,
    as_of_argument,
    base_results,
    csv_rows,
    fail,
    finite,
    non_negative_hours,
    positive,
    read_capture,
    read_labels,
    window_before,
    write_results,
)

DEFAULT_LOOKBACK_HOURS = 7 * 24.0
DEFAULT_MIN_LABELED = 200


def score(record: Capture) -> float | None:
    """The one score the endpoint answered, or None (no output, several rows, not a number)."""
    rows = csv_rows(record.output) if record.output is not None else []
    if len(rows) != 1 or len(rows[0]) != 1:
        return None
    try:
        value = float(rows[0][0])
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def predictions(records: Sequence[Capture]) -> tuple[dict[str, float], int]:
    """Inference id -> score (the newest capture of an id wins) and how many records had no
    readable score."""
    newest: dict[str, tuple[datetime, float]] = {}
    malformed = 0
    for record in records:
        value = score(record)
        if value is None:
            malformed += 1
        elif record.key not in newest or newest[record.key][0] <= record.time:
            newest[record.key] = (record.time, value)
    return {key: value for key, (_, value) in newest.items()}, malformed


def quality_metrics(
    labels: Sequence[int], scores: Sequence[float], decision_threshold: float
) -> dict[str, Any]:
    """AUC, precision and recall at the threshold (scikit-learn), with the class counts."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    flagged = (s >= decision_threshold).astype(int)
    return {
        "auc": finite(roc_auc_score(y, s)),
        "precision": finite(precision_score(y, flagged, zero_division=np.nan)),
        "recall": finite(recall_score(y, flagged, zero_division=np.nan)),
        "positives": int(y.sum()),
        "predicted_positives": int(flagged.sum()),
    }


def analyse(
    *,
    endpoint: str,
    capture_dir: Path,
    labels_dir: Path,
    as_of: datetime,
    lookback_hours: float = DEFAULT_LOOKBACK_HOURS,
    label_delay_hours: float = 0.0,
    decision_threshold: float = 0.5,
    min_labeled: int = DEFAULT_MIN_LABELED,
    min_auc: float | None = None,
    model_package_arn: str | None = None,
) -> dict[str, Any]:
    """The results of one run (see the module docstring)."""
    labels_window = window_before(as_of, lookback_hours)
    window = Window(labels_window.start, as_of - timedelta(hours=label_delay_hours))
    captured = read_capture(capture_dir, window)
    scores, bad_scores = predictions(captured.records)
    # Labels may arrive until as_of, also for the predictions of the delay left out.
    labels = read_labels(labels_dir, labels_window)
    joined = [(labels.labels[key], value) for key, value in scores.items() if key in labels.labels]
    results = base_results("quality", endpoint, as_of, window, model_package_arn) | {
        "decision_threshold": decision_threshold,
        "min_labeled": min_labeled,
        "rows": {
            "predictions": len(scores),
            "labels": len(labels.labels),
            "labeled": len(joined),
            "malformed_captures": captured.malformed + bad_scores,
            "malformed_labels": labels.malformed,
            "captures_outside_window": captured.outside_window,
            "capture_files_skipped": captured.skipped_files,
            "label_files_skipped": labels.skipped_files,
        },
        "metrics": {
            "auc": None,
            "precision": None,
            "recall": None,
            "label_coverage": len(joined) / len(scores) if scores else None,
            "positives": sum(label for label, _ in joined),
            "predicted_positives": sum(value >= decision_threshold for _, value in joined),
        },
        "gate": None,
    }
    classes = {label for label, _ in joined}
    if len(joined) < min_labeled:
        results["status"] = INSUFFICIENT_DATA
        results["reason"] = (
            f"{len(joined)} labeled predictions in the window, at least {min_labeled} needed"
        )
    elif len(classes) < 2:
        results["status"] = INSUFFICIENT_DATA
        results["reason"] = f"all {len(joined)} labels are {classes.pop()}: AUC needs both classes"
    else:
        y, s = zip(*joined, strict=True)
        results["metrics"] |= quality_metrics(y, s, decision_threshold)
        if min_auc is not None:
            auc = results["metrics"]["auc"]
            results["gate"] = {"min_auc": min_auc, "passed": auc is not None and auc >= min_auc}
    return results


def probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be in [0, 1]")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--capture-dir", type=Path, default=INPUT / "capture")
    parser.add_argument("--labels-dir", type=Path, default=INPUT / "labels")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT)
    parser.add_argument("--as-of", help="ISO-8601 time of the run (default: now, UTC)")
    parser.add_argument(
        "--lookback-hours",
        type=positive(float, "lookback-hours"),
        default=DEFAULT_LOOKBACK_HOURS,
    )
    parser.add_argument("--label-delay-hours", type=non_negative_hours, default=0.0)
    parser.add_argument("--decision-threshold", type=probability, required=True)
    parser.add_argument(
        "--min-labeled", type=positive(int, "min-labeled"), default=DEFAULT_MIN_LABELED
    )
    parser.add_argument("--min-auc", type=probability)
    parser.add_argument("--model-package-arn")
    args = parser.parse_args(argv)
    if args.label_delay_hours >= args.lookback_hours:
        parser.error("--label-delay-hours must be less than --lookback-hours")
    try:
        as_of = as_of_argument(args.as_of)
    except ValueError:
        parser.error(f"--as-of must be an ISO-8601 time, got {args.as_of!r}")
    try:
        results = analyse(
            endpoint=args.endpoint_name,
            capture_dir=args.capture_dir,
            labels_dir=args.labels_dir,
            as_of=as_of,
            lookback_hours=args.lookback_hours,
            label_delay_hours=args.label_delay_hours,
            decision_threshold=args.decision_threshold,
            min_labeled=args.min_labeled,
            min_auc=args.min_auc,
            model_package_arn=args.model_package_arn,
        )
    except MonitoringError as error:
        return fail(error, "quality job")
    write_results(args.output_dir, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
