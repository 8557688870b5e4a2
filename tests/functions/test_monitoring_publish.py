"""The monitoring results publisher Lambda against moto's S3, CloudWatch, SageMaker and
EventBridge on 127.0.0.1, and an MLflow REST stub on 127.0.0.1 that checks each request's
SigV4 signature as AWS would (recomputed with botocore from what arrived).

What is sent to CloudWatch is captured exactly (a botocore hook on the handler's own client,
the request still going to moto) and read back from moto. Results are written by hand here in
the jobs' format; test_monitoring_jobs feeds the jobs' real output through the same handler.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.monitoring.publish import handler as publisher

BUCKET = "mlkit-artifacts"
JOB_PREFIX = "fraud-prod-mon-"
ENDPOINT = "fraud-prod-endpoint"
AS_OF = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
NAMESPACE = "mlkit/Monitoring"
APP_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-abc123"
PACKAGE_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud/7"

DRIFT: dict[str, Any] = {
    "version": 1,
    "kind": "drift",
    "endpoint": ENDPOINT,
    "model_package_arn": PACKAGE_ARN,
    "status": "ok",
    "reason": None,
    "as_of": AS_OF.isoformat().replace("+00:00", "Z"),
    "window": {"start": "...", "end": "...", "hours": 24.0},
    "generated_at": "...",
    "drift_threshold": 0.1,
    "min_rows": 1000,
    "evidently": "0.7.23",
    "rows": {"baseline": 3000, "captured": 1500, "malformed": 0, "outside_window": 0},
    "drifted_features": ["amount", "txn_count_1h"],
    "features": [
        {"name": "amount", "method": "wasserstein", "score": 0.42, "drifted": True},
        {"name": "txn_count_1h", "method": "psi", "score": 0.31, "drifted": True},
        {"name": "txn_amount_24h", "method": "wasserstein", "score": 0.04, "drifted": False},
        {"name": "account_age_days", "method": "psi", "score": 0.02, "drifted": False},
    ],
}
QUALITY: dict[str, Any] = {
    "version": 1,
    "kind": "quality",
    "endpoint": ENDPOINT,
    "model_package_arn": None,
    "status": "ok",
    "reason": None,
    "as_of": AS_OF.isoformat(),
    "window": {"start": "...", "end": "...", "hours": 168.0},
    "decision_threshold": 0.5,
    "min_labeled": 200,
    "rows": {"predictions": 1000, "labels": 900, "labeled": 800},
    "metrics": {
        "auc": 0.71,
        "precision": None,  # nothing flagged
        "recall": 0.0,
        "label_coverage": 0.8,
        "positives": 40,
        "predicted_positives": 0,
    },
    "gate": {"min_auc": 0.85, "passed": False},
}


def dims(**extra: str) -> list[dict[str, str]]:
    return [{"Name": "Endpoint", "Value": ENDPOINT}] + [
        {"Name": k, "Value": v} for k, v in extra.items()
    ]


def datum(name: str, value: float, unit: str = "None", **extra: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dims(**extra),
        "Timestamp": AS_OF,
        "Value": value,
        "Unit": unit,
    }


def job_event(job: str, status: str = "Completed", uri: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ProcessingJobName": job, "ProcessingJobStatus": status}
    if uri is not None:
        output = {"OutputName": "results", "S3Output": {"S3Uri": uri, "S3UploadMode": "EndOfJob"}}
        detail["ProcessingOutputConfig"] = {"Outputs": [output]}
    return {
        "version": "0",
        "id": "5b1b4f6c-0000-0000-0000-000000000000",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Processing Job State Change",
        "account": "123456789012",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


class Env:
    """The publisher on moto: put results, send job events, see what went to CloudWatch."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.sent: list[dict[str, Any]] = []
        self.s3 = boto3.client("s3")
        self.s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        self.configure()

    def configure(self, **environ: str) -> None:
        base = {
            "RESULTS_BUCKET": BUCKET,
            "RESULTS_PREFIX": "monitoring",
            "JOB_NAME_PREFIX": JOB_PREFIX,
        }
        for key, value in (base | environ).items():
            self.monkeypatch.setenv(key, value)
        publisher._config.cache_clear()
        publisher._client.cache_clear()
        publisher._client("cloudwatch").meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData",
            lambda params, **_: self.sent.append(copy.deepcopy(params)),
        )

    def put(self, results: dict[str, Any], job: str) -> str:
        prefix = f"monitoring/{results['kind']}/{ENDPOINT}/{job}"
        self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/results.json", Body=json.dumps(results))
        return f"s3://{BUCKET}/{prefix}"

    def publish(self, results: dict[str, Any], job: str) -> dict[str, Any]:
        return publisher.handler(job_event(job, uri=self.put(results, job)), None)

    def metric_data(self) -> list[dict[str, Any]]:
        assert all(call["Namespace"] == NAMESPACE for call in self.sent)
        return [d for call in self.sent for d in call["MetricData"]]


@pytest.fixture
def env(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.delenv("MLFLOW_ARN", raising=False)
    yield Env(monkeypatch)
    publisher._config.cache_clear()
    publisher._client.cache_clear()


# --- CloudWatch ------------------------------------------------------------------------------


def test_a_drift_result_sends_one_datapoint_per_feature_and_the_drifted_count(env: Env) -> None:
    outcome = env.publish(DRIFT, f"{JOB_PREFIX}drift-1")
    assert outcome == {
        "published": True,
        "job": f"{JOB_PREFIX}drift-1",
        "kind": "drift",
        "endpoint": ENDPOINT,
        "status": "ok",
        "metrics": 7,
        "mlflowRunId": None,
    }
    assert env.metric_data() == [
        datum("InsufficientData", 0.0, "Count", Monitor="drift"),
        datum("CapturedRows", 1500.0, "Count"),
        datum("FeatureDrift", 0.42, Feature="amount"),
        datum("FeatureDrift", 0.31, Feature="txn_count_1h"),
        datum("FeatureDrift", 0.04, Feature="txn_amount_24h"),
        datum("FeatureDrift", 0.02, Feature="account_age_days"),
        datum("DriftedFeatures", 2.0, "Count"),
    ]
    # And moto holds them: exactly two features at or above the threshold.
    cloudwatch = boto3.client("cloudwatch")
    queries = [
        {
            "Id": f"f{i}",
            "Label": feature["name"],
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": "FeatureDrift",
                    "Dimensions": dims(Feature=feature["name"]),
                },
                "Period": 3600,
                "Stat": "Maximum",
            },
        }
        for i, feature in enumerate(DRIFT["features"])
    ]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=AS_OF - timedelta(hours=1),
        EndTime=AS_OF + timedelta(hours=1),
    )["MetricDataResults"]
    above = {r["Label"] for r in answer if any(v >= DRIFT["drift_threshold"] for v in r["Values"])}
    assert above == {"amount", "txn_count_1h"}
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="FeatureDrift")["Metrics"]
    assert len(listed) == 4


def test_a_quality_result_sends_the_defined_metrics(env: Env) -> None:
    env.publish(QUALITY, f"{JOB_PREFIX}quality-1")
    assert env.metric_data() == [
        datum("InsufficientData", 0.0, "Count", Monitor="quality"),
        datum("LabeledPredictions", 800.0, "Count"),
        datum("LabelCoverage", 0.8),
        datum("AUC", 0.71),
        # Precision is undefined (null): no datapoint, rather than a misleading 0.
        datum("Recall", 0.0),
    ]


def test_insufficient_data_sends_no_drift_or_quality_scores(env: Env) -> None:
    drift = DRIFT | {
        "status": "insufficient_data",
        "reason": "150 captured rows in the window, at least 1000 needed",
        "rows": DRIFT["rows"] | {"captured": 150},
        "features": [],
        "drifted_features": [],
    }
    env.publish(drift, f"{JOB_PREFIX}drift-2")
    quality = QUALITY | {
        "status": "insufficient_data",
        "metrics": QUALITY["metrics"] | {"auc": None},
    }
    env.publish(quality, f"{JOB_PREFIX}quality-2")
    assert env.metric_data() == [
        datum("InsufficientData", 1.0, "Count", Monitor="drift"),
        datum("CapturedRows", 150.0, "Count"),
        datum("InsufficientData", 1.0, "Count", Monitor="quality"),
        datum("LabeledPredictions", 800.0, "Count"),
        datum("LabelCoverage", 0.8),
    ]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (job_event(f"{JOB_PREFIX}drift-1", status="Failed"), "is Failed, not Completed"),
        (job_event("someone-elses-job"), "is not a monitoring job"),
        (job_event(f"{JOB_PREFIX}drift-1") | {"detail-type": "Other"}, "not a SageMaker"),
    ],
)
def test_other_events_are_ignored(env: Env, event: dict[str, Any], reason: str) -> None:
    outcome = publisher.handler(event, None)
    assert outcome["published"] is False and reason in outcome["reason"]
    assert env.sent == []


def test_the_event_pattern_matches_exactly_the_events_handled(env: Env) -> None:
    """moto has no TestEventPattern: a rule with the pattern delivers to an SQS queue."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName="published")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(Name="publish", EventPattern=json.dumps(publisher.event_pattern(JOB_PREFIX)))
    events.put_targets(
        Rule="publish", Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
    )
    cases = {
        f"{JOB_PREFIX}drift-1": "Completed",
        f"{JOB_PREFIX}drift-2": "Failed",
        "someone-elses-job": "Completed",
    }
    for job, status in cases.items():
        event = job_event(job, status=status)
        entry = {k: event[k] for k in ("source", "resources")}
        entry |= {"DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        events.put_events(Entries=[{k[0].upper() + k[1:]: v for k, v in entry.items()}])
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    delivered = [json.loads(m["Body"])["detail"]["ProcessingJobName"] for m in received]
    assert delivered == [f"{JOB_PREFIX}drift-1"]
    handled = [
        job
        for job, status in cases.items()
        if publisher.ignore_reason(job_event(job, status=status), JOB_PREFIX) is None
    ]
    assert handled == delivered


def test_without_outputs_in_the_event_the_job_is_described(env: Env) -> None:
    job = f"{JOB_PREFIX}drift-3"
    uri = env.put(DRIFT, job)
    boto3.client("sagemaker").create_processing_job(
        ProcessingJobName=job,
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
            }
        },
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mon@sha256:0"},
        RoleArn="arn:aws:iam::123456789012:role/monitoring",
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "results",
                    "S3Output": {
                        "S3Uri": uri,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    assert publisher.handler(job_event(job), None)["published"] is True
    assert len(env.metric_data()) == 7


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://another-bucket/monitoring/drift/x", "outside s3://mlkit-artifacts/monitoring/"),
        (f"s3://{BUCKET}/training/drift/x", "outside s3://mlkit-artifacts/monitoring/"),
        (f"s3://{BUCKET}/monitoring/drift/missing", "does not exist"),
    ],
)
def test_results_elsewhere_or_missing_fail_without_metrics(
    env: Env, uri: str, message: str
) -> None:
    with pytest.raises(publisher.ResultsError, match=message):
        publisher.handler(job_event(f"{JOB_PREFIX}drift-4", uri=uri), None)
    assert env.sent == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2"),
        ({"kind": "bias"}, "kind 'bias'"),
        ({"as_of": "yesterday"}, "as_of 'yesterday'"),
        ({"features": [{"score": 0.1}]}, "features by name"),
    ],
)
def test_invalid_results_fail_without_metrics(
    env: Env, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(publisher.ResultsError, match=message):
        env.publish(DRIFT | change, f"{JOB_PREFIX}drift-5")
    assert env.sent == []


def test_configuration_is_checked() -> None:
    with pytest.raises(publisher.ConfigError, match="RESULTS_BUCKET, JOB_NAME_PREFIX not set"):
        publisher.load_config({})
    base = {"RESULTS_BUCKET": BUCKET, "JOB_NAME_PREFIX": JOB_PREFIX}
    config = publisher.load_config(base | {"RESULTS_PREFIX": "/monitoring"})
    assert (config.prefix, config.namespace, config.mlflow) == ("monitoring/", NAMESPACE, None)
    for arn in ("not-an-arn", "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/x"):
        with pytest.raises(publisher.ConfigError, match="MLFLOW_ARN"):
            publisher.load_config(base | {"MLFLOW_ARN": arn})
    app = publisher.load_config(base | {"MLFLOW_ARN": APP_ARN}).mlflow
    assert app is not None
    assert (app.url, app.service, app.header) == (
        "https://mlflow.sagemaker.eu-west-1.app.aws",
        "sagemaker",
        "x-sm-mlflow-app-arn",
    )
    server_arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/fraud"
    server = publisher.load_config(base | {"MLFLOW_ARN": server_arn}).mlflow
    assert server is not None
    assert (server.url, server.service, server.header) == (
        "https://eu-west-1.experiments.sagemaker.aws",
        "sagemaker-mlflow",
        "x-mlflow-sm-tracking-server-arn",
    )


# --- MLflow ----------------------------------------------------------------------------------


class MlflowStub(BaseHTTPRequestHandler):
    """The part of MLflow's REST API the publisher uses; refuses requests whose SigV4
    signature is not what AWS would compute for the same request."""

    state: dict[str, Any]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.serve()

    def do_POST(self) -> None:
        self.serve()

    def serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        request = {"method": self.command, "path": url.path, "headers": dict(self.headers)}
        # As sent: http.server collapses a leading "//" in self.path.
        request["target"] = self.requestline.split(" ")[1]
        request["query"] = {k: v[0] for k, v in parse_qs(url.query).items()}
        request["body"] = json.loads(body) if body else None
        request["signed"] = self.signature_ok(body)
        self.state["requests"].append(request)
        if not request["signed"]:
            return self.answer(403, {"error_code": "PERMISSION_DENIED", "message": "bad signature"})
        if self.state.get("refusal"):  # (status, answer) for every request
            return self.answer(*self.state["refusal"])
        status, answer = self.route(url.path.removeprefix("/api/2.0/mlflow/"), request)
        self.answer(status, answer)

    def signature_ok(self, body: bytes) -> bool:
        authorization = self.headers.get("Authorization", "")
        try:
            scope = authorization.split("Credential=")[1].split(",")[0].split("/")
            signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
            signature = authorization.split("Signature=")[1]
        except IndexError:
            return False
        region, service = scope[2], scope[3]
        # AWS checks the signed payload hash against the payload that arrived.
        if self.headers.get("X-Amz-Content-SHA256") != hashlib.sha256(body).hexdigest():
            return False
        host = self.headers["Host"]
        headers = {name: self.headers[name] for name in signed}
        replay = AWSRequest(
            method=self.command, url=f"http://{host}{self.path}", data=body, headers=headers
        )
        replay.context["timestamp"] = self.headers["X-Amz-Date"]
        auth = SigV4Auth(Credentials("testing", "testing", "testing"), service, region)
        expected = auth.signature(
            auth.string_to_sign(replay, auth.canonical_request(replay)), replay
        )
        return expected == signature

    def route(self, path: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state, body = self.state, request["body"] or {}
        if path == "experiments/get-by-name":
            if state["experiment"] is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no experiment"}
            return 200, {"experiment": {"experiment_id": "7", "name": state["experiment"]}}
        if path == "experiments/create":
            state["experiment"] = body["name"]
            return 200, {"experiment_id": "7"}
        if path == "runs/search":
            job = body["filter"].split("'")[1]
            runs = [r for r in state["runs"].values() if r["tags"]["mlkit.processing_job"] == job]
            return 200, {"runs": [{"info": {"run_id": r["id"]}} for r in runs]} if runs else {}
        if path == "runs/create":
            run_id = f"run{len(state['runs']) + 1}"
            tags = {t["key"]: t["value"] for t in body["tags"]}
            state["runs"][run_id] = {"id": run_id, "create": body, "tags": tags, "batches": []}
            return 200, {"run": {"info": {"run_id": run_id, "experiment_id": "7"}}}
        if path == "runs/log-batch":
            state["runs"][body["run_id"]]["batches"].append(body)
            return 200, {}
        if path == "runs/update":
            state["runs"][body["run_id"]]["status"] = body["status"]
            state["runs"][body["run_id"]]["update"] = body
            return 200, {"run_info": {"run_id": body["run_id"], "status": body["status"]}}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": path}

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def mlflow(env: Env) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"experiment": None, "runs": {}, "requests": []}
    handler = type("Stub", (MlflowStub,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    env.configure(
        MLFLOW_ARN=APP_ARN,
        MLFLOW_EXPERIMENT="fraud prod monitoring",
        MLFLOW_URL=f"http://127.0.0.1:{server.server_port}",
    )
    yield state
    server.shutdown()
    server.server_close()


def test_each_result_becomes_one_signed_mlflow_run(env: Env, mlflow: dict[str, Any]) -> None:
    job = f"{JOB_PREFIX}drift-6"
    outcome = env.publish(DRIFT, job)
    assert outcome["mlflowRunId"] == "run1"
    calls = [(r["method"], r["path"].removeprefix("/api/2.0/mlflow/")) for r in mlflow["requests"]]
    assert calls == [
        ("GET", "experiments/get-by-name"),
        ("POST", "experiments/create"),
        ("POST", "runs/search"),
        ("POST", "runs/create"),
        ("POST", "runs/log-batch"),
        ("POST", "runs/log-batch"),
        ("POST", "runs/update"),
    ]
    for request in mlflow["requests"]:
        assert request["signed"] is True
        assert request["headers"]["X-Sm-Mlflow-App-Arn"] == APP_ARN
        assert "/eu-west-1/sagemaker/aws4_request" in request["headers"]["Authorization"]
    assert mlflow["requests"][0]["query"] == {"experiment_name": "fraud prod monitoring"}
    run = mlflow["runs"]["run1"]
    assert run["create"]["run_name"] == job and run["status"] == "FINISHED"
    assert run["tags"] == {
        "mlkit.processing_job": job,
        "mlkit.monitor": "drift",
        "mlkit.endpoint": ENDPOINT,
        "mlkit.status": "ok",
        "mlkit.results": f"s3://{BUCKET}/monitoring/drift/{ENDPOINT}/{job}/results.json",
        "mlkit.as_of": DRIFT["as_of"],
        "mlkit.model_package": PACKAGE_ARN,
        "mlkit.drifted_features": "amount,txn_count_1h",
    }
    metrics, params = run["batches"][0]["metrics"], run["batches"][1]["params"]
    when = int(AS_OF.timestamp() * 1000)
    assert {m["key"]: m["value"] for m in metrics} == {
        "drift/amount": 0.42,
        "drift/txn_count_1h": 0.31,
        "drift/txn_amount_24h": 0.04,
        "drift/account_age_days": 0.02,
        "drifted_features": 2.0,
        "captured_rows": 1500.0,
    }
    assert {m["timestamp"] for m in metrics} == {when}
    assert params == [
        {"key": "drift_threshold", "value": "0.1"},
        {"key": "min_rows", "value": "1000"},
        {"key": "evidently", "value": "0.7.23"},
        {"key": "window_hours", "value": "24.0"},
    ]


def test_a_redelivered_event_logs_no_second_run(env: Env, mlflow: dict[str, Any]) -> None:
    job = f"{JOB_PREFIX}quality-6"
    assert env.publish(QUALITY, job)["mlflowRunId"] == "run1"
    assert env.publish(QUALITY, job)["mlflowRunId"] == "run1"
    assert list(mlflow["runs"]) == ["run1"]
    metrics = {m["key"]: m["value"] for m in mlflow["runs"]["run1"]["batches"][0]["metrics"]}
    assert metrics == {
        "auc": 0.71,
        "recall": 0.0,
        "label_coverage": 0.8,
        "positives": 40.0,
        "predicted_positives": 0.0,
        "labeled_predictions": 800.0,
    }


def test_mlflow_refusing_fails_the_invocation_after_the_metrics(
    env: Env, mlflow: dict[str, Any]
) -> None:
    env.configure(AWS_SECRET_ACCESS_KEY="wrong")  # MLflow checks signatures, moto does not
    with pytest.raises(publisher.MlflowError, match="403 PERMISSION_DENIED"):
        env.publish(QUALITY, f"{JOB_PREFIX}quality-7")
    assert len(env.metric_data()) == 5  # CloudWatch got them first
    assert mlflow["runs"] == {}


def test_non_finite_scores_and_counts_send_no_datapoint(env: Env) -> None:
    drift = DRIFT | {
        "rows": DRIFT["rows"] | {"captured": float("nan")},
        "features": [
            {"name": "amount", "method": "wasserstein", "score": float("inf"), "drifted": True},
            {"name": "txn_count_1h", "method": "psi", "score": float("nan"), "drifted": False},
            {"name": "account_age_days", "method": "psi", "score": 0.02, "drifted": False},
        ],
    }
    env.publish(drift, f"{JOB_PREFIX}drift-8")
    assert env.metric_data() == [
        datum("InsufficientData", 0.0, "Count", Monitor="drift"),
        datum("FeatureDrift", 0.02, Feature="account_age_days"),
        datum("DriftedFeatures", 1.0, "Count"),
    ]


def test_a_defined_precision_is_sent_under_its_metric_name(env: Env) -> None:
    quality = QUALITY | {"metrics": QUALITY["metrics"] | {"precision": 0.6}}
    env.publish(quality, f"{JOB_PREFIX}quality-8")
    assert [(d["MetricName"], d["Value"]) for d in env.metric_data()] == [
        ("InsufficientData", 0.0),
        ("LabeledPredictions", 800.0),
        ("LabelCoverage", 0.8),
        ("AUC", 0.71),
        ("Precision", 0.6),
        ("Recall", 0.0),
    ]


def test_an_mlflow_url_with_a_trailing_slash_reaches_the_same_api(
    env: Env, mlflow: dict[str, Any]
) -> None:
    env.configure(MLFLOW_URL=os.environ["MLFLOW_URL"] + "/")
    before = int(time.time() * 1000)
    outcome = env.publish(QUALITY, f"{JOB_PREFIX}quality-9")
    after = int(time.time() * 1000)

    assert outcome["mlflowRunId"] == "run1"
    sent = [request["target"].split("?")[0] for request in mlflow["requests"]]
    assert sent[0] == "/api/2.0/mlflow/experiments/get-by-name"
    assert all(target.startswith("/api/2.0/mlflow/") for target in sent)
    run = mlflow["runs"]["run1"]
    started, ended = run["create"]["start_time"], run["update"]["end_time"]
    assert before <= started <= ended <= after  # epoch milliseconds


def test_an_mlflow_error_without_a_code_is_reported_with_its_status_and_message(
    env: Env, mlflow: dict[str, Any]
) -> None:
    mlflow["refusal"] = (503, {"message": "overloaded"})
    with pytest.raises(publisher.MlflowError) as raised:
        env.publish(QUALITY, f"{JOB_PREFIX}quality-10")
    assert (raised.value.status, raised.value.code) == (503, "")
    assert str(raised.value) == "MLflow answered 503 : overloaded"


def test_without_credentials_mlflow_requests_are_not_signed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(publisher.ConfigError) as raised:
        publisher.mlflow_credentials()
    assert str(raised.value) == "no AWS credentials to sign MLflow requests with"
