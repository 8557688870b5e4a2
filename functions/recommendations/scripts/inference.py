"""Serving code of the batch recommender's model: the SageMaker SKLearn container's handler
functions (`SAGEMAKER_PROGRAM=inference.py`, `SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code`;
train.py copies this file to `code/` in the model artifact), used by the nightly batch
transform and by evaluate.py, so the evaluation measures exactly what is served.

Python 3.10 and numpy only (the SKLearn 1.4-2 image has both); no mlkit imports.

The model directory (what train.py writes to /opt/ml/model):
    model.npz     user_factors (users x factors), item_factors (items x factors), float32;
                  seen_indptr, seen_items: each user's training items (CSR rows, by user
                  index); item_weights: each item's summed training weight
    ids.json      {"users": [user ids, by index], "items": [item ids, by index]}
    popular.json  {"items": [top_n item ids], "scores": [their share of all training weight]}
    model.json    {"top_n", "factors", "regularization", "iterations", "alpha", "users",
                  "items", "interactions"}

Requests (`input_fn`): `application/jsonlines` (also `application/x-jsonlines`): one JSON
object per line, `{"user_id": "..."}` (an integer id is taken as its decimal string; other
keys ignored, blank lines skipped); `application/json`: one such object or a list of them.

Answers (`output_fn`): JSON lines, one per requested user, in request order,
`{"user_id", "items", "scores"}`: the model's top_n items by score (user factors . item
factors), best first, leaving out the items the user interacted with in training; scores
rounded to 6 decimals (still non-increasing: rounding keeps order). A user the model does
not know, or one with no item left to recommend, gets the popular items with their
popularity scores. Exactly what the loader (functions/recommendations/loader) accepts:
1..top_n distinct items, non-increasing finite scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

JSON_LINES = ("application/jsonlines", "application/x-jsonlines")
JSON = "application/json"
SCORE_DECIMALS = 6
BATCH_CELLS = 1 << 24  # users x items scored at once (64 MiB of float32)


@dataclass
class Model:
    user_ids: list[str]
    item_ids: list[str]
    user_index: dict[str, int]
    user_factors: np.ndarray
    item_factors: np.ndarray
    seen_indptr: np.ndarray
    seen_items: np.ndarray
    item_weights: np.ndarray
    popular: list[str]
    popular_scores: list[float]
    top_n: int

    def seen(self, user: int) -> np.ndarray:
        """The item indices user `user` interacted with in training."""
        return self.seen_items[self.seen_indptr[user] : self.seen_indptr[user + 1]]


def model_fn(model_dir: str) -> Model:
    """Load the model directory (see the module docstring)."""
    root = Path(model_dir)
    arrays = np.load(root / "model.npz", allow_pickle=False)
    ids = json.loads((root / "ids.json").read_text(encoding="utf-8"))
    popular = json.loads((root / "popular.json").read_text(encoding="utf-8"))
    config = json.loads((root / "model.json").read_text(encoding="utf-8"))
    users = [str(user) for user in ids["users"]]
    return Model(
        user_ids=users,
        item_ids=[str(item) for item in ids["items"]],
        user_index={user: index for index, user in enumerate(users)},
        user_factors=arrays["user_factors"],
        item_factors=arrays["item_factors"],
        seen_indptr=arrays["seen_indptr"],
        seen_items=arrays["seen_items"],
        item_weights=arrays["item_weights"],
        popular=[str(item) for item in popular["items"]],
        popular_scores=[float(score) for score in popular["scores"]],
        top_n=int(config["top_n"]),
    )


def _user_id(record: Any) -> str:
    if not isinstance(record, dict) or "user_id" not in record:
        raise ValueError('each record must be a JSON object with a "user_id"')
    user = record["user_id"]
    if isinstance(user, int) and not isinstance(user, bool):
        return str(user)
    if not isinstance(user, str) or not user:
        raise ValueError("user_id must be a non-empty string or an integer")
    return user


def input_fn(request_body: bytes | str, request_content_type: str) -> list[str]:
    """The requested user ids, in order."""
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    kind = (request_content_type or "").split(";")[0].strip().lower()
    if kind in JSON_LINES:
        return [_user_id(json.loads(line)) for line in text.splitlines() if line.strip()]
    if kind == JSON:
        data = json.loads(text)
        return [_user_id(record) for record in (data if isinstance(data, list) else [data])]
    raise ValueError(f"unsupported content type {request_content_type!r}; send {JSON_LINES[0]}")


def _popular(model: Model, user: str, n: int) -> dict[str, Any]:
    return {"user_id": user, "items": model.popular[:n], "scores": model.popular_scores[:n]}


def recommend(model: Model, users: Sequence[str], n: int) -> list[dict[str, Any]]:
    """Top-`n` recommendations of each user (see the module docstring), in order."""
    answers: list[dict[str, Any] | None] = [None] * len(users)
    known = [
        (pos, model.user_index[user]) for pos, user in enumerate(users) if user in model.user_index
    ]
    n_items = len(model.item_ids)
    batch = max(1, BATCH_CELLS // max(1, n_items))
    for start in range(0, len(known), batch):
        chunk = known[start : start + batch]
        rows = np.array([index for _, index in chunk], dtype=np.int64)
        scores = model.user_factors[rows] @ model.item_factors.T
        for row, index in enumerate(rows):
            scores[row, model.seen(int(index))] = -np.inf
        take = min(n, n_items)
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take] if take < n_items else None
        for row, (pos, _) in enumerate(chunk):
            candidates = np.arange(n_items) if top is None else top[row]
            values = scores[row, candidates]
            # Best first; equal scores by item index, so the order is deterministic.
            order = np.lexsort((candidates, -values))
            picked = [(candidates[i], values[i]) for i in order if np.isfinite(values[i])][:n]
            if not picked:
                answers[pos] = _popular(model, users[pos], n)
                continue
            answers[pos] = {
                "user_id": users[pos],
                "items": [model.item_ids[item] for item, _ in picked],
                "scores": [round(float(value), SCORE_DECIMALS) + 0.0 for _, value in picked],
            }
    return [
        answer if answer is not None else _popular(model, users[pos], n)
        for pos, answer in enumerate(answers)
    ]


def predict_fn(input_data: list[str], model: Model) -> list[dict[str, Any]]:
    """Top-N (the model's top_n) recommendations of each requested user."""
    return recommend(model, input_data, model.top_n)


def output_fn(prediction: list[dict[str, Any]], accept: str) -> tuple[str, str]:
    """JSON lines, one per user; the body and its content type."""
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in prediction)
    return body, JSON_LINES[0]
