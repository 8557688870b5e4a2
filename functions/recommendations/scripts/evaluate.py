"""Evaluate step of the batch recommender's training pipeline: ranking quality of the
trained model on the holdout split, exactly as it is served.

Processing job (SKLearn 1.4-2 image, Python 3.10, numpy; network-isolated); no mlkit imports.
Inputs (under /opt/ml/processing/input/):
    model/model.tar.gz   the Train step's artifact; its own code/inference.py makes the
                         recommendations (the serving code, not a copy of it)
    holdout/             BuildInteractions' holdout/ files: CSV `user_id,item_id,weight`
`--k` (default 10): the cut-off. Output: /opt/ml/processing/evaluation/evaluation.json
    {"metrics": {"recall_at_k": {"value": r}, "ndcg_at_k": {"value": n}}, "k": k,
     "users": u, "popularity": {"recall_at_k": ..., "ndcg_at_k": ...}}
("popularity": the same metrics of the most popular unseen items, for comparison; the
registry's model metrics and the pipeline's condition read `metrics`).

Definitions (binary relevance, macro-averaged over users):
* A user's relevant items R: the items of the user's holdout rows (any holdout interaction
  is relevant, whatever its weight), minus the items the user had in training (those are
  never recommended, so counting them would only cap the metrics below 1).
* Evaluated users: holdout users with R not empty (users the model does not know are
  included: they get the popular items, as when served). `users` counts them.
* L: the user's top-k recommendations. recall@k = |L & R| / min(k, |R|) (so that a perfect
  list scores 1 also when |R| > k); NDCG@k = DCG / IDCG, DCG = sum over positions
  i = 1..k of [L_i in R] / log2(i + 1), IDCG = the DCG of min(k, |R|) hits in a row.
Fails (exit 1) when no user can be evaluated.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

INPUT = Path("/opt/ml/processing/input")
EVALUATION = Path("/opt/ml/processing/evaluation")


class EvaluationError(Exception):
    """Nothing to evaluate, or the inputs are unusable; the message says why."""


def recall_at_k(recommended: Sequence[str], relevant: set[str], k: int) -> float:
    """|top-k & relevant| / min(k, |relevant|)."""
    hits = sum(1 for item in recommended[:k] if item in relevant)
    return hits / min(k, len(relevant))


def ndcg_at_k(recommended: Sequence[str], relevant: set[str], k: int) -> float:
    """DCG of the top k (binary gains, log2(position + 1) discounts) over the ideal DCG."""
    dcg = sum(
        1.0 / math.log2(position + 1)
        for position, item in enumerate(recommended[:k], start=1)
        if item in relevant
    )
    ideal = sum(1.0 / math.log2(position + 1) for position in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def mean_metrics(
    lists: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], k: int
) -> dict[str, float]:
    """Both metrics averaged over the users of `relevant`."""
    users = list(relevant)
    return {
        "recall_at_k": sum(recall_at_k(lists[u], relevant[u], k) for u in users) / len(users),
        "ndcg_at_k": sum(ndcg_at_k(lists[u], relevant[u], k) for u in users) / len(users),
    }


def read_holdout(directory: Path) -> dict[str, set[str]]:
    """user -> the items of the user's holdout rows (every file under `directory`)."""
    holdout: dict[str, set[str]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split(",")
            if len(fields) != 3 or not fields[0] or not fields[1]:
                raise EvaluationError(f"{path.name}:{number}: not user_id,item_id,weight")
            holdout.setdefault(fields[0], set()).add(fields[1])
    return holdout


def load_served_model(archive: Path, into: Path) -> tuple[Any, Any]:
    """(the artifact's inference module, its model): model.tar.gz unpacked into `into`."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (into / member.name).resolve()
            if not (member.isfile() or member.isdir()) or into.resolve() not in (
                target,
                *target.parents,
            ):
                raise EvaluationError(f"model.tar.gz: refusing member {member.name!r}")
        tar.extractall(into)
    code = into / "code" / "inference.py"
    spec = importlib.util.spec_from_file_location("served_inference", code)
    if spec is None or spec.loader is None or not code.is_file():
        raise EvaluationError("model.tar.gz has no code/inference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module, module.model_fn(str(into))


def popular_unseen(model: Any, users: Iterable[str], k: int) -> dict[str, list[str]]:
    """Each user's k most popular items (training weight) among those it has not seen."""
    ranked = sorted(
        range(len(model.item_ids)), key=lambda i: (-model.item_weights[i], model.item_ids[i])
    )
    lists = {}
    for user in users:
        index = model.user_index.get(user)
        seen = set() if index is None else set(model.seen(index).tolist())
        lists[user] = [model.item_ids[i] for i in ranked if i not in seen][:k]
    return lists


def evaluate(archive: Path, holdout_dir: Path, k: int) -> dict[str, Any]:
    """evaluation.json's content (see the module docstring)."""
    holdout = read_holdout(holdout_dir)
    with tempfile.TemporaryDirectory() as scratch:
        inference, model = load_served_model(archive, Path(scratch))
        relevant = {}
        for user, items in sorted(holdout.items()):
            index = model.user_index.get(user)
            seen = set() if index is None else {model.item_ids[i] for i in model.seen(index)}
            if items - seen:
                relevant[user] = items - seen
        if not relevant:
            raise EvaluationError(
                f"no holdout user has an item outside their training items ({len(holdout)} "
                "holdout users)"
            )
        users = list(relevant)
        answers = inference.recommend(model, users, k)
        lists = {answer["user_id"]: answer["items"] for answer in answers}
        metrics = mean_metrics(lists, relevant, k)
        baseline = mean_metrics(popular_unseen(model, users, k), relevant, k)
    return {
        "metrics": {name: {"value": value} for name, value in metrics.items()},
        "k": k,
        "users": len(relevant),
        "popularity": baseline,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", type=Path, default=INPUT / "model" / "model.tar.gz")
    parser.add_argument("--holdout", type=Path, default=INPUT / "holdout")
    parser.add_argument("--output", type=Path, default=EVALUATION)
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        report = evaluate(args.model, args.holdout, args.k)
    except (EvaluationError, OSError, tarfile.TarError) as error:
        print(f"Evaluate failed: {error}", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"evaluation: {json.dumps(report, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
