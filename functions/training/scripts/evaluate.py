"""Evaluate step of the fraud training pipeline: score the validation set with the trained
model and write the evaluation report the registration gate reads.

Runs in the SageMaker XGBoost image (xgboost, numpy, pandas); no mlkit imports, and Python
3.8 compatible, the oldest interpreter among the pinned images.

Inputs (under /opt/ml/processing/input/):
    model/model.tar.gz   the training job's output, holding `xgboost-model`
    validation/*.csv     label first, then the features, no header

Output: /opt/ml/processing/evaluation/evaluation.json

    {"metrics": {"auc": {"value"}, "precision_at_1pct_fpr": {"value"},
                 "recall_at_1pct_fpr": {"value"}, "threshold_at_1pct_fpr": {"value"}},
     "binary_classification_metrics": {...the same, in the model registry's format...},
     "validation": {"rows", "positives"}}

Precision and recall are taken at the lowest score threshold whose false-positive rate stays
within 1% (how many customers a fraud team can afford to bother); with no such threshold
nothing is flagged and both are 0.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/evaluation")
MODEL_FILE = "xgboost-model"
MAX_FPR = 0.01


class EvaluationError(Exception):
    """The model cannot be evaluated on this data; the message says why."""


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the probability that a random fraud scores above a random
    legitimate transaction, ties counting half (Mann-Whitney U over average ranks)."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise EvaluationError("AUC needs both classes in the validation set")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def metrics_at_fpr(
    labels: Sequence[int], scores: Sequence[float], max_fpr: float = MAX_FPR
) -> dict[str, Any]:
    """Precision, recall and threshold when flagging every score >= the lowest threshold
    whose false-positive rate is at most `max_fpr`. Equal scores are flagged together."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    true_positives = np.cumsum(y)
    false_positives = np.cumsum(1 - y)
    # A threshold can only fall between distinct scores: keep the last row of each tie group.
    group_end = np.append(s[1:] != s[:-1], True)
    tp, fp, thresholds = true_positives[group_end], false_positives[group_end], s[group_end]
    negatives = max(int((1 - y).sum()), 1)
    positives = max(int(y.sum()), 1)
    within = np.flatnonzero(fp / negatives <= max_fpr)
    if len(within) == 0:
        return {"precision": 0.0, "recall": 0.0, "threshold": None}
    i = within[-1]  # fp only grows as the threshold falls, so the last fit flags the most
    return {
        "precision": float(tp[i] / (tp[i] + fp[i])),
        "recall": float(tp[i] / positives),
        "threshold": float(thresholds[i]),
    }


def evaluation_report(labels: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    """The evaluation.json document."""
    auc = roc_auc(labels, scores)
    at_fpr = metrics_at_fpr(labels, scores)
    metrics = {
        "auc": {"value": auc},
        "precision_at_1pct_fpr": {"value": at_fpr["precision"]},
        "recall_at_1pct_fpr": {"value": at_fpr["recall"]},
        "threshold_at_1pct_fpr": {"value": at_fpr["threshold"]},
    }
    return {
        "metrics": metrics,
        # What SageMaker Studio shows as the model package's model quality.
        "binary_classification_metrics": {
            "auc": {"value": auc},
            "precision": {"value": at_fpr["precision"]},
            "recall": {"value": at_fpr["recall"]},
        },
        "validation": {"rows": len(labels), "positives": int(np.sum(labels))},
    }


def read_validation(directory: Path) -> pd.DataFrame:
    """All validation CSVs (label first, no header); empty cells are missing values."""
    files = sorted(directory.rglob("*.csv"))
    if not files:
        raise EvaluationError(f"no validation CSV files under {directory}")
    return pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)


def load_booster(model_dir: Path) -> Any:
    """The trained booster from model.tar.gz (XGBoost's own format, or a pickle as written
    by old versions of the built-in algorithm)."""
    import xgboost  # only in the XGBoost image

    archives = sorted(model_dir.rglob("model.tar.gz"))
    if not archives:
        raise EvaluationError(f"no model.tar.gz under {model_dir}")
    extracted = Path(tempfile.mkdtemp())
    with tarfile.open(archives[0]) as archive:
        # Our own training job's artifact, read in a throwaway container.
        if hasattr(tarfile, "data_filter"):  # refuse links and absolute paths where possible
            archive.extractall(extracted, filter="data")
        else:
            archive.extractall(extracted)
    path = extracted / MODEL_FILE
    if not path.exists():
        raise EvaluationError(f"{archives[0]} holds no {MODEL_FILE}")
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError:
        with path.open("rb") as handle:
            booster = pickle.load(handle)
    return booster


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=INPUT)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        import xgboost

        validation = read_validation(args.input / "validation")
        labels = validation.iloc[:, 0].astype(int).to_numpy()
        features = validation.iloc[:, 1:].to_numpy(dtype=float)
        booster = load_booster(args.input / "model")
        scores = booster.predict(xgboost.DMatrix(features))
        report = evaluation_report(labels, scores)
    except EvaluationError as error:
        print(f"Evaluate failed: {error}", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "evaluation.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps(report["metrics"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
