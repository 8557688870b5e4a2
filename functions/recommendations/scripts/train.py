"""Train step of the batch recommender's training pipeline: implicit-feedback matrix
factorization (alternating least squares, Hu, Koren and Volinsky 2008) in numpy.

A SageMaker *training job* on the SKLearn 1.4-2 image (Python 3.10, numpy), with
ContainerEntrypoint `["python3", "/opt/ml/input/data/code/train.py"]`; no mlkit imports.

Inputs:
    /opt/ml/input/data/train/   channel `train`: CSV `user_id,item_id,weight`, no header
                                (BuildInteractions' train/ files; every file, recursively)
    /opt/ml/input/data/code/    channel `code`: the code prefix (inference.py is copied)
    /opt/ml/input/config/hyperparameters.json
        factors (int >= 1), regularization (float >= 0), iterations (int >= 1),
        top_n (int, 1..1000: items per user served); optional alpha (float > 0, default
        1.0: confidence per unit of weight) and seed (int, default 0). SageMaker passes
        every value as a string; both are accepted.
Output: /opt/ml/model (SageMaker packs it as model.tar.gz): model.npz, ids.json,
popular.json, model.json (described in inference.py) and code/inference.py. On failure,
/opt/ml/output/failure holds the reason (SageMaker shows it as the job's FailureReason) and
the exit status is 1.

The model: the weights of a (user, item) pair (summed if listed more than once) give the
confidence c = 1 + alpha * weight that the user prefers the item (preference 1 for every
pair listed, 0 for every other item, confidence 1). Each iteration solves, exactly, for all
user factors given the item factors and then for all item factors given the user factors,
minimizing sum c (p - x.y)^2 + regularization (|x|^2 + |y|^2), with the usual trick: the
unobserved items' term is the Gram matrix Y'Y, computed once per half-iteration, plus a
correction per observed pair. The solves are batched (numpy's batched linalg.solve over
blocks of rows), so the Python loop is per block, not per user. Pairs with a weight that is
not positive carry no preference and are refused (validate_interactions.py refuses them
first). The random initialization is seeded: the same data and hyperparameters give the
same model.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HYPERPARAMETERS = Path("/opt/ml/input/config/hyperparameters.json")
TRAIN = Path("/opt/ml/input/data/train")
CODE = Path("/opt/ml/input/data/code")
MODEL = Path("/opt/ml/model")
FAILURE = Path("/opt/ml/output/failure")
TOP_N_MAX = 1000  # the loader's
BLOCK_FLOATS = 1 << 23  # pairs x factors^2 per batched solve (64 MiB of float64)


class TrainingError(Exception):
    """The inputs cannot make a model; the message says why."""


def hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated hyperparameters (values may be strings, as SageMaker passes them)."""

    def number(name: str, kind: type, default: Any = None) -> Any:
        if name not in raw:
            if default is None:
                raise TrainingError(f"hyperparameter {name} is missing")
            return default
        try:
            value = kind(float(raw[name])) if kind is float else kind(str(raw[name]))
        except ValueError:
            raise TrainingError(
                f"hyperparameter {name}={raw[name]!r} is not a {kind.__name__}"
            ) from None
        if kind is float and not math.isfinite(value):
            raise TrainingError(f"hyperparameter {name} must be finite")
        return value

    values = {
        "factors": number("factors", int),
        "regularization": number("regularization", float),
        "iterations": number("iterations", int),
        "top_n": number("top_n", int),
        "alpha": number("alpha", float, 1.0),
        "seed": number("seed", int, 0),
    }
    unknown = sorted(set(raw) - set(values))
    if unknown:
        raise TrainingError(f"unknown hyperparameters {unknown}")
    if values["factors"] < 1 or values["iterations"] < 1:
        raise TrainingError("factors and iterations must be at least 1")
    if values["regularization"] < 0 or values["alpha"] <= 0:
        raise TrainingError("regularization must be >= 0 and alpha > 0")
    if not 1 <= values["top_n"] <= TOP_N_MAX:
        raise TrainingError(f"top_n must be from 1 to {TOP_N_MAX}")
    return values


def read_pairs(directory: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, user index, item index, weight) of every pair in the CSV files
    under `directory`; a pair listed twice is summed."""
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    pairs: dict[tuple[int, int], float] = {}
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                fields = line.rstrip("\r\n").split(",")
                try:
                    user, item, text = fields
                    weight = float(text)
                except ValueError:
                    raise TrainingError(
                        f"{path.name}:{number}: not user_id,item_id,weight"
                    ) from None
                if not user or not item or not math.isfinite(weight) or weight <= 0:
                    raise TrainingError(f"{path.name}:{number}: empty id or weight not > 0")
                key = (users.setdefault(user, len(users)), items.setdefault(item, len(items)))
                pairs[key] = pairs.get(key, 0.0) + weight
    if not pairs:
        raise TrainingError(f"no interactions in {directory} ({len(files)} files)")
    index = np.array(list(pairs), dtype=np.int64)
    weights = np.array(list(pairs.values()), dtype=np.float64)
    return list(users), list(items), index[:, 0], index[:, 1], weights


def rows_of(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, column indices, values) of the pairs, columns ascending within a row."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order], values[order]


def solve_side(
    indptr: np.ndarray,
    indices: np.ndarray,
    confidence: np.ndarray,
    fixed: np.ndarray,
    regularization: float,
) -> np.ndarray:
    """Each row's least-squares factors given the other side's `fixed` factors:
    x = (Y'Y + Y'(C - I)Y + reg I)^-1 Y'C p, with p = 1 on the row's pairs."""
    n, k = len(indptr) - 1, fixed.shape[1]
    gram = fixed.T @ fixed + regularization * np.eye(k)
    out = np.zeros((n, k))
    per_block = max(1, BLOCK_FLOATS // (k * k))
    start = 0
    while start < n:
        stop = int(np.searchsorted(indptr, indptr[start] + per_block, side="right")) - 1
        stop = min(n, max(start + 1, stop))
        low, high = indptr[start], indptr[stop]
        y = fixed[indices[low:high]]
        c = confidence[low:high]
        counts = np.diff(indptr[start : stop + 1])
        filled = counts > 0
        offsets = (indptr[start:stop] - low)[filled]
        a = np.broadcast_to(gram, (stop - start, k, k)).copy()
        b = np.zeros((stop - start, k))
        if len(offsets):
            outer = (c - 1.0)[:, None, None] * y[:, :, None] * y[:, None, :]
            a[filled] += np.add.reduceat(outer, offsets, axis=0)
            b[filled] = np.add.reduceat(c[:, None] * y, offsets, axis=0)
        out[start:stop] = np.linalg.solve(a, b[:, :, None])[:, :, 0]
        start = stop
    return out


def fit(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    factors: int,
    regularization: float,
    iterations: int,
    alpha: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors by alternating least squares (see the module docstring)."""
    confidence = 1.0 + alpha * weights
    by_user = rows_of(users, items, confidence, n_users)
    by_item = rows_of(items, users, confidence, n_items)
    rng = np.random.default_rng(seed)
    user_factors = rng.standard_normal((n_users, factors)) * 0.01
    item_factors = rng.standard_normal((n_items, factors)) * 0.01
    for _ in range(iterations):
        user_factors = solve_side(*by_user, item_factors, regularization)
        item_factors = solve_side(*by_item, user_factors, regularization)
    return user_factors, item_factors


def train(
    train_dir: Path, code_dir: Path, model_dir: Path, params: dict[str, Any]
) -> dict[str, Any]:
    """Fit the model on the train files and write the model directory; its model.json."""
    user_ids, item_ids, users, items, weights = read_pairs(train_dir)
    inference = code_dir / "inference.py"
    if not inference.is_file():
        raise TrainingError(f"no inference.py in the code channel ({code_dir})")
    user_factors, item_factors = fit(
        users,
        items,
        weights,
        len(user_ids),
        len(item_ids),
        **{
            key: params[key] for key in ("factors", "regularization", "iterations", "alpha", "seed")
        },
    )
    if not (np.isfinite(user_factors).all() and np.isfinite(item_factors).all()):
        raise TrainingError("the factors are not finite; raise the regularization")
    seen_indptr, seen_items, _ = rows_of(users, items, weights, len(user_ids))
    item_weights = np.bincount(items, weights=weights, minlength=len(item_ids))
    # Most weight first; equal weight by item id, so the list is deterministic.
    ranked = sorted(range(len(item_ids)), key=lambda i: (-item_weights[i], item_ids[i]))
    popular = ranked[: params["top_n"]]
    total = float(item_weights.sum())

    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez(
        model_dir / "model.npz",
        user_factors=user_factors.astype(np.float32),
        item_factors=item_factors.astype(np.float32),
        seen_indptr=seen_indptr,
        seen_items=seen_items.astype(np.int32),
        item_weights=item_weights,
    )
    write_json(model_dir / "ids.json", {"users": user_ids, "items": item_ids})
    write_json(
        model_dir / "popular.json",
        {
            "items": [item_ids[i] for i in popular],
            "scores": [round(float(item_weights[i]) / total, 6) for i in popular],
        },
    )
    config = {
        **{key: params[key] for key in ("top_n", "factors", "regularization", "iterations")},
        "alpha": params["alpha"],
        "users": len(user_ids),
        "items": len(item_ids),
        "interactions": len(weights),
    }
    write_json(model_dir / "model.json", config)
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy(inference, model_dir / "code" / "inference.py")
    return config


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the training job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hyperparameters", type=Path, default=HYPERPARAMETERS)
    parser.add_argument("--train", type=Path, default=TRAIN)
    parser.add_argument("--code", type=Path, default=CODE)
    parser.add_argument("--model-dir", type=Path, default=MODEL)
    parser.add_argument("--failure", type=Path, default=FAILURE)
    args = parser.parse_args(argv)
    try:
        raw = json.loads(args.hyperparameters.read_text(encoding="utf-8"))
        config = train(args.train, args.code, args.model_dir, hyperparameters(raw))
    except (TrainingError, OSError, ValueError) as error:
        message = f"Train failed: {error}"
        print(message, file=sys.stderr)
        try:
            args.failure.parent.mkdir(parents=True, exist_ok=True)
            args.failure.write_text(message + "\n", encoding="utf-8")
        except OSError:
            pass
        return 1
    print(f"trained: {json.dumps(config, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
