"""The monitoring launcher (functions/monitoring/launch) run on the very schedules the kit
records (modules/monitoring/kit_jobs.py), against moto's S3 and SageMaker on 127.0.0.1.

EventBridge Scheduler is simulated as documented: it replaces `<aws.scheduler.scheduled-time>`
in the schedule's input with the time of the run and invokes the launcher with the result.
The request the launcher sends is checked against botocore's model of CreateProcessingJob
(required members, types, enums, patterns, lengths: moto checks none of the last three).
Then SageMaker's part is played by hand: each input is downloaded as the job would see it
(a manifest's objects under its local path), the job's own entry point runs with the
schedule's arguments, and its results go through the publisher to the alarm the kit records.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import regex
from botocore.stub import Stubber

from functions.monitoring import capture
from functions.monitoring.launch import handler as launcher
from functions.monitoring.publish import handler as publisher
from mlkit.recording import record
from modules.common import Durability
from modules.monitoring import MonitoringJobs, MonitoringJobsArgs
from modules.platform import Platform
from tests.conftest import REGION

BUCKET = "artifacts"  # the platform fixture's
NAME = "fraud-monitoring"
ENDPOINT = "fraud"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fraud-model/3"
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mlkit-monitoring@sha256:" + "0" * 64
CAPTURE = "data-capture/fraud/fraud/primary/"
LABELS = "ground-truth/monitoring/"
BASELINE = f"monitoring/baselines/{PACKAGE}/"
FEATURES = [("amount", "fractional"), ("txn_count_10m", "integral")]
T = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
CLIENTS = launcher._client  # its cache, even while a test replaces it


@pytest.fixture(scope="module")
def schedules() -> dict[str, Any]:
    """monitor -> the input of its recorded schedule, the launcher's environment and the AUC
    alarm; recorded once, on the values of the `platform` fixture."""
    platform = Platform(
        stack="test",
        region=REGION,
        account_id="111122223333",
        durability=Durability.from_setting("destroy"),
        kms_key_arn="arn:aws:kms:eu-west-1:111122223333:key/k",
        artifacts_bucket_name=BUCKET,
        artifacts_bucket_arn=f"arn:aws:s3:::{BUCKET}",
        alert_topic_arn="arn:aws:sns:eu-west-1:111122223333:alerts",
        subnet_ids=["subnet-a", "subnet-b"],
        security_group_ids=["sg-1"],
        log_retention_days=30,
        tags={"owner": "team", "cost-center": "1"},
    )
    args = MonitoringJobsArgs(
        endpoint_name=ENDPOINT,
        variant_name="primary",
        capture_uri=f"s3://{BUCKET}/data-capture/fraud",
        labels_uri=f"s3://{BUCKET}/ground-truth/monitoring",
        baseline_uri=f"s3://{BUCKET}/{BASELINE.rstrip('/')}",
        model_package_arn=PACKAGE,
        features=[name for name, _ in FEATURES],
        min_auc=0.85,
        job_image=IMAGE,
        min_captured_rows=100,
        min_labeled_predictions=50,
    )
    recording = record(
        lambda: MonitoringJobs(NAME, platform, args),
        stack_name="test",
        config={"aws:region": REGION},
    )
    found: dict[str, Any] = {
        monitor: recording.named(f"{NAME}-{monitor}-schedule").inputs["target"]["input"]
        for monitor in ("drift", "quality")
    }
    found["environment"] = recording.named(f"{NAME}-launcher").inputs["environment"]["variables"]
    found["auc-alarm"] = recording.named(f"{NAME}-auc").inputs
    return found


@pytest.fixture
def s3(aws: str, schedules: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in schedules["environment"].items():
        monkeypatch.setenv(key, value)
    CLIENTS.cache_clear()
    client = boto3.client("s3")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield client
    CLIENTS.cache_clear()


def scheduled(raw: str, when: datetime) -> dict[str, Any]:
    """What EventBridge Scheduler invokes the launcher with for a run at `when`."""
    return json.loads(raw.replace("<aws.scheduler.scheduled-time>", launcher.iso(when)))


def put(s3: Any, key: str, lines: list[Any] | None = None) -> None:
    body = "".join(json.dumps(line) + "\n" for line in lines or [])
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def hour_key(prefix: str, when: datetime, name: str = "part-0001.jsonl") -> str:
    return f"{prefix}{when:%Y/%m/%d/%H}/{name}"


# --- botocore's model of the request ---------------------------------------------------------


def model_violations(value: Any, shape: Any, path: str = "request") -> list[str]:
    """What botocore's parameter validation leaves out: enums, patterns, max lengths and
    list sizes, and unknown or missing members, walked through the whole request."""
    problems: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        problems += [f"{path}.{m}: required" for m in shape.required_members if m not in value]
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: unknown member")
            else:
                problems += model_violations(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{path}: {len(value)} items, allowed {meta}")
        for index, item in enumerate(value):
            problems += model_violations(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            problems += model_violations(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string"]
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of its values")
        if "pattern" in meta and not regex.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{path}: length {len(value)}, allowed {meta}")
    elif shape.type_name in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: not an integer"]
        if not meta.get("min", value) <= value <= meta.get("max", value):
            problems.append(f"{path}: {value} outside {meta}")
    elif shape.type_name == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: not a boolean")
    return problems


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The CreateProcessingJob requests the launcher sends (still sent to moto)."""
    requests: list[dict[str, Any]] = []
    client = boto3.client("sagemaker")
    client.meta.events.register(
        "provide-client-params.sagemaker.CreateProcessingJob",
        lambda params, **_: requests.append(json.loads(json.dumps(params))),
    )
    real = launcher._client
    monkeypatch.setattr(
        launcher, "_client", lambda service: client if service == "sagemaker" else real(service)
    )
    return requests


def test_the_drift_request_is_one_sagemaker_accepts(schedules, s3, sent) -> None:
    put(s3, hour_key(CAPTURE, T - timedelta(hours=2)))
    outcome = launcher.handler(scheduled(schedules["drift"], T), None)
    assert outcome == {
        "started": True,
        "job": "fraud-monitoring-drift-20260504T1000",
        "inputs": {"capture": 1},
    }
    [request] = sent
    shape = boto3.client("sagemaker").meta.service_model.operation_model("CreateProcessingJob")
    assert model_violations(request, shape.input_shape) == []
    assert request["ProcessingJobName"] == outcome["job"]
    assert request["AppSpecification"]["ContainerArguments"][-2:] == [
        "--as-of",
        "2026-05-04T10:00:00Z",
    ]
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        f"s3://{BUCKET}/monitoring/results/fraud/drift/fraud-monitoring-drift-20260504T1000/"
    )
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["capture"]["S3DataType"] == "ManifestFile"
    assert inputs["capture"]["S3Uri"] == (
        f"s3://{BUCKET}/monitoring/manifests/fraud-monitoring-drift-20260504T1000/capture.json"
    )
    # Static inputs are left as they are: the serving version's baseline and schema.
    assert (inputs["baseline"]["S3DataType"], inputs["baseline"]["S3Uri"]) == (
        "S3Prefix",
        f"s3://{BUCKET}/{BASELINE}baseline/",
    )
    assert inputs["schema"]["S3Uri"] == f"s3://{BUCKET}/{BASELINE}schema/"
    job = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=outcome["job"])
    assert job["ProcessingInputs"][0]["S3Input"]["S3DataType"] == "ManifestFile"


def test_the_manifest_lists_only_the_hour_folders_of_the_window(schedules, s3) -> None:
    keys = {
        "in": [
            hour_key(CAPTURE, T - timedelta(hours=1)),
            hour_key(CAPTURE, T - timedelta(hours=23), "a.jsonl"),
            hour_key(CAPTURE, T - timedelta(hours=23), "b.jsonl"),
            hour_key(CAPTURE, T - timedelta(hours=25)),  # filed a little late: an hour's margin
            hour_key(CAPTURE, T),
            hour_key(CAPTURE, T + timedelta(hours=1)),
        ],
        "out": [
            hour_key(CAPTURE, T - timedelta(hours=26)),
            hour_key(CAPTURE, T - timedelta(days=30)),
            hour_key(CAPTURE, T + timedelta(hours=2)),
            f"{CAPTURE}2026/05/04/not-an-hour/part.jsonl",
            f"{CAPTURE}README.txt",
            hour_key(LABELS, T - timedelta(hours=1)),
        ],
    }
    for key in keys["in"] + keys["out"]:
        put(s3, key)
    outcome = launcher.handler(scheduled(schedules["drift"], T), None)
    manifest = s3.get_object(
        Bucket=BUCKET, Key=f"monitoring/manifests/{outcome['job']}/capture.json"
    )
    assert json.loads(manifest["Body"].read()) == [
        {"prefix": f"s3://{BUCKET}/{CAPTURE}"},
        *sorted(key.removeprefix(CAPTURE) for key in keys["in"]),
    ]
    assert outcome["inputs"] == {"capture": len(keys["in"])}


def test_the_quality_job_gets_a_week_of_capture_and_of_labels(schedules, s3, sent) -> None:
    put(s3, hour_key(CAPTURE, T - timedelta(days=6)))
    put(s3, hour_key(CAPTURE, T - timedelta(days=8)))
    put(s3, hour_key(LABELS, T - timedelta(days=1)))
    put(s3, hour_key(LABELS, T - timedelta(days=9)))
    outcome = launcher.handler(scheduled(schedules["quality"], T), None)
    assert outcome == {
        "started": True,
        "job": "fraud-monitoring-quality-20260504T1000",
        "inputs": {"capture": 1, "labels": 1},
    }
    [request] = sent
    assert [i["S3Input"]["S3DataType"] for i in request["ProcessingInputs"]] == [
        "ManifestFile",
        "ManifestFile",
    ]


def test_an_empty_window_gives_the_job_an_empty_input_not_a_missing_one(schedules, s3) -> None:
    outcome = launcher.handler(scheduled(schedules["drift"], T), None)
    assert outcome["inputs"] == {"capture": 0}
    job = outcome["job"]
    manifest = s3.get_object(Bucket=BUCKET, Key=f"monitoring/manifests/{job}/capture.json")
    assert json.loads(manifest["Body"].read()) == [
        {"prefix": f"s3://{BUCKET}/monitoring/manifests/{job}/empty/"},
        "capture.jsonl",
    ]
    empty = s3.get_object(Bucket=BUCKET, Key=f"monitoring/manifests/{job}/empty/capture.jsonl")
    assert empty["Body"].read() == b""


def test_a_retried_invocation_starts_no_second_job(schedules, s3, monkeypatch) -> None:
    """moto lets a job name be reused; SageMaker answers ResourceInUse (the error
    CreateProcessingJob models), played here by botocore's Stubber."""
    client = boto3.client("sagemaker")
    stubber = Stubber(client)
    stubber.add_client_error(
        "create_processing_job", service_error_code="ResourceInUse", http_status_code=400
    )
    real = launcher._client
    monkeypatch.setattr(launcher, "_client", lambda s: client if s == "sagemaker" else real(s))
    with stubber:
        outcome = launcher.handler(scheduled(schedules["drift"], T), None)
    assert outcome == {
        "started": False,
        "job": "fraud-monitoring-drift-20260504T1000",
        "reason": "already started",
    }


def test_without_a_scheduled_time_it_runs_for_now(schedules, s3, monkeypatch) -> None:
    event = json.loads(schedules["drift"])
    del event["scheduledTime"]
    outcome = launcher.handler(event, None)
    now = datetime.now(UTC)
    assert outcome["job"].startswith("fraud-monitoring-drift-")
    started = datetime.strptime(outcome["job"][-13:], "%Y%m%dT%H%M").replace(tzinfo=UTC)
    assert now - timedelta(minutes=2) <= started <= now


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(monitor="bias"), "monitor 'bias' is not one of"),
        (lambda e: e["request"].update(ProcessingJobName="x"), "without a job name"),
        (lambda e: e.update(windows={"labels": 24}), "window 'labels' names no S3Prefix input"),
        (lambda e: e.update(windows={"capture": 0}), r"hours must be in \(0, 2160\]"),
        (lambda e: e.update(windows={"capture": "24"}), "hours must be a number"),
        (lambda e: e.update(scheduledTime="yesterday"), "not an ISO-8601 time"),
        (
            lambda e: e["request"]["ProcessingInputs"][0]["S3Input"].update(S3Uri="/local"),
            "is not an s3://bucket/prefix URI",
        ),
    ],
)
def test_bad_events_are_refused_before_any_aws_call(schedules, s3, change, message) -> None:
    event = scheduled(schedules["drift"], T)
    change(event)
    with pytest.raises(launcher.LaunchError, match=message):
        launcher.handler(event, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_a_misconfigured_launcher_says_what_is_missing(monkeypatch) -> None:
    monkeypatch.delenv("MANIFESTS_URI", raising=False)
    monkeypatch.setenv("JOB_NAME_PREFIX", "x-")
    with pytest.raises(launcher.LaunchError, match="JOB_NAME_PREFIX and MANIFESTS_URI"):
        launcher.handler({}, None)


# --- the jobs on what the manifests list, through the publisher to the alarm ----------------


def download(s3: Any, request: dict[str, Any], root: Path) -> list[str]:
    """SageMaker's part: each input under its local path (re-rooted at `root`), a manifest's
    objects at their paths relative to its prefix; the job's directory arguments."""
    arguments = []
    for item in request["ProcessingInputs"]:
        s3_input = item["S3Input"]
        local = Path(s3_input["LocalPath"])
        assert local == capture.INPUT / item["InputName"]  # the jobs' default input paths
        target = root / local.relative_to("/")
        bucket, key = launcher.s3_parts(s3_input["S3Uri"])
        if s3_input["S3DataType"] == "ManifestFile":
            head, *relative = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            source_bucket, prefix = launcher.s3_parts(head["prefix"])
            objects = [(f"{prefix}{r}", target / r) for r in relative]
        else:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            objects = [(o["Key"], target / o["Key"].rsplit("/", 1)[-1]) for o in listed]
            source_bucket = bucket
        for source, path in objects:
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(source_bucket, source, str(path))
        target.mkdir(parents=True, exist_ok=True)
        arguments += [f"--{item['InputName']}-dir", str(target)]
    return arguments


def capture_line(key: str, when: datetime, values: str, score: float) -> dict[str, Any]:
    return {
        "captureData": {
            "endpointInput": {"data": values, "encoding": "CSV", "mode": "INPUT"},
            "endpointOutput": {"data": repr(float(score)), "encoding": "CSV", "mode": "OUTPUT"},
        },
        "eventMetadata": {
            "eventId": f"e-{key}",
            "inferenceId": key,
            "inferenceTime": capture.iso(when),
        },
        "eventVersion": "0",
    }


def run_job(s3: Any, request: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Run the job's entry point as the container would, and upload its results."""
    # The jobs import pandas, sklearn and Evidently (seconds): only tests that run one pay.
    module = importlib.import_module(request["AppSpecification"]["ContainerEntrypoint"][-1])
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert Path(output["LocalPath"]) == capture.OUTPUT
    arguments = [
        *request["AppSpecification"]["ContainerArguments"],
        *download(s3, request, tmp_path),
        "--output-dir",
        str(tmp_path / "output"),
    ]
    assert module.main(arguments) == 0
    bucket, key = launcher.s3_parts(output["S3Uri"])
    s3.upload_file(str(tmp_path / "output" / capture.RESULTS_FILE), bucket, f"{key}results.json")
    return json.loads((tmp_path / "output" / capture.RESULTS_FILE).read_text())


def publish(request: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
    monkeypatch.setenv("RESULTS_PREFIX", "monitoring/results/")
    monkeypatch.setenv("JOB_NAME_PREFIX", f"{NAME}-")
    publisher._config.cache_clear()
    publisher._client.cache_clear()
    event = {
        "source": "aws.sagemaker",
        "detail-type": publisher.DETAIL_TYPE,
        "detail": {
            "ProcessingJobName": request["ProcessingJobName"],
            "ProcessingJobStatus": "Completed",
        },
    }
    try:
        return publisher.handler(event, None)  # the output's URI from DescribeProcessingJob
    finally:
        publisher._config.cache_clear()
        publisher._client.cache_clear()


def test_a_degraded_model_trips_the_recorded_quality_alarm(
    schedules, s3, sent, tmp_path, monkeypatch
) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(11)
    labels = rng.binomial(1, 0.3, 300)
    scores = rng.uniform(0, 1, 300)  # noise: AUC about 0.5
    captured: dict[str, list[Any]] = {}
    labeled: dict[str, list[Any]] = {}
    for i, (label, score) in enumerate(zip(labels, scores, strict=True)):
        when = now - timedelta(hours=1 + 12 * (i % 10), minutes=40)  # over the last 5 days
        line = capture_line(f"r{i}", when, "1.0,2", score)
        captured.setdefault(hour_key(CAPTURE, when), []).append(line)
        truth = {
            "groundTruthData": {"data": str(label), "encoding": "CSV"},
            "eventMetadata": {"eventId": f"r{i}"},
            "eventVersion": "0",
        }
        labeled.setdefault(hour_key(LABELS, when + timedelta(minutes=30)), []).append(truth)
    for key, batch in (captured | labeled).items():
        put(s3, key, batch)
    launcher.handler(scheduled(schedules["quality"], now), None)
    [request] = sent
    results = run_job(s3, request, tmp_path)
    assert (results["status"], results["rows"]["labeled"]) == ("ok", 300)
    assert results["model_package_arn"] == PACKAGE
    assert publish(request, monkeypatch)["published"] is True
    alarm = schedules["auc-alarm"]
    datapoints = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=alarm["namespace"],
        MetricName=alarm["metricName"],
        Dimensions=[{"Name": k, "Value": v} for k, v in alarm["dimensions"].items()],
        StartTime=now - timedelta(seconds=alarm["period"]),
        EndTime=now + timedelta(seconds=alarm["period"]),
        Period=alarm["period"],
        Statistics=[alarm["statistic"]],
    )["Datapoints"]
    assert [round(d["Minimum"], 6) for d in datapoints] == [round(results["metrics"]["auc"], 6)]
    assert alarm["comparisonOperator"] == "LessThanThreshold"
    assert datapoints[0]["Minimum"] < alarm["threshold"]  # breaching: the alarm goes to ALARM


def test_the_drift_job_runs_on_the_schedules_arguments_and_inputs(
    schedules, s3, sent, tmp_path
) -> None:
    rng = np.random.default_rng(5)
    baseline = "".join(
        f"{a:.2f},{c}\n" for a, c in zip(rng.lognormal(3, 1, 500), rng.poisson(2, 500), strict=True)
    )
    # The layout the training pipeline's PublishBaseline step writes (two Athena parts).
    half = baseline.count("\n") // 2
    parts = baseline.splitlines(keepends=True)
    for index, part in enumerate((parts[:half], parts[half:])):
        key = f"{BASELINE}baseline/part-{index}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body="".join(part).encode())
    schema = {
        "featureGroups": [{"features": [{"name": n, "type": t} for n, t in FEATURES]}],
        "order": [n for n, _ in FEATURES],
    }
    s3.put_object(
        Bucket=BUCKET, Key=f"{BASELINE}schema/feature-schema.json", Body=json.dumps(schema)
    )
    s3.put_object(Bucket=BUCKET, Key=f"{BASELINE}manifest.json", Body=b"{}")
    lines = [
        capture_line(f"r{i}", T - timedelta(minutes=5 + i), f"{a * 3:.2f},{c}", 0.1)
        for i, (a, c) in enumerate(zip(rng.lognormal(3, 1, 150), rng.poisson(2, 150), strict=True))
    ]
    put(s3, hour_key(CAPTURE, T - timedelta(hours=1)), lines)
    launcher.handler(scheduled(schedules["drift"], T), None)
    [request] = sent
    results = run_job(s3, request, tmp_path)
    assert (results["status"], results["rows"]["captured"]) == ("ok", 150)
    assert results["window"]["end"] == "2026-05-04T10:00:00Z"
    assert results["drifted_features"] == ["amount"]  # amounts tripled, counts unchanged


def test_each_invocation_logs_its_outcome_as_one_json_line(
    schedules, s3, monkeypatch, capsys
) -> None:
    client = boto3.client("sagemaker")
    stubber = Stubber(client)
    stubber.add_response("create_processing_job", {"ProcessingJobArn": "arn:aws:sagemaker:x"})
    stubber.add_client_error(
        "create_processing_job", service_error_code="ResourceInUse", http_status_code=400
    )
    real = launcher._client
    monkeypatch.setattr(launcher, "_client", lambda s: client if s == "sagemaker" else real(s))
    capsys.readouterr()
    with stubber:
        first = launcher.handler(scheduled(schedules["drift"], T), None)
        again = launcher.handler(scheduled(schedules["drift"], T), None)
    job = "fraud-monitoring-drift-20260504T1000"
    assert first == {"started": True, "job": job, "inputs": {"capture": 0}}  # no capture yet
    assert again == {"started": False, "job": job, "reason": "already started"}
    assert capsys.readouterr().out.splitlines() == [json.dumps(first), json.dumps(again)]
