"""BuildDataset's runner (functions/training/scripts/build_dataset.py): it renders the
training-set query, runs it as an Athena UNLOAD in the workgroup (moto's server on 127.0.0.1
answers Athena with canned executions and keeps S3 for real), and publishes the files.
The query's results are the business of test_dataset_sql.py (DuckDB)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.training.definition import SCRIPTS_DIR, TRAINING_SET_SQL


def _script(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"runner_{name}", SCRIPTS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_dataset = _script("build_dataset")

SCHEMA = {
    "featureGroups": [
        {
            "name": "transactions",
            "recordIdentifier": "transaction_id",
            "eventTime": "event_time",
            "features": [
                {"name": "transaction_id", "type": "string"},
                {"name": "card_id", "type": "string"},
                {"name": "amount", "type": "fractional"},
                {"name": "event_time", "type": "string"},
            ],
        },
        {
            "name": "card_aggregates",
            "recordIdentifier": "card_id",
            "eventTime": "event_time",
            "features": [
                {"name": "card_id", "type": "string"},
                {"name": "event_time", "type": "string"},
                {"name": "txn_count_10m", "type": "integral", "default": 0},
            ],
        },
    ],
    "label": "is_fraud",
    "order": ["amount", "txn_count_10m"],
}
BUCKET = "fraud-dev-artifacts"
PREFIX = f"s3://{BUCKET}/training/exec-1/BuildDataset"
RUN = f"{PREFIX}/staging/run-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
WORKGROUP = "fraud-dev-training"
AS_OF = "2024-05-01T12:00:00Z"
TABLES = build_dataset.Tables(
    "fraud_dev_features",
    {"transactions": "fraud_dev_transactions", "card_aggregates": "fraud_dev_card_aggregates"},
    "fraud_dev_ground_truth",
    "labels",
)


def argv(tmp_path: Path, **overrides: str) -> list[str]:
    options = {
        "--training-window-days": "90",
        "--as-of": AS_OF,
        "--workgroup": WORKGROUP,
        "--database": TABLES.database,
        "--labels-database": TABLES.labels_database,
        "--labels-table": TABLES.labels_table,
        "--output-s3-uri": f"{PREFIX}/dataset",
        "--staging-s3-uri": f"{PREFIX}/staging",
        "--kms-key-arn": KEY,
        "--run-id": "run-1",
        "--input": str(tmp_path / "input"),
        "--output": str(tmp_path / "output"),
    } | overrides
    tables = [arg for group, table in TABLES.groups.items() for arg in ("--table", group, table)]
    return [item for pair in options.items() for item in pair] + tables


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """The processing inputs: the schema and the query template, where the job has them."""
    (tmp_path / "input" / "schema").mkdir(parents=True)
    (tmp_path / "input" / "schema" / "feature-schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "input" / "sql").mkdir()
    shutil.copy(TRAINING_SET_SQL, tmp_path / "input" / "sql" / "training_set.sql")
    return tmp_path


@pytest.fixture
def account(aws: str) -> Iterator[tuple[Any, Any]]:
    """moto: the workgroup and the artifacts bucket."""
    athena, s3 = boto3.client("athena"), boto3.client("s3")
    athena.create_work_group(
        Name=WORKGROUP,
        Configuration={
            "EnforceWorkGroupConfiguration": True,
            "ResultConfiguration": {
                "OutputLocation": f"s3://{BUCKET}/athena/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": KEY},
            },
        },
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield athena, s3


def unloaded(s3: Any, files: dict[str, str]) -> None:
    """What the UNLOAD would have written: `part=<part>/<name>` -> text."""
    for name, text in files.items():
        key = f"training/exec-1/BuildDataset/staging/run-1/data/{name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def keys(s3: Any, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def expected_query() -> str:
    window = build_dataset.Window.before(datetime(2024, 5, 1, 12, tzinfo=UTC), 90)
    template = TRAINING_SET_SQL.read_text(encoding="utf-8")
    return build_dataset.render_training_set(template, SCHEMA, TABLES, window)


def test_main_runs_the_unload_in_the_workgroup_and_publishes_the_files(
    inputs: Path, account: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    athena, s3 = account
    unloaded(
        s3,
        {
            "part=train/20240501_120301_00017_x7k2m_3f1c": "0,20.0,4\n1,5.25,0\n",
            "part=train/20240501_120301_00017_x7k2m_9a0e": "0,1.0,2\n",
            "part=train/empty": "",  # an empty object is not a data file
            "part=validation/20240501_120301_00017_x7k2m_51bd": "1,99.5,7\n",
            "part=baseline/20240501_120301_00017_x7k2m_c4d2": "20.0,4\n5.25,0\n1.0,2\n",
        },
    )
    # Left by an earlier attempt of this step: replaced, not mixed in.
    s3.put_object(Bucket=BUCKET, Key="training/exec-1/BuildDataset/dataset/train/old.csv", Body=b"")

    assert build_dataset.main(argv(inputs), sleep=lambda seconds: None) == 0

    (query_id,) = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Query"] == (
        "UNLOAD (SELECT line, part FROM (\n"
        + expected_query().rstrip()
        + f"\n) training_set)\nTO '{RUN}/data/'\n"
        "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'NONE', "
        "partitioned_by = ARRAY['part'])"
    )
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"] == {
        "Catalog": "AwsDataCatalog",
        "Database": "fraud_dev_features",
    }
    # moto appends the execution's result file name to the location sent.
    assert execution["ResultConfiguration"] == {
        "OutputLocation": f"{RUN}/results/{query_id}.csv",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": KEY},
    }

    dataset = "training/exec-1/BuildDataset/dataset/"
    assert keys(s3, dataset) == [
        f"{dataset}baseline/20240501_120301_00017_x7k2m_c4d2.csv",
        f"{dataset}train/20240501_120301_00017_x7k2m_3f1c.csv",
        f"{dataset}train/20240501_120301_00017_x7k2m_9a0e.csv",
        f"{dataset}validation/20240501_120301_00017_x7k2m_51bd.csv",
    ]
    copied = s3.get_object(
        Bucket=BUCKET, Key=f"{dataset}train/20240501_120301_00017_x7k2m_3f1c.csv"
    )
    assert copied["Body"].read() == b"0,20.0,4\n1,5.25,0\n"
    assert copied["ServerSideEncryption"] == "aws:kms"
    assert copied["SSEKMSKeyId"] == KEY
    assert keys(s3, "training/exec-1/BuildDataset/staging/") == []

    out = inputs / "output"
    assert json.loads((out / "columns.json").read_text()) == ["is_fraud", "amount", "txn_count_10m"]
    assert (out / "training_set.sql").read_text() == expected_query().rstrip() + "\n"
    build = json.loads((out / "build.json").read_text())
    assert build["window"] == {
        "start": "2024-02-01T12:00:00.000Z",
        "split": "2024-04-13T12:00:00.000Z",
        "end": "2024-05-01T12:00:00.000Z",
    }
    assert build["queryExecutionId"] == query_id
    assert build["files"] == {"train": 2, "validation": 1, "baseline": 1}
    assert "validation from 2024-04-13T12:00:00.000Z" in capsys.readouterr().out


def test_main_fails_clearly_without_validation_rows(
    inputs: Path, account: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _, s3 = account
    unloaded(s3, {"part=train/a": "0,1.0,2\n", "part=baseline/b": "1.0,2\n"})
    assert build_dataset.main(argv(inputs), sleep=lambda seconds: None) == 1
    assert capsys.readouterr().err == (
        "BuildDataset failed: no labelled transactions from 2024-04-13T12:00:00.000Z to "
        "2024-05-01T12:00:00.000Z (the validation split, the newest 20% of the window)\n"
    )
    assert keys(s3, "training/exec-1/BuildDataset/staging/") == []
    assert not (inputs / "output" / "columns.json").exists()


class FakeAthena:
    """An Athena client whose query goes through `states` (the last one repeats)."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []

    def start_query_execution(self, **request: Any) -> dict[str, str]:
        self.started.append(request)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        status = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId, "Status": status}}

    def stop_query_execution(self, QueryExecutionId: str) -> None:
        self.stopped.append(QueryExecutionId)


def _run(athena: FakeAthena, **options: Any) -> dict[str, Any]:
    return build_dataset.run_query(
        athena,
        "UNLOAD (...)",
        workgroup=WORKGROUP,
        database="db",
        output_location=f"{RUN}/results/",
        kms_key_arn=KEY,
        **({"timeout_seconds": 600, "sleep": lambda seconds: None} | options),
    )


def test_a_failed_query_fails_the_step_with_athena_s_reason(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "INVALID_CAST_ARGUMENT: Cannot cast 'label is_fraud must be 0 or 1, got: maybe'"
    athena = FakeAthena(
        {"State": "QUEUED"},
        {"State": "RUNNING"},
        {"State": "FAILED", "StateChangeReason": reason},
    )
    s3 = types.SimpleNamespace(
        get_paginator=lambda name: types.SimpleNamespace(paginate=lambda **kw: [{}])
    )
    status = build_dataset.main(
        argv(inputs), clients=lambda region: (athena, s3), sleep=lambda seconds: None
    )
    assert status == 1
    assert capsys.readouterr().err == f"BuildDataset failed: Athena query q-1 FAILED: {reason}\n"
    assert athena.stopped == []  # it ended by itself
    (request,) = athena.started
    assert request["WorkGroup"] == WORKGROUP
    assert request["QueryString"].startswith("UNLOAD (SELECT line, part FROM (\n-- The fraud")


def test_a_cancelled_query_without_a_reason_says_so() -> None:
    athena = FakeAthena({"State": "CANCELLED"})
    with pytest.raises(build_dataset.DatasetError, match=r"^Athena query q-1 CANCELLED: no reason"):
        _run(athena)


def test_polling_backs_off_and_a_query_past_the_timeout_is_stopped() -> None:
    now, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    athena = FakeAthena({"State": "RUNNING"})
    with pytest.raises(build_dataset.DatasetError, match="still RUNNING after 100 s; stopped it"):
        _run(athena, timeout_seconds=100, sleep=sleep, clock=lambda: now[0], max_poll=20)
    assert waits == [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 11.390625, 17.0859375, 20, 20]
    assert athena.stopped == ["q-1"]


def test_an_interrupted_wait_stops_the_query() -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt  # as when SageMaker stops the job

    athena = FakeAthena({"State": "RUNNING"})
    with pytest.raises(KeyboardInterrupt):
        _run(athena, sleep=interrupted)
    assert athena.stopped == ["q-1"]


def test_the_window_ends_at_as_of_and_validates_on_its_newest_fifth() -> None:
    window = build_dataset.Window.before(build_dataset.parse_as_of("2024-05-01T12:00:00Z"), 90)
    assert window.describe() == {
        "start": "2024-02-01T12:00:00.000Z",
        "split": "2024-04-13T12:00:00.000Z",
        "end": "2024-05-01T12:00:00.000Z",
    }
    naive = build_dataset.parse_as_of("2024-05-01T12:00:00.250")
    assert build_dataset.Window.before(naive, 1).end_ms == window.end_ms + 250
    with pytest.raises(build_dataset.DatasetError, match="not an ISO-8601 time"):
        build_dataset.parse_as_of("yesterday")
    with pytest.raises(build_dataset.DatasetError, match="at least 1 day"):
        build_dataset.Window.before(naive, 0)


def test_unload_destinations_and_regions() -> None:
    with pytest.raises(build_dataset.DatasetError, match="not an S3 URI"):
        build_dataset.unload_statement("SELECT 1", "s3://bucket/x' --")
    assert build_dataset.region_of(KEY) == "eu-west-1"
    assert build_dataset.region_of("alias/aws/s3") is None


def test_files_of_5_gib_and_more_are_copied_in_parts() -> None:
    calls: list[tuple[str, str]] = []
    listing = {
        "training/x/data/": [
            {"Key": "training/x/data/part=train/small", "Size": 10},
            {"Key": "training/x/data/part=train/big", "Size": 5 * 1024**3},
            {"Key": "training/x/data/part=other/odd", "Size": 10},  # not a part: ignored
        ],
        "training/x/dataset/": [
            {"Key": "training/x/dataset/train/old.csv", "Size": 1},
            {"Key": "training/x/dataset/columns.json", "Size": 1},  # not a split: kept
        ],
    }

    class FakeS3:
        def get_paginator(self, name: str) -> Any:
            return types.SimpleNamespace(
                paginate=lambda Bucket, Prefix: [{"Contents": listing.get(Prefix, [])}]
            )

        def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> None:
            calls.extend(("delete", item["Key"]) for item in Delete["Objects"])

        def copy_object(self, **request: Any) -> None:
            assert request["SSEKMSKeyId"] == KEY
            calls.append(("copy_object", request["Key"]))

        def copy(self, source: Any, bucket: str, key: str, ExtraArgs: Any) -> None:
            assert ExtraArgs == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY}
            calls.append(("copy", key))

    written = build_dataset.publish(
        FakeS3(), f"s3://{BUCKET}/training/x/data/", f"s3://{BUCKET}/training/x/dataset", KEY
    )
    assert written == {
        "train": ["training/x/dataset/train/small.csv", "training/x/dataset/train/big.csv"],
        "validation": [],
        "baseline": [],
    }
    assert calls == [
        ("delete", "training/x/dataset/train/old.csv"),
        ("copy_object", "training/x/dataset/train/small.csv"),
        ("copy", "training/x/dataset/train/big.csv"),
    ]
