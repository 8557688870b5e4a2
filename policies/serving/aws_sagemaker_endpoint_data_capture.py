"""Instance-based endpoint configurations capture requests and responses, encrypted."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_object, number
from policies.control import Control, Resource
from policies.serving._endpoints import CONFIG, all_serverless


def check(config: Resource) -> Iterable[str]:
    if all_serverless(config):
        return  # serverless endpoints cannot capture data
    capture = config.props.get("dataCaptureConfig")
    if not is_object(capture) or not capture:
        yield "endpoint configuration does not capture data"
        return
    if capture.get("enableCapture") is False:
        yield "data capture is disabled (enableCapture false)"
    percentage = number(capture.get("initialSamplingPercentage"))
    if percentage is None or percentage <= 0:
        yield "data capture samples no requests (initialSamplingPercentage)"
    if not capture.get("kmsKeyId"):
        yield "captured data has no KMS key (dataCaptureConfig.kmsKeyId)"


CONTROL = Control(
    id="aws-sagemaker-endpoint-data-capture",
    description="Instance-based endpoint configurations capture data (enabled, a sampling "
    "percentage above 0, a KMS key) in staging and prod.",
    why="Model Monitor's data-quality and model-quality jobs, drift alarms and retraining "
    "all read the captured requests; without capture they have nothing to compare with the "
    "baseline. Captured requests carry customer data, hence the key. Serverless-only "
    "configurations are exempt: SageMaker cannot capture data from them. No anchor rule "
    "checks data capture.",
    severity="high",
    mirrors=("mlkit",),
    remediation="Pass data_capture_config (enable_capture, initial_sampling_percentage > 0, "
    "kms_key_id = the stack key, input and output capture) to "
    "aws.sagemaker.EndpointConfiguration (modules.serving.RealtimeEndpoint does).",
    resource_types=(CONFIG,),
    check=check,
    environments=("staging", "prod"),
    tags=("serving", "monitoring"),
)
