"""Monitoring job launcher (AWS Lambda, python3.12, boto3 only): starts one drift or quality
job (SageMaker Processing) for one scheduled time, with only the captured data and labels of
its window as inputs.

Why a launcher, not EventBridge Scheduler's universal target `sagemaker:createProcessingJob`:
a processing input of type S3Prefix is downloaded whole, and the endpoint's data capture and
the labels grow without end while the jobs read a moving window of them. The launcher lists
the hour folders (`yyyy/mm/dd/hh/`) of the window and gives the job a manifest of just those
objects (S3DataType `ManifestFile`).

Invoked by EventBridge Scheduler (a Lambda target, asynchronously) with the schedule's input:

    {"monitor": "drift" | "quality",
     "scheduledTime": "<aws.scheduler.scheduled-time>",     (filled in by the scheduler;
                                                             absent: now, to the minute)
     "windows": {"<input name>": <hours>, ...},
     "request": <a CreateProcessingJob request without ProcessingJobName>}

What it starts, for the scheduled time T (UTC):
1. the job `JOB_NAME_PREFIX + monitor + "-" + T as yyyymmddThhmm`: deterministic, so an
   invocation retried by Lambda or the scheduler finds the job started and starts none;
2. each input named in `windows` (an S3Prefix input `s3://bucket/prefix/`) becomes a
   manifest `MANIFESTS_URI<job>/<input>.json` of the objects under the hour folders from one
   hour before `T - hours` to one hour after T (the jobs filter records by time exactly;
   the hour around each edge covers records filed a little late or early). Objects that are
   not under an hour folder are not listed. A window with no object gets one empty file
   (`MANIFESTS_URI<job>/empty/<input>.jsonl`): the job then reports insufficient data instead
   of failing on a missing input;
3. every output's S3Uri gets `<job>/` appended (one run never overwrites another's results);
4. `--as-of T` is appended to the container arguments.

Environment:
    JOB_NAME_PREFIX   names of the kit's monitoring jobs start with it
    MANIFESTS_URI     `s3://bucket/prefix/` the manifests are written under

Returns `{"started": True, "job", "inputs": {name: objects listed}}`, or `{"started": False,
"job", "reason"}` when the job already exists; prints the same as one JSON line. A bad event
or configuration raises LaunchError before any AWS call; AWS errors propagate (the
function's Errors metric and the asynchronous retries).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

MONITORS = ("drift", "quality")
JOB_TIME_FORMAT = "%Y%m%dT%H%M"
MAX_JOB_NAME = 63
MAX_WINDOW_HOURS = 24 * 90
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_HOUR_FOLDER = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
MARGIN = timedelta(hours=1)


class LaunchError(ValueError):
    """The event or the environment cannot start a job; the message says why."""


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)


def s3_parts(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b/` -> (`bucket`, `a/b/`)."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise LaunchError(f"{uri!r} is not an s3://bucket/prefix URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise LaunchError(f"{uri!r} has no bucket")
    return bucket, key


def config(environ: Mapping[str, str]) -> tuple[str, str, str]:
    """(job name prefix, manifests bucket, manifests key prefix)."""
    prefix = environ.get("JOB_NAME_PREFIX", "").strip()
    manifests = environ.get("MANIFESTS_URI", "").strip()
    if not prefix or not manifests:
        raise LaunchError("launcher misconfigured: JOB_NAME_PREFIX and MANIFESTS_URI are needed")
    bucket, key = s3_parts(manifests)
    return prefix, bucket, key if key.endswith("/") or not key else key + "/"


def scheduled_time(value: object, now: datetime | None = None) -> datetime:
    """The scheduler's `2026-05-04T10:00:00Z` as aware UTC; absent: now, to the minute."""
    if value is None:
        return (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    if not isinstance(value, str):
        raise LaunchError(f"scheduledTime {value!r} is not a time")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LaunchError(f"scheduledTime {value!r} is not an ISO-8601 time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_name(prefix: str, monitor: str, when: datetime) -> str:
    name = f"{prefix}{monitor}-{when:{JOB_TIME_FORMAT}}"
    if len(name) > MAX_JOB_NAME or not _JOB_NAME.fullmatch(name):
        raise LaunchError(f"job name {name!r} is not a valid processing job name")
    return name


def hour_folders(hours: float, when: datetime) -> list[datetime]:
    """The hours whose folders a window of `hours` before `when` reads, oldest first."""
    first = (when - timedelta(hours=hours) - MARGIN).replace(minute=0, second=0, microsecond=0)
    last = (when + MARGIN).replace(minute=0, second=0, microsecond=0)
    folders, hour = [], first
    while hour <= last:
        folders.append(hour)
        hour += timedelta(hours=1)
    return folders


def window_keys(bucket: str, prefix: str, folders: list[datetime]) -> Iterator[str]:
    """Keys (relative to `prefix`) of the objects in the given hour folders, in key order.
    One listing per day: the folders of a day share its prefix."""
    wanted = set(folders)
    for day in sorted({folder.date() for folder in folders}):
        pages = (
            _client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=f"{prefix}{day:%Y/%m/%d}/")
        )
        for page in pages:
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                match = _HOUR_FOLDER.match(relative)
                if not match:
                    continue
                year, month, date, hour = (int(part) for part in match.groups())
                if datetime(year, month, date, hour, tzinfo=UTC) in wanted:
                    yield relative


def parse_event(event: Mapping[str, Any]) -> tuple[str, dict[str, float], dict[str, Any]]:
    """(monitor, windows, request) of a valid event; LaunchError otherwise."""
    monitor = event.get("monitor")
    if monitor not in MONITORS:
        raise LaunchError(f"monitor {monitor!r} is not one of {MONITORS}")
    request = event.get("request")
    if not isinstance(request, dict) or "ProcessingJobName" in request:
        raise LaunchError("request must be a CreateProcessingJob request without a job name")
    windows = event.get("windows") or {}
    if not isinstance(windows, dict):
        raise LaunchError("windows must map input names to hours")
    inputs = {i.get("InputName"): i for i in request.get("ProcessingInputs") or []}
    for name, hours in windows.items():
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise LaunchError(f"window {name!r}: hours must be a number")
        if not 0 < hours <= MAX_WINDOW_HOURS:
            raise LaunchError(f"window {name!r}: hours must be in (0, {MAX_WINDOW_HOURS}]")
        s3_input = (inputs.get(name) or {}).get("S3Input") or {}
        if s3_input.get("S3DataType") != "S3Prefix":
            raise LaunchError(f"window {name!r} names no S3Prefix input of the request")
        s3_parts(s3_input.get("S3Uri"))
    return monitor, {k: float(v) for k, v in windows.items()}, request


def put_json(bucket: str, key: str, body: object) -> None:
    _client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json"
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge Scheduler entry point; see the module docstring."""
    prefix, manifest_bucket, manifest_prefix = config(os.environ)
    monitor, windows, template = parse_event(event)
    when = scheduled_time(event.get("scheduledTime"))
    name = job_name(prefix, monitor, when)
    request = copy.deepcopy(template)
    counts: dict[str, int] = {}
    for item in request.get("ProcessingInputs") or []:
        input_name = item.get("InputName")
        if input_name not in windows:
            continue
        s3_input = item["S3Input"]
        bucket, key = s3_parts(s3_input["S3Uri"])
        key = key if key.endswith("/") else key + "/"
        keys = list(window_keys(bucket, key, hour_folders(windows[input_name], when)))
        counts[input_name] = len(keys)
        manifest_key = f"{manifest_prefix}{name}/{input_name}.json"
        if keys:
            manifest: list[Any] = [{"prefix": f"s3://{bucket}/{key}"}, *keys]
        else:
            empty = f"{manifest_prefix}{name}/empty/"
            _client("s3").put_object(Bucket=manifest_bucket, Key=f"{empty}{input_name}.jsonl")
            manifest = [{"prefix": f"s3://{manifest_bucket}/{empty}"}, f"{input_name}.jsonl"]
        put_json(manifest_bucket, manifest_key, manifest)
        s3_input["S3Uri"] = f"s3://{manifest_bucket}/{manifest_key}"
        s3_input["S3DataType"] = "ManifestFile"
    for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        s3_output = output.get("S3Output") or {}
        if isinstance(s3_output.get("S3Uri"), str):
            s3_output["S3Uri"] = s3_output["S3Uri"].rstrip("/") + f"/{name}/"
    app = request.setdefault("AppSpecification", {})
    app["ContainerArguments"] = [*(app.get("ContainerArguments") or []), "--as-of", iso(when)]
    sagemaker = _client("sagemaker")
    try:
        sagemaker.create_processing_job(ProcessingJobName=name, **request)
    except sagemaker.exceptions.ResourceInUse:
        outcome: dict[str, Any] = {"started": False, "job": name, "reason": "already started"}
    else:
        outcome = {"started": True, "job": name, "inputs": counts}
    print(json.dumps(outcome), flush=True)
    return outcome
