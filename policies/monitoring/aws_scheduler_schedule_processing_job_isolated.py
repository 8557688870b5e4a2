"""Schedules that start SageMaker Processing jobs give them the VPC, network isolation, KMS on
volumes and outputs and a pinned image, and encrypt their own payload."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from policies.common import non_empty_array, object_at, text
from policies.control import Control, Resource

SCHEDULE = "aws:scheduler/schedule:Schedule"
# EventBridge Scheduler's universal target for CreateProcessingJob (the input is the request).
UNIVERSAL_TARGET = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:sagemaker:createProcessingJob$")


def processing_request(schedule: Resource) -> tuple[Mapping[str, Any] | None, str | None]:
    """(the CreateProcessingJob request the schedule's target receives, a problem): the
    universal target's input, or the `request` of a launcher's input (the kit's monitoring
    jobs). (None, None) for schedules that start no processing job, or whose input is not
    known yet."""
    target = object_at(schedule.props, "target")
    universal = isinstance(target.get("arn"), str) and UNIVERSAL_TARGET.match(target["arn"])
    raw = target.get("input")
    if not isinstance(raw, str):
        return None, (
            "the target has no input (the CreateProcessingJob request)" if universal else None
        )
    try:
        document = json.loads(raw)
    except json.JSONDecodeError:
        return None, ("the target input is not JSON" if universal else None)
    if not isinstance(document, dict):
        return None, ("the target input is not a JSON object" if universal else None)
    if universal:
        return document, None
    request = document.get("request")
    if isinstance(request, dict) and "AppSpecification" in request:
        return request, None
    return None, None


def check(schedule: Resource) -> Iterable[str]:
    request, problem = processing_request(schedule)
    if problem:
        yield problem
    if request is None:
        return
    if not text(schedule.props.get("kmsKeyArn")):
        yield "schedule payload (the job request) has no customer-managed key (kmsKeyArn)"
    cluster = object_at(request, "ProcessingResources", "ClusterConfig")
    if not text(cluster.get("VolumeKmsKeyId")):
        yield "job volume has no KMS key (ProcessingResources.ClusterConfig.VolumeKmsKeyId)"
    if not text(object_at(request, "ProcessingOutputConfig").get("KmsKeyId")):
        yield "job outputs have no KMS key (ProcessingOutputConfig.KmsKeyId)"
    network = object_at(request, "NetworkConfig")
    if network.get("EnableNetworkIsolation") is not True:
        yield "job runs without network isolation (NetworkConfig.EnableNetworkIsolation)"
    if network.get("EnableInterContainerTrafficEncryption") is not True:
        yield (
            "job traffic between instances is not encrypted "
            "(NetworkConfig.EnableInterContainerTrafficEncryption)"
        )
    vpc = object_at(network, "VpcConfig")
    if not non_empty_array(vpc.get("Subnets")) or not non_empty_array(vpc.get("SecurityGroupIds")):
        yield "job runs outside the VPC (NetworkConfig.VpcConfig subnets and security groups)"
    image = object_at(request, "AppSpecification").get("ImageUri")
    if not isinstance(image, str) or "@sha256:" not in image:
        yield "job image is not pinned by digest (AppSpecification.ImageUri)"


CONTROL = Control(
    id="aws-scheduler-schedule-processing-job-isolated",
    description="EventBridge Scheduler schedules that start SageMaker Processing jobs (the "
    "universal target sagemaker:createProcessingJob, or a launcher given the request) run "
    "them in the VPC with network isolation, encrypted inter-container traffic, KMS on "
    "volumes and outputs and an image pinned by digest, and encrypt the schedule's payload "
    "with a customer-managed key.",
    why="The monitoring jobs read captured customer requests and labels; the jobs are not "
    "Pulumi resources, so the schedule's request is the only place their protection can be "
    "checked before they run. A tag can be moved to another image; a digest cannot.",
    severity="high",
    mirrors=(
        "mlkit",
        "AWS Config sagemaker-data-quality-job-isolation (for the jobs Model Monitor ran)",
        "Steampipe eventbridge_scheduler_schedule_encrypted_with_kms_cmk",
    ),
    remediation="Build the request with ProcessingResources.ClusterConfig.VolumeKmsKeyId, "
    "ProcessingOutputConfig.KmsKeyId, NetworkConfig (EnableNetworkIsolation, "
    "EnableInterContainerTrafficEncryption, VpcConfig) and an ImageUri `repo@sha256:...`, "
    "and set the schedule's kms_key_arn (modules.monitoring.MonitoringJobs does).",
    resource_types=(SCHEDULE,),
    check=check,
    tags=("monitoring",),
)
