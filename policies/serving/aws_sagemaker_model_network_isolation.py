"""SageMaker models run with network isolation (except those only serverless variants serve)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.control import Control, Resource
from policies.serving._endpoints import MODEL, model_key, serverless_only_models


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    exempt = serverless_only_models(resources)
    for model in (r for r in resources if r.type == MODEL):
        if model_key(model) not in exempt and model.props.get("enableNetworkIsolation") is not True:
            yield model, "model network isolation is not enabled"


CONTROL = Control(
    id="aws-sagemaker-model-network-isolation",
    description="SageMaker models set enableNetworkIsolation, unless only serverless variants "
    "serve them.",
    why="The inference container sees every scoring request (card and customer data); "
    "with network isolation it has no network path out, even from inside the VPC. Serverless "
    "inference does not support network isolation (a documented exclusion), so models only "
    "serverless variants serve are exempt (aws-sagemaker-serverless-endpoint-exclusions "
    "requires them to go without).",
    severity="high",
    mirrors=(
        "CKV_AWS_370",
        "AWS Config sagemaker-model-isolation-enabled",
        "prowler sagemaker_models_network_isolation_enabled",
    ),
    remediation="Set enable_network_isolation=True on aws.sagemaker.Model "
    "(modules.serving.RealtimeEndpoint does on instances).",
    stack_check=check,
    tags=("serving",),
)
