"""Model Monitor job definitions encrypt volumes, outputs and traffic, and run isolated.

The kit no longer creates Model Monitor resources (the service is closed to new customers; the
kit's own jobs replace it, see aws-scheduler-schedule-processing-job-isolated), but accounts
that still have it may declare job definitions in their own stacks: this control keeps
checking them."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import object_at
from policies.control import Control, Resource

DATA_QUALITY = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MODEL_QUALITY = "aws-native:sagemaker:ModelQualityJobDefinition"
OUTPUT_CONFIG = {
    DATA_QUALITY: "dataQualityJobOutputConfig",
    MODEL_QUALITY: "modelQualityJobOutputConfig",
}


def check(job: Resource) -> Iterable[str]:
    cluster = object_at(job.props, "jobResources", "clusterConfig")
    if not cluster.get("volumeKmsKeyId"):
        yield "volume has no KMS key (jobResources.clusterConfig.volumeKmsKeyId)"
    output = OUTPUT_CONFIG[job.type]
    if not object_at(job.props, output).get("kmsKeyId"):
        yield f"output has no KMS key ({output}.kmsKeyId)"
    network = object_at(job.props, "networkConfig")
    if network.get("enableNetworkIsolation") is not True:
        yield "network isolation is not enabled (networkConfig.enableNetworkIsolation)"
    if network.get("enableInterContainerTrafficEncryption") is not True:
        yield (
            "inter-container traffic encryption is not enabled "
            "(networkConfig.enableInterContainerTrafficEncryption)"
        )


CONTROL = Control(
    id="aws-sagemaker-monitoring-job-encrypted",
    description="Data-quality and model-quality job definitions set a volume KMS key, an "
    "output KMS key, network isolation and inter-container traffic encryption.",
    why="Monitoring jobs read the captured requests and the ground-truth labels and write "
    "statistics about them; they deserve the same protection as the training jobs that "
    "produced the baseline.",
    severity="high",
    mirrors=(
        "AWS Config sagemaker-data-quality-job-isolation",
        "AWS Config sagemaker-data-quality-job-encrypt-in-transit",
        "AWS Config sagemaker-model-quality-job-definition-isolation",
        "AWS Config sagemaker-model-quality-job-encrypt-in-transit",
    ),
    remediation="Set job_resources.cluster_config.volume_kms_key_id and the output config's "
    "kms_key_id to the stack key and network_config with enable_network_isolation and "
    "enable_inter_container_traffic_encryption; or move to the kit's own monitoring jobs "
    "(modules.monitoring.MonitoringJobs, backend kit-jobs).",
    resource_types=tuple(OUTPUT_CONFIG),
    check=check,
    tags=("monitoring",),
)
