"""PublishBaseline's job (functions/training/scripts/publish_baseline.py): it copies the data
set's baseline and the feature schema into its output, which SageMaker uploads under the
registered version's package ARN; and that prefix, ':' and '/' included, is an S3 prefix like
any other (moto's server on 127.0.0.1)."""

from __future__ import annotations

import importlib.util
import json
import types
from pathlib import Path

import boto3
import pytest

from functions.training.definition import (
    BASELINE_PUBLISHED_FILES,
    SCRIPTS_DIR,
    monitoring_baseline_uri,
)


def _script(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"baseline_{name}", SCRIPTS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish_baseline = _script("publish_baseline")

ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud-dev-fraud-model/3"
DATASET = "s3://fraud-dev-artifacts/training/exec-1/BuildDataset/dataset"
EXECUTION = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/fraud-dev-training/execution/e1"
SCHEMA = {"featureGroups": [], "label": "is_fraud", "order": ["amount", "txn_count_10m"]}


def inputs(tmp_path: Path, files: dict[str, str], schema: object = SCHEMA) -> Path:
    root = tmp_path / "input"
    for name, text in files.items():
        (root / "baseline" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "baseline" / name).write_text(text)
    (root / "schema").mkdir(parents=True)
    (root / "schema" / "feature-schema.json").write_text(json.dumps(schema))
    return root


def run(tmp_path: Path, root: Path, arn: str = ARN) -> int:
    return publish_baseline.main(
        [
            "--model-package-arn",
            arn,
            "--dataset-s3-uri",
            DATASET,
            "--pipeline-execution-arn",
            EXECUTION,
            "--input",
            str(root),
            "--output",
            str(tmp_path / "output"),
        ]
    )


def test_copies_the_baseline_and_schema_and_describes_them(tmp_path: Path) -> None:
    root = inputs(tmp_path, {"a.csv": "1.0,2\n", "b.csv": "3.5,\n", "empty.csv": ""})
    assert run(tmp_path, root) == 0
    out = tmp_path / "output"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "baseline/a.csv",
        "baseline/b.csv",
        "manifest.json",
        "schema/feature-schema.json",
    ]
    # What definition.py tells monitoring a version's prefix holds.
    assert sorted(BASELINE_PUBLISHED_FILES) == [
        "baseline/",
        "manifest.json",
        "schema/feature-schema.json",
    ]
    assert (out / "baseline" / "b.csv").read_text() == "3.5,\n"
    assert json.loads((out / "schema" / "feature-schema.json").read_text()) == SCHEMA
    assert json.loads((out / "manifest.json").read_text()) == {
        "modelPackageArn": ARN,
        "datasetS3Uri": DATASET,
        "pipelineExecutionArn": EXECUTION,
        "columns": ["amount", "txn_count_10m"],
        "files": ["baseline/a.csv", "baseline/b.csv"],
    }


@pytest.mark.parametrize(
    ("files", "schema", "arn", "message"),
    [
        ({}, SCHEMA, ARN, "no baseline CSV under"),
        ({"a.csv": ""}, SCHEMA, ARN, "no baseline CSV under"),
        ({"x/a.csv": "1\n", "y/a.csv": "2\n"}, SCHEMA, ARN, "baseline files share names"),
        ({"a.csv": "1\n"}, {"label": "is_fraud"}, ARN, "feature-schema.json: the schema has no"),
        ({"a.csv": "1\n"}, SCHEMA, "fraud-dev-fraud-model/3", "not a model package ARN"),
    ],
)
def test_refuses_what_cannot_be_a_baseline(tmp_path, capsys, files, schema, arn, message) -> None:
    assert run(tmp_path, inputs(tmp_path, files, schema), arn) == 1
    assert capsys.readouterr().err.startswith(f"PublishBaseline failed: {message}")


def test_refuses_more_than_one_schema(tmp_path: Path, capsys) -> None:
    root = inputs(tmp_path, {"a.csv": "1\n"})
    (root / "schema" / "other.json").write_text("{}")
    assert run(tmp_path, root) == 1
    assert "expected one feature schema JSON" in capsys.readouterr().err


def test_the_package_arn_prefix_is_an_ordinary_s3_prefix(aws: str, tmp_path: Path) -> None:
    """What SageMaker's upload of the job output leaves, read back by the location monitoring
    computes from the serving version's ARN alone."""
    assert run(tmp_path, inputs(tmp_path, {"a.csv": "1.0,2\n"})) == 0
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="fraud-dev-artifacts",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    destination = f"s3://fraud-dev-artifacts/monitoring/baselines/{ARN}"  # the step's S3Uri
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    out = tmp_path / "output"
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(out).as_posix()}")
    location = monitoring_baseline_uri("fraud-dev-artifacts", ARN)
    assert location == destination + "/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=location.removeprefix(f"s3://{bucket}/"))
    assert sorted(o["Key"].removeprefix(f"{prefix}/") for o in listed["Contents"]) == [
        "baseline/a.csv",
        "manifest.json",
        "schema/feature-schema.json",
    ]
    # The monitoring jobs' two inputs, read with their slash, hold one kind of file each.
    for folder, expected in (("baseline/", ["a.csv"]), ("schema/", ["feature-schema.json"])):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{folder}")
        assert [o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]] == expected
    body = s3.get_object(Bucket=bucket, Key=f"{prefix}/baseline/a.csv")["Body"].read()
    assert body == b"1.0,2\n"
    # Another version of the group does not see this one's files.
    other = monitoring_baseline_uri("fraud-dev-artifacts", ARN[:-1] + "30")
    assert "Contents" not in s3.list_objects_v2(
        Bucket=bucket, Prefix=other.removeprefix(f"s3://{bucket}/")
    )


def test_the_locations_fit_the_sagemaker_api() -> None:
    """The job's output S3Uri (the longest ARN a shipped stack can have) and the prefix
    recorded in the package's customer metadata, against the API's own patterns."""
    import botocore.session
    import regex

    model = botocore.session.get_session().get_service_model("sagemaker")
    output = model.shape_for("ProcessingS3Output").members["S3Uri"].metadata
    value = model.shape_for("CustomerMetadataMap").value.metadata
    group = "fraud-staging-fraud-model"  # model_group_name("fraud-staging"), the longest
    arn = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{group}/99999"
    prefix = "s3://fraud-staging-artifacts-bucket-1a2b3c4/monitoring/baselines"
    uri = f"{prefix}/{arn}"
    assert regex.fullmatch(output["pattern"], uri) and len(uri) <= output["max"] == 1024
    assert regex.fullmatch(value["pattern"], prefix) and len(prefix) <= value["max"] == 256
