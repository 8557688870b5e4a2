"""Monitoring results publisher (AWS Lambda, python3.12, boto3 only): the results JSON of a
finished drift or quality job becomes CloudWatch metrics, and optionally an MLflow run.

The jobs run network-isolated and cannot reach CloudWatch or MLflow themselves.

Wiring: an EventBridge rule on the default bus, invoking this function asynchronously, with
the pattern `event_pattern(JOB_NAME_PREFIX)`:

    {"source": ["aws.sagemaker"],
     "detail-type": ["SageMaker Processing Job State Change"],
     "detail": {"ProcessingJobStatus": ["Completed"],
                "ProcessingJobName": [{"prefix": "<JOB_NAME_PREFIX>"}]}}

Where the results are (the convention for every monitoring job the kit starts): the job's
processing output named `results` (local path /opt/ml/processing/output) holds
`results.json`. Its S3Uri comes from the event's `detail.ProcessingOutputConfig.Outputs`, or
from DescribeProcessingJob when the event does not carry it, and must lie under
`s3://RESULTS_BUCKET/RESULTS_PREFIX`. The results format is documented in
`functions/monitoring/drift.py` and `quality.py`.

Environment:
    RESULTS_BUCKET      bucket of the jobs' outputs
    RESULTS_PREFIX      key prefix they are under (e.g. `monitoring/`)
    JOB_NAME_PREFIX     names of the kit's monitoring jobs start with it (as in the rule)
    METRIC_NAMESPACE    default `mlkit/Monitoring`
    MLFLOW_ARN          optional: an MLflow app (`...:mlflow-app/...`) or tracking server
                        (`...:mlflow-tracking-server/...`) ARN; each result is logged as a run
    MLFLOW_EXPERIMENT   default `mlkit-monitoring`
    MLFLOW_URL          optional: the MLflow endpoint instead of the one derived from the ARN

Metrics (timestamp: the results' `as_of`, so a re-run or a redelivered event adds the same
datapoint again, which Maximum/Minimum alarms ignore; CloudWatch refuses timestamps more than
two weeks old, so a back-filled result that old fails):
    drift (status ok)     FeatureDrift {Endpoint, Feature}: one per feature, its drift score
                          (compare with the job's drift_threshold); DriftedFeatures {Endpoint}
    quality (status ok)   AUC, Precision, Recall {Endpoint}: each when defined
    quality (any status)  LabelCoverage {Endpoint} when there were predictions,
                          LabeledPredictions {Endpoint}
    drift (any status)    CapturedRows {Endpoint}
    both                  InsufficientData {Endpoint, Monitor=drift|quality}: 1 or 0

MLflow (when MLFLOW_ARN is set): a run named after the job in MLFLOW_EXPERIMENT, with the
metrics above, the job's settings as params and `mlkit.*` tags, written through MLflow's REST
API signed with SigV4 exactly as the `sagemaker-mlflow` plugin signs it (the mlflow client and
the plugin are not in the Lambda runtime). A run already tagged with the job's name is not
written again (redelivered events).

Returns `{"published": False, "reason"}` for an event that is not a completed job of ours,
else `{"published": True, "job", "kind", "endpoint", "status", "metrics", "mlflowRunId"}`, and
prints the same as one JSON line. Bad configuration raises ConfigError before any AWS call;
a missing or invalid results file, or MLflow refusing the run, raises (after the metrics
are sent), so the failure shows in the function's Errors metric and async retries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

DETAIL_TYPE = "SageMaker Processing Job State Change"
RESULTS_OUTPUT = "results"
RESULTS_FILE = "results.json"
RESULTS_VERSION = 1
DEFAULT_NAMESPACE = "mlkit/Monitoring"
DEFAULT_EXPERIMENT = "mlkit-monitoring"
KINDS = ("drift", "quality")
# PutMetricData takes up to 1000 datapoints per call.
MAX_DATUMS = 1000
MLFLOW_TIMEOUT_SECONDS = 10
# How each SageMaker MLflow resource type is reached (the sagemaker-mlflow plugin's rules):
# endpoint, SigV4 service name, routing header.
MLFLOW_RESOURCES = {
    "mlflow-app": ("https://mlflow.sagemaker.{region}.app.aws", "sagemaker", "x-sm-mlflow-app-arn"),
    "mlflow-tracking-server": (
        "https://{region}.experiments.sagemaker.aws",
        "sagemaker-mlflow",
        "x-mlflow-sm-tracking-server-arn",
    ),
}


class ConfigError(ValueError):
    """The function's environment is missing or invalid."""


class ResultsError(ValueError):
    """The job's results cannot be found or read."""


class MlflowError(RuntimeError):
    """MLflow refused a request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"MLflow answered {status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Mlflow:
    arn: str
    url: str
    service: str
    header: str
    region: str
    experiment: str


@dataclass(frozen=True)
class Config:
    bucket: str
    prefix: str
    job_prefix: str
    namespace: str
    mlflow: Mlflow | None


def mlflow_target(arn: str, experiment: str, url: str | None = None) -> Mlflow:
    """Where and how to reach a SageMaker MLflow app or tracking server."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sagemaker" or "/" not in parts[5]:
        raise ConfigError(f"MLFLOW_ARN is not a SageMaker ARN: {arn!r}")
    partition, region, resource = parts[1], parts[3], parts[5].split("/")[0]
    if resource not in MLFLOW_RESOURCES:
        raise ConfigError(f"MLFLOW_ARN must name an mlflow-app or mlflow-tracking-server: {arn!r}")
    if partition not in ("aws", "aws-us-gov") and not url:
        raise ConfigError(f"MLFLOW_ARN: partition {partition} has no known MLflow endpoint")
    template, service, header = MLFLOW_RESOURCES[resource]
    return Mlflow(arn, url or template.format(region=region), service, header, region, experiment)


def load_config(environ: Mapping[str, str]) -> Config:
    """Read and validate the environment; ConfigError names what is wrong."""
    missing = [k for k in ("RESULTS_BUCKET", "JOB_NAME_PREFIX") if not environ.get(k, "").strip()]
    if missing:
        raise ConfigError(f"publisher misconfigured: {', '.join(missing)} not set")
    prefix = environ.get("RESULTS_PREFIX", "").strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    arn = environ.get("MLFLOW_ARN", "").strip()
    experiment = environ.get("MLFLOW_EXPERIMENT", "").strip() or DEFAULT_EXPERIMENT
    url = environ.get("MLFLOW_URL", "").strip() or None
    return Config(
        bucket=environ["RESULTS_BUCKET"].strip(),
        prefix=prefix,
        job_prefix=environ["JOB_NAME_PREFIX"].strip(),
        namespace=environ.get("METRIC_NAMESPACE", "").strip() or DEFAULT_NAMESPACE,
        mlflow=mlflow_target(arn, experiment, url) if arn else None,
    )


@functools.cache
def _config() -> Config:
    return load_config(os.environ)


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)


# --- locating and reading the results --------------------------------------------------------


def event_pattern(job_prefix: str) -> dict[str, Any]:
    """The EventBridge pattern of the rule that invokes this function."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "ProcessingJobStatus": ["Completed"],
            "ProcessingJobName": [{"prefix": job_prefix}],
        },
    }


def ignore_reason(event: Mapping[str, Any], job_prefix: str) -> str | None:
    """Why this event is not a completed monitoring job of ours, or None if it is."""
    if event.get("source") != "aws.sagemaker" or event.get("detail-type") != DETAIL_TYPE:
        return f"not a {DETAIL_TYPE} event"
    detail = event.get("detail") or {}
    name = detail.get("ProcessingJobName")
    if not isinstance(name, str) or not name.startswith(job_prefix):
        return f"job {name!r} is not a monitoring job ({job_prefix}*)"
    if detail.get("ProcessingJobStatus") != "Completed":
        return f"job {name} is {detail.get('ProcessingJobStatus')}, not Completed"
    return None


def results_uri(detail: Mapping[str, Any]) -> str | None:
    """The S3 URI of the `results` output in a job description or event detail."""
    outputs = (detail.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        if output.get("OutputName") == RESULTS_OUTPUT:
            uri = (output.get("S3Output") or {}).get("S3Uri")
            if isinstance(uri, str) and uri:
                return uri
    return None


def results_location(uri: str, config: Config) -> tuple[str, str]:
    """(bucket, key) of results.json under the output URI, which must be ours."""
    if not uri.startswith("s3://"):
        raise ResultsError(f"results output {uri!r} is not an S3 URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    key = f"{prefix.strip('/')}/{RESULTS_FILE}" if prefix.strip("/") else RESULTS_FILE
    if bucket != config.bucket or not key.startswith(config.prefix):
        raise ResultsError(
            f"results output {uri} is outside s3://{config.bucket}/{config.prefix}: refused"
        )
    return bucket, key


def read_results(bucket: str, key: str) -> dict[str, Any]:
    try:
        body = _client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except _client("s3").exceptions.NoSuchKey:
        raise ResultsError(f"s3://{bucket}/{key} does not exist") from None
    try:
        results = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(f"s3://{bucket}/{key} is not JSON: {error}") from None
    validate_results(results)
    return results


def validate_results(results: object) -> None:
    """Raise ResultsError unless `results` has what publishing needs."""
    if not isinstance(results, dict):
        raise ResultsError("results must be a JSON object")
    if results.get("version") != RESULTS_VERSION:
        raise ResultsError(f"results version {results.get('version')!r} is not {RESULTS_VERSION}")
    if results.get("kind") not in KINDS:
        raise ResultsError(f"results kind {results.get('kind')!r} is not one of {KINDS}")
    if not isinstance(results.get("endpoint"), str) or not results["endpoint"]:
        raise ResultsError("results have no endpoint")
    if results.get("status") not in ("ok", "insufficient_data"):
        raise ResultsError(f"results status {results.get('status')!r} is unknown")
    try:
        timestamp(results)
    except (KeyError, TypeError, ValueError):
        raise ResultsError(f"results as_of {results.get('as_of')!r} is not a time") from None
    if results["kind"] == "drift":
        features = results.get("features")
        if not isinstance(features, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in features
        ):
            raise ResultsError("drift results must list features by name")
    elif not isinstance(results.get("metrics"), dict):
        raise ResultsError("quality results have no metrics")


def timestamp(results: Mapping[str, Any]) -> datetime:
    value = datetime.fromisoformat(str(results["as_of"]).replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# --- metrics ---------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def metric_data(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The PutMetricData datums of one result (see the module docstring)."""
    endpoint, kind, ok = results["endpoint"], results["kind"], results["status"] == "ok"
    when = timestamp(results)

    def datum(name: str, value: float, unit: str = "None", **dimensions: str) -> dict[str, Any]:
        dims = [{"Name": "Endpoint", "Value": endpoint}] + [
            {"Name": k, "Value": v} for k, v in dimensions.items()
        ]
        return {
            "MetricName": name,
            "Dimensions": dims,
            "Timestamp": when,
            "Value": value,
            "Unit": unit,
        }

    data = [datum("InsufficientData", 0.0 if ok else 1.0, "Count", Monitor=kind)]
    rows = results.get("rows") or {}
    if kind == "drift":
        captured = _number(rows.get("captured"))
        if captured is not None:
            data.append(datum("CapturedRows", captured, "Count"))
        if ok:
            for feature in results["features"]:
                score = _number(feature.get("score"))
                if score is not None:
                    data.append(datum("FeatureDrift", score, Feature=feature["name"]))
            drifted = [f for f in results["features"] if f.get("drifted") is True]
            data.append(datum("DriftedFeatures", float(len(drifted)), "Count"))
        return data
    metrics = results["metrics"]
    labeled = _number(rows.get("labeled"))
    if labeled is not None:
        data.append(datum("LabeledPredictions", labeled, "Count"))
    coverage = _number(metrics.get("label_coverage"))
    if coverage is not None:
        data.append(datum("LabelCoverage", coverage))
    if ok:
        for name, key in (("AUC", "auc"), ("Precision", "precision"), ("Recall", "recall")):
            value = _number(metrics.get(key))
            if value is not None:
                data.append(datum(name, value))
    return data


def put_metrics(namespace: str, data: list[dict[str, Any]]) -> None:
    cloudwatch = _client("cloudwatch")
    for start in range(0, len(data), MAX_DATUMS):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + MAX_DATUMS])


# --- MLflow ----------------------------------------------------------------------------------


def mlflow_request(
    target: Mlflow,
    credentials: Any,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One MLflow REST call (`/api/2.0/mlflow/<path>`), SigV4-signed as the sagemaker-mlflow
    plugin signs it: the resource's service name, its routing header, the payload hash."""
    url = f"{target.url.rstrip('/')}/api/2.0/mlflow/{path}"
    if query:
        url += "?" + urlencode(query, quote_via=quote)  # spaces as %20, as SigV4 expects
    data = json.dumps(body).encode("utf-8") if body is not None else b""
    headers = {
        "Content-Type": "application/json",
        target.header: target.arn,
        "X-Amz-Content-SHA256": hashlib.sha256(data).hexdigest(),
    }
    signed = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials, target.service, target.region).add_auth(signed)
    request = urllib.request.Request(
        url, data=data if body is not None else None, headers=dict(signed.headers), method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=MLFLOW_TIMEOUT_SECONDS) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            problem = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            problem = {}
        message = str(problem.get("message") or raw[:200])
        raise MlflowError(error.code, str(problem.get("error_code", "")), message) from None
    return json.loads(text) if text.strip() else {}


def mlflow_credentials() -> Any:
    """The function's own credentials (its role), frozen for one invocation's requests."""
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials to sign MLflow requests with")
    return credentials.get_frozen_credentials()


def experiment_id(target: Mlflow, credentials: Any) -> str:
    """The experiment's id, created if it does not exist yet."""
    try:
        return _experiment_by_name(target, credentials)
    except MlflowError as error:
        if error.code != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        created = mlflow_request(
            target, credentials, "POST", "experiments/create", {"name": target.experiment}
        )
    except MlflowError as error:
        if error.code != "RESOURCE_ALREADY_EXISTS":
            raise
        return _experiment_by_name(target, credentials)  # created by another invocation
    return str(created["experiment_id"])


def _experiment_by_name(target: Mlflow, credentials: Any) -> str:
    found = mlflow_request(
        target,
        credentials,
        "GET",
        "experiments/get-by-name",
        query={"experiment_name": target.experiment},
    )
    return str(found["experiment"]["experiment_id"])


def run_contents(
    results: Mapping[str, Any], job: str, uri: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[dict[str, str]]]:
    """(metrics, params, tags) of the MLflow run of one result."""
    when = int(timestamp(results).timestamp() * 1000)
    kind, metrics = results["kind"], []

    def metric(key: str, value: object) -> None:
        number = _number(value)
        if number is not None:
            metrics.append({"key": key, "value": number, "timestamp": when, "step": 0})

    rows = results.get("rows") or {}
    if kind == "drift":
        for feature in results["features"]:
            metric(f"drift/{feature['name']}", feature.get("score"))
        if results["status"] == "ok":
            metric("drifted_features", len(results.get("drifted_features") or []))
        metric("captured_rows", rows.get("captured"))
        settings = ("drift_threshold", "min_rows", "evidently")
    else:
        for key, value in (results.get("metrics") or {}).items():
            metric(key, value)
        metric("labeled_predictions", rows.get("labeled"))
        settings = ("decision_threshold", "min_labeled")
    params = [
        {"key": key, "value": str(results[key])} for key in settings if results.get(key) is not None
    ]
    params.append({"key": "window_hours", "value": str((results.get("window") or {}).get("hours"))})
    tags = {
        "mlkit.processing_job": job,
        "mlkit.monitor": kind,
        "mlkit.endpoint": results["endpoint"],
        "mlkit.status": results["status"],
        "mlkit.results": uri,
        "mlkit.as_of": str(results["as_of"]),
    }
    if results.get("model_package_arn"):
        tags["mlkit.model_package"] = str(results["model_package_arn"])
    if kind == "drift":
        tags["mlkit.drifted_features"] = ",".join(results.get("drifted_features") or [])
    if results.get("reason"):
        tags["mlkit.reason"] = str(results["reason"])[:5000]
    return metrics, params, [{"key": k, "value": v} for k, v in tags.items()]


def log_run(target: Mlflow, results: Mapping[str, Any], job: str, uri: str) -> str:
    """Log one result as a run (once per job) and return its id."""
    credentials = mlflow_credentials()

    def call(path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return mlflow_request(target, credentials, "POST", path, body)

    experiment = experiment_id(target, credentials)
    found = call(
        "runs/search",
        {
            "experiment_ids": [experiment],
            "filter": f"tags.`mlkit.processing_job` = '{job}'",
            "max_results": 1,
        },
    )
    if found.get("runs"):
        return str(found["runs"][0]["info"]["run_id"])
    metrics, params, tags = run_contents(results, job, uri)
    created = call(
        "runs/create",
        {
            "experiment_id": experiment,
            "run_name": job,
            "start_time": int(time.time() * 1000),
            "tags": tags,
        },
    )
    run_id = str(created["run"]["info"]["run_id"])
    for batch in _batches(metrics, 1000):
        call("runs/log-batch", {"run_id": run_id, "metrics": batch})
    if params:
        call("runs/log-batch", {"run_id": run_id, "params": params})
    finished = int(time.time() * 1000)
    call("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": finished})
    return run_id


def _batches(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- entry point -----------------------------------------------------------------------------


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge entry point; see the module docstring."""
    config = _config()
    reason = ignore_reason(event, config.job_prefix)
    if reason:
        print(json.dumps({"published": False, "reason": reason}), flush=True)
        return {"published": False, "reason": reason}
    detail = event["detail"]
    job = detail["ProcessingJobName"]
    uri = results_uri(detail)
    if uri is None:
        uri = results_uri(_client("sagemaker").describe_processing_job(ProcessingJobName=job))
    if uri is None:
        raise ResultsError(f"job {job} has no processing output named {RESULTS_OUTPUT!r}")
    bucket, key = results_location(uri, config)
    results = read_results(bucket, key)
    data = metric_data(results)
    put_metrics(config.namespace, data)
    outcome = {
        "published": True,
        "job": job,
        "kind": results["kind"],
        "endpoint": results["endpoint"],
        "status": results["status"],
        "metrics": len(data),
        "mlflowRunId": None,
    }
    if config.mlflow is not None:
        try:
            outcome["mlflowRunId"] = log_run(config.mlflow, results, job, f"s3://{bucket}/{key}")
        except (MlflowError, OSError) as error:
            print(json.dumps(outcome | {"mlflowError": str(error)}), flush=True)
            raise
    print(json.dumps(outcome), flush=True)
    return outcome
