"""SageMaker models run with network isolation."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.serving._endpoints import MODEL


def check(model: Resource) -> Iterable[str]:
    if model.props.get("enableNetworkIsolation") is not True:
        yield "model network isolation is not enabled"


CONTROL = Control(
    id="aws-sagemaker-model-network-isolation",
    description="SageMaker models set enableNetworkIsolation.",
    why="The inference container sees every scoring request (card and customer data); "
    "with network isolation it has no network path out, even from inside the VPC.",
    severity="high",
    mirrors=(
        "CKV_AWS_370",
        "AWS Config sagemaker-model-isolation-enabled",
        "prowler sagemaker_models_network_isolation_enabled",
    ),
    remediation="Set enable_network_isolation=True on aws.sagemaker.Model "
    "(modules.serving.RealtimeEndpoint does).",
    resource_types=(MODEL,),
    check=check,
    tags=("serving",),
)
