"""PublishBaseline step of the fraud training pipeline: the monitoring baseline of the model
version that Register has just created, published under that version's package ARN.

Runs in the SageMaker SKLearn processing image, network-isolated; stdlib only, no mlkit
imports, no AWS calls: SageMaker downloads the inputs and uploads the output.

Inputs (under /opt/ml/processing/input/):
    baseline/  BuildDataset's `baseline/*.csv`: the training split's features in the schema's
               `order`, no label, no header (what the endpoint receives)
    schema/    the feature schema JSON the data set was built with

Output (/opt/ml/processing/output/, uploaded to
`s3://<artifacts>/monitoring/baselines/<model package ARN>/`):
    baseline/<file>.csv          the baseline files, unchanged
    schema/feature-schema.json   the schema, unchanged
    manifest.json                `{modelPackageArn, datasetS3Uri, pipelineExecutionArn,
                                 columns, files}`
The two folders are the monitoring jobs' `baseline/` and `schema/` inputs as they are (read
them as `<prefix>/baseline/` and `<prefix>/schema/`, with the slash).

Monitoring reads the baseline of the version actually serving from there (the approved
package's, not the last run's), so a later pipeline run never changes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")


class PublishError(Exception):
    """The inputs cannot make a baseline; the message says why."""


def read_schema(directory: Path) -> tuple[Path, dict[str, Any]]:
    """The one JSON file in `directory` and its content (which must have an `order`)."""
    files = sorted(directory.rglob("*.json"))
    if len(files) != 1:
        raise PublishError(
            f"expected one feature schema JSON under {directory}, found {len(files)}"
        )
    schema = json.loads(files[0].read_text(encoding="utf-8"))
    order = schema.get("order") if isinstance(schema, dict) else None
    if not isinstance(order, list) or not order:
        raise PublishError(f"{files[0].name}: the schema has no feature order")
    return files[0], schema


def baseline_files(directory: Path) -> list[Path]:
    """The baseline CSV files (non-empty ones; Athena may leave empty parts)."""
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file() and p.stat().st_size)
    if not files:
        raise PublishError(f"no baseline CSV under {directory}")
    names = [p.name for p in files]
    if len(set(names)) != len(names):
        raise PublishError(f"baseline files share names: {sorted(names)}")
    return files


def publish(
    input_dir: Path,
    output_dir: Path,
    *,
    model_package_arn: str,
    dataset_s3_uri: str,
    execution_arn: str,
) -> dict[str, Any]:
    """Copy the baseline and the schema into `output_dir` and write `manifest.json`."""
    if ":model-package/" not in model_package_arn:
        raise PublishError(f"not a model package ARN: {model_package_arn!r}")
    schema_path, schema = read_schema(input_dir / "schema")
    files = baseline_files(input_dir / "baseline")
    (output_dir / "baseline").mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, output_dir / "baseline" / path.name)
    (output_dir / "schema").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(schema_path, output_dir / "schema" / "feature-schema.json")
    manifest = {
        "modelPackageArn": model_package_arn,
        "datasetS3Uri": dataset_s3_uri,
        "pipelineExecutionArn": execution_arn,
        "columns": [str(name) for name in schema["order"]],
        "files": [f"baseline/{path.name}" for path in files],
    }
    (output_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-package-arn", required=True)
    parser.add_argument("--dataset-s3-uri", required=True)
    parser.add_argument("--pipeline-execution-arn", required=True)
    parser.add_argument("--input", type=Path, default=INPUT)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        manifest = publish(
            args.input,
            args.output,
            model_package_arn=args.model_package_arn,
            dataset_s3_uri=args.dataset_s3_uri,
            execution_arn=args.pipeline_execution_arn,
        )
    except PublishError as error:
        print(f"PublishBaseline failed: {error}", file=sys.stderr)
        return 1
    print(f"baseline of {manifest['modelPackageArn']}: {len(manifest['files'])} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
