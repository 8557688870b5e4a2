"""WriteManifest step of the batch recommender's scoring pipeline: the manifest the loader
reads next to the batch transform's output, and the property file the pipeline's Lambda
step (LoadGeneration) takes the generation and the prefix from.

Processing job (SKLearn 1.4-2 image, Python 3.10; network-isolated); stdlib only.
Inputs (under /opt/ml/processing/input/):
    transform/          the batch transform's output (`*.out`; `*.jsonl` also counted): the
                        users are its non-blank lines, counted as the loader counts them
    active_users/       ListActiveUsers' active_users.json `{"users": N, "data_set": ...,
                        "popular": [item ids, ranked]}`: today's popular items (from the
                        item_features offline store, not from the model)
Arguments: `--generation`: the generation id YYYYMMDDTHHMMSSZ, or any ISO-8601 time (e.g.
the pipeline execution's start), formatted so (UTC, seconds); `--model-package-arn`;
`--execution-arn` (the pipeline execution); `--top-n` (the loader's TOP_N: the first
`--top-n` popular items are kept). Optional: `--prefix`, the S3 URI of the transform output
where the loader reads (default: this job's `manifest` output, else its `transform` input,
from SageMaker's /opt/ml/config/processingjobconfig.json), and `--data-set` (default:
active_users.json's).

Outputs:
    <--output>/manifest.json  (default /opt/ml/processing/manifest, uploaded next to the
        `.out` files) `{"users", "popular", "generation", "model_version", "active_users",
        "pipeline_execution", "data_set"}`: the keys the loader accepts (it computes the
        coverage, users / active_users, itself and refuses unknown keys)
    <--generation-output>/generation.json  (default /opt/ml/processing/generation; the
        step's property file) `{"generation", "prefix"}`, prefix ending in "/"
Exit 1 with one line on stderr when the transform output has no user or more users than
were active, active_users.json lists no popular items (or not as a list of distinct,
non-empty item ids), or an input is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/manifest")
GENERATION_OUTPUT = Path("/opt/ml/processing/generation")
JOB_CONFIG = Path("/opt/ml/config/processingjobconfig.json")
GENERATION = re.compile(r"\d{8}T\d{6}Z")
S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+")
OUTPUT_SUFFIXES = (".out", ".jsonl")  # the loader's
UTC = timezone.utc  # noqa: UP017 - the processing image runs Python 3.10 (no datetime.UTC)


class ManifestError(Exception):
    """The inputs do not make a loadable generation; the message says why."""


def count_users(directory: Path) -> int:
    """Non-blank lines of the output files under `directory` (every one a user)."""
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.name.endswith(OUTPUT_SUFFIXES)
    )
    if not files:
        raise ManifestError(f"no {' or '.join(OUTPUT_SUFFIXES)} files under {directory}")
    count = 0
    for path in files:
        with path.open("rb") as lines:
            count += sum(1 for line in lines if line.strip())
    return count


def popular_items(summary: dict[str, Any], top_n: int) -> list[str]:
    """The first `top_n` of active_users.json's `popular` items (ranked, best first)."""
    items = summary.get("popular")
    if not isinstance(items, list) or not items:
        raise ManifestError("active_users.json lists no popular items")
    if not all(isinstance(item, str) and item for item in items) or len(set(items)) < len(items):
        raise ManifestError("active_users.json's popular items are not distinct item ids")
    return items[:top_n]


def generation_id(text: str) -> str:
    """YYYYMMDDTHHMMSSZ, from itself or from an ISO-8601 time (naive = UTC)."""
    if GENERATION.fullmatch(text):
        return text
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ManifestError(
            f"--generation {text!r} is neither YYYYMMDDTHHMMSSZ nor ISO-8601"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def job_prefix(config: Path) -> str:
    """The S3 URI of this job's `manifest` output, else of its `transform` input."""
    try:
        job = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ManifestError(f"no --prefix and no readable {config}") from None
    outputs = job.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for output in outputs:
        if output.get("OutputName") == "manifest":
            return str(output["S3Output"]["S3Uri"])
    for item in job.get("ProcessingInputs", []):
        if item.get("InputName") == "transform":
            return str(item["S3Input"]["S3Uri"])
    raise ManifestError(f"{config} has no manifest output or transform input")


def build(args: argparse.Namespace) -> dict[str, Any]:
    """manifest.json's and generation.json's contents."""
    generation = generation_id(args.generation)
    prefix = args.prefix or job_prefix(args.job_config)
    if not S3_URI.fullmatch(prefix):
        raise ManifestError(f"the prefix {prefix!r} is not an s3://bucket/prefix URI")
    prefix = prefix.rstrip("/") + "/"
    summary = json.loads((args.active_users / "active_users.json").read_text())
    if not isinstance(summary, dict):
        raise ManifestError("active_users.json is not a JSON object")
    active = summary.get("users")
    users = count_users(args.transform)
    if users < 1:
        raise ManifestError("the batch transform output has no users")
    if not isinstance(active, int) or isinstance(active, bool) or users > active:
        raise ManifestError(f"{users} users scored but {active} were active")
    data_set = args.data_set or summary.get("data_set")
    manifest = {
        "users": users,
        "popular": popular_items(summary, args.top_n),
        "generation": generation,
        "model_version": args.model_package_arn,
        "active_users": active,
        "pipeline_execution": args.execution_arn,
        **({"data_set": str(data_set)} if data_set else {}),
    }
    return {"manifest": manifest, "generation": {"generation": generation, "prefix": prefix}}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--generation", required=True)
    parser.add_argument("--model-package-arn", required=True)
    parser.add_argument("--execution-arn", required=True)
    parser.add_argument("--top-n", type=int, required=True)
    parser.add_argument("--prefix", default=None, help="S3 URI of the transform output")
    parser.add_argument("--data-set", default=None, help="S3 URI of the transform input")
    parser.add_argument("--transform", type=Path, default=INPUT / "transform")
    parser.add_argument("--active-users", type=Path, default=INPUT / "active_users")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--generation-output", type=Path, default=GENERATION_OUTPUT)
    parser.add_argument("--job-config", type=Path, default=JOB_CONFIG)
    args = parser.parse_args(argv)
    if not 1 <= args.top_n <= 1000:
        parser.error("--top-n must be from 1 to 1000")
    try:
        files = build(args)
    except (ManifestError, OSError, KeyError, ValueError) as error:
        print(f"WriteManifest failed: {error}", file=sys.stderr)
        return 1
    for directory, name in ((args.output, "manifest"), (args.generation_output, "generation")):
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(files[name], indent=2) + "\n"
        (directory / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"manifest: {json.dumps(files, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
