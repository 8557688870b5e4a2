"""The batch recommender's model code (functions/recommendations/scripts/train.py,
inference.py, evaluate.py): metrics against hand-computed values, the served answers through
the loader's own line validation, and a trained model against popularity on data with a
planted structure."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
import tarfile
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.recommendations.loader import handler as loader

SCRIPTS = Path(__file__).resolve().parents[2] / "functions" / "recommendations" / "scripts"


def _script(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"recsys_model_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


train = _script("train")
inference = _script("inference")
evaluate = _script("evaluate")
LOG2_3 = math.log2(3)  # 1.5849625...; 1/log2(3) = 0.6309298


# --- metrics by hand -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recommended", "relevant", "k", "recall", "ndcg"),
    [
        # Top 3 = a b c, one hit (b, position 2). recall = 1 / min(3, 3).
        # DCG = 1/log2(3) = 0.6309298; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309298;
        # NDCG = 0.6309298 / 2.1309298 = 0.2960819.
        (["a", "b", "c", "d"], {"b", "d", "e"}, 3, 1 / 3, 0.2960819),
        # One relevant item, first: recall 1 / min(2, 1) = 1; DCG = IDCG = 1.
        (["x", "y"], {"x"}, 2, 1.0, 1.0),
        # Hit at position 5 of 5, two relevant: recall 1/2; DCG = 1/log2(6) = 0.3868528;
        # IDCG = 1 + 1/log2(3) = 1.6309298; NDCG = 0.2371977.
        (["p", "q", "r", "s", "t"], {"t", "u"}, 5, 0.5, 0.2371977),
        # Six relevant, k = 2, one hit first: recall 1 / min(2, 6) = 1/2;
        # DCG = 1; IDCG = 1.6309298; NDCG = 0.6131472.
        (["a", "z"], {"a", "b", "c", "d", "e", "f"}, 2, 0.5, 0.6131472),
        # No hit: 0 and 0.
        (["m", "n"], {"o"}, 2, 0.0, 0.0),
    ],
)
def test_metrics_match_hand_computed_values(
    recommended: list[str], relevant: set[str], k: int, recall: float, ndcg: float
) -> None:
    assert evaluate.recall_at_k(recommended, relevant, k) == pytest.approx(recall, abs=1e-7)
    assert evaluate.ndcg_at_k(recommended, relevant, k) == pytest.approx(ndcg, abs=1e-7)


def write_model(directory: Path, top_n: int = 2) -> Path:
    """A hand-made model: u1 = [1, 0]; items i1..i4 = [3,0], [2,0], [1,0], [0,1]; u1 saw i1;
    item weights 5, 3, 1, 0.5 (popular: i1, i2)."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / "model.npz",
        user_factors=np.array([[1.0, 0.0]], dtype=np.float32),
        item_factors=np.array([[3, 0], [2, 0], [1, 0], [0, 1]], dtype=np.float32),
        seen_indptr=np.array([0, 1]),
        seen_items=np.array([0], dtype=np.int32),
        item_weights=np.array([5.0, 3.0, 1.0, 0.5]),
    )
    (directory / "ids.json").write_text(
        json.dumps({"users": ["u1"], "items": ["i1", "i2", "i3", "i4"]})
    )
    (directory / "popular.json").write_text(
        json.dumps({"items": ["i1", "i2"], "scores": [0.52632, 0.31579]})
    )
    (directory / "model.json").write_text(json.dumps({"top_n": top_n}))
    (directory / "code").mkdir(exist_ok=True)
    (directory / "code" / "inference.py").write_text((SCRIPTS / "inference.py").read_text())
    return directory


def pack(model_dir: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return archive


def test_evaluate_a_hand_made_model_as_served(tmp_path: Path) -> None:
    archive = pack(write_model(tmp_path / "model"), tmp_path / "model.tar.gz")
    (tmp_path / "holdout").mkdir()
    (tmp_path / "holdout" / "part-0.csv").write_text("u1,i1,1.0\nu1,i3,2.0\nu1,i4,1.0\n")
    (tmp_path / "holdout" / "part-1.csv").write_text("u9,i2,5.0\nu8,i1,1.0\n\n")
    out = tmp_path / "evaluation"
    assert (
        evaluate.main(
            [
                "--k",
                "2",
                "--model",
                str(archive),
                "--holdout",
                str(tmp_path / "holdout"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "evaluation.json").read_text())
    # u1: R = {i3, i4} (i1 was seen), L = [i2 (2.0), i3 (1.0)]: recall 1/2,
    #     NDCG = (1/log2(3)) / (1 + 1/log2(3)) = 0.6309298 / 1.6309298 = 0.3868528.
    # u9 (unknown): R = {i2}, L = popular [i1, i2]: recall 1/min(2, 1) = 1, NDCG = 0.6309298.
    # u8 (unknown): R = {i1}, L = [i1, i2]: recall 1, NDCG 1.
    # Means: recall (0.5 + 1 + 1) / 3 = 0.8333333; NDCG (0.3868528 + 0.6309298 + 1) / 3
    # = 0.6725942.
    assert report["k"] == 2 and report["users"] == 3
    assert report["metrics"]["recall_at_k"]["value"] == pytest.approx(0.8333333, abs=1e-7)
    assert report["metrics"]["ndcg_at_k"]["value"] == pytest.approx(0.6725942, abs=1e-7)
    # Popular unseen: u1 gets [i2, i3] too, the unknown users [i1, i2]: the same numbers.
    assert report["popularity"]["recall_at_k"] == pytest.approx(0.8333333, abs=1e-7)


def test_evaluate_fails_without_a_user_to_evaluate(tmp_path: Path, capsys: Any) -> None:
    archive = pack(write_model(tmp_path / "model"), tmp_path / "model.tar.gz")
    (tmp_path / "holdout").mkdir()
    (tmp_path / "holdout" / "a.csv").write_text("u1,i1,1.0\n")  # only what u1 saw in training
    args = [
        "--model",
        str(archive),
        "--holdout",
        str(tmp_path / "holdout"),
        "--output",
        str(tmp_path),
    ]
    assert evaluate.main(args) == 1
    assert "no holdout user has an item outside their training items" in capsys.readouterr().err


def test_served_answers_pass_the_loader_s_line_validation(tmp_path: Path) -> None:
    model = inference.model_fn(str(write_model(tmp_path / "model", top_n=3)))
    users = inference.input_fn(b'{"user_id": "u1"}\n\n{"user_id": 42}\n', "application/jsonlines")
    assert users == ["u1", "42"]
    body, content_type = inference.output_fn(
        inference.predict_fn(users, model), "application/jsonlines"
    )
    assert content_type == "application/jsonlines"
    lines = body.encode().splitlines()
    parsed = [loader.parse_line(line, 3) for line in lines]
    # u1: unseen items by score i2 (2), i3 (1), i4 (0); 42 is unknown: the popular items.
    assert parsed == [
        loader.Recommendation("u1", ("i2", "i3", "i4"), (2.0, 1.0, 0.0)),
        loader.Recommendation("42", ("i1", "i2"), (0.52632, 0.31579)),
    ]
    with pytest.raises(ValueError, match="unsupported content type"):
        inference.input_fn(b"u1", "text/csv")
    with pytest.raises(ValueError, match="user_id"):
        inference.input_fn(b'{"user": "u1"}', "application/json")


# --- a trained model on planted structure ----------------------------------------------------

CLUSTERS, USERS_PER, ITEMS_PER = 4, 30, 12


def planted(seed: int = 7) -> tuple[list[str], list[str]]:
    """Users of cluster c mostly interact with cluster c's items (popularity skewed within
    the cluster), plus noise items from anywhere; holdout: more of their cluster's items."""
    rng = random.Random(seed)
    train_lines, holdout_lines = [], []
    skew = [1.0 / (rank + 1) for rank in range(ITEMS_PER)]
    for cluster in range(CLUSTERS):
        items = [f"c{cluster}-i{j}" for j in range(ITEMS_PER)]
        for u in range(USERS_PER):
            user = f"c{cluster}-u{u}"
            chosen: list[str] = []
            while len(chosen) < 9:
                item = rng.choices(items, weights=skew)[0]
                if item not in chosen:
                    chosen.append(item)
            noise = [f"c{rng.randrange(CLUSTERS)}-i{rng.randrange(ITEMS_PER)}" for _ in range(2)]
            train_items = set(chosen[:6]) | set(noise)
            train_lines += [
                f"{user},{item},{rng.choice([1.0, 2.0, 5.0])}" for item in sorted(train_items)
            ]
            holdout_lines += [
                f"{user},{item},1.0" for item in chosen[6:] if item not in train_items
            ]
    return train_lines, holdout_lines


def test_a_trained_model_beats_popularity_on_planted_structure(tmp_path: Path) -> None:
    train_lines, holdout_lines = planted()
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_text("\n".join(train_lines[:200]) + "\n")
    (tmp_path / "train" / "b.csv").write_text("\n".join(train_lines[200:]) + "\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text((SCRIPTS / "inference.py").read_text())
    hyper = {"factors": "8", "regularization": "0.1", "iterations": "8", "top_n": "10"}
    (tmp_path / "hyperparameters.json").write_text(json.dumps(hyper))
    model_dir = tmp_path / "model"
    status = train.main(
        [
            "--hyperparameters",
            str(tmp_path / "hyperparameters.json"),
            "--train",
            str(tmp_path / "train"),
            "--code",
            str(tmp_path / "code"),
            "--model-dir",
            str(model_dir),
            "--failure",
            str(tmp_path / "failure"),
        ]
    )
    assert status == 0
    config = json.loads((model_dir / "model.json").read_text())
    assert (config["users"], config["items"]) == (CLUSTERS * USERS_PER, CLUSTERS * ITEMS_PER)
    assert (model_dir / "code" / "inference.py").read_text() == (
        SCRIPTS / "inference.py"
    ).read_text()

    (tmp_path / "holdout").mkdir()
    (tmp_path / "holdout" / "h.csv").write_text("\n".join(holdout_lines) + "\n")
    out = tmp_path / "evaluation"
    archive = pack(model_dir, tmp_path / "model.tar.gz")
    assert (
        evaluate.main(
            [
                "--k",
                "5",
                "--model",
                str(archive),
                "--holdout",
                str(tmp_path / "holdout"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "evaluation.json").read_text())

    # Popularity computed here, independently: the most weighted unseen items per user.
    weights: dict[str, float] = {}
    seen: dict[str, set[str]] = {}
    for line in train_lines:
        user, item, weight = line.split(",")
        weights[item] = weights.get(item, 0.0) + float(weight)
        seen.setdefault(user, set()).add(item)
    ranked = sorted(weights, key=lambda item: (-weights[item], item))
    relevant: dict[str, set[str]] = {}
    for line in holdout_lines:
        user, item, _ = line.split(",")
        relevant.setdefault(user, set()).add(item)
    popular_recall = np.mean(
        [
            evaluate.recall_at_k([i for i in ranked if i not in seen[u]][:5], items, 5)
            for u, items in relevant.items()
        ]
    )
    model_recall = report["metrics"]["recall_at_k"]["value"]
    assert report["users"] == len(relevant)
    assert report["popularity"]["recall_at_k"] == pytest.approx(popular_recall)
    assert model_recall >= popular_recall + 0.2, (model_recall, popular_recall)
    assert report["metrics"]["ndcg_at_k"]["value"] > report["popularity"]["ndcg_at_k"] + 0.1

    # Every served line passes the loader's validation, with the model's top_n.
    model = inference.model_fn(str(model_dir))
    users = [f"c{c}-u{u}" for c in range(CLUSTERS) for u in range(USERS_PER)] + ["nobody"]
    body, _ = inference.output_fn(inference.predict_fn(users, model), "application/jsonlines")
    lines = body.encode().splitlines()
    assert [loader.parse_line(line, 10).user_id for line in lines] == users
    assert all(len(loader.parse_line(line, 10).items) == 10 for line in lines)


def test_training_is_deterministic_and_refuses_bad_input(tmp_path: Path) -> None:
    users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    weights = np.array([1.0, 2.0, 5.0, 1.0])
    options = {"factors": 3, "regularization": 0.1, "iterations": 3, "alpha": 1.0, "seed": 3}
    first = train.fit(users, items, weights, 3, 3, **options)
    second = train.fit(users, items, weights, 3, 3, **options)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    # The batched solve is the textbook per-user solve.
    y = first[1]
    c = 1 + weights[:2]
    a = y.T @ y + 0.1 * np.eye(3) + (y[[0, 1]].T * (c - 1)) @ y[[0, 1]]
    expected_u0 = np.linalg.solve(a, (y[[0, 1]].T * c).sum(axis=1))
    indptr, cols, conf = train.rows_of(users, items, 1 + weights, 3)
    assert np.allclose(train.solve_side(indptr, cols, conf, y, 0.1)[0], expected_u0)

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_text("u1,i1,1.0\nu1,i2,-1\n")
    with pytest.raises(train.TrainingError, match=r"a\.csv:2: empty id or weight not > 0"):
        train.read_pairs(tmp_path / "train")
    with pytest.raises(train.TrainingError, match="hyperparameter factors is missing"):
        train.hyperparameters({"regularization": "1", "iterations": "1", "top_n": "5"})
    with pytest.raises(train.TrainingError, match="top_n must be from 1 to 1000"):
        train.hyperparameters(
            {"factors": "2", "regularization": "1", "iterations": "1", "top_n": "0"}
        )
    failure = tmp_path / "out" / "failure"
    (tmp_path / "h.json").write_text('{"factors": "x"}')
    assert (
        train.main(["--hyperparameters", str(tmp_path / "h.json"), "--failure", str(failure)]) == 1
    )
    assert failure.read_text() == "Train failed: hyperparameter factors='x' is not a int\n"
