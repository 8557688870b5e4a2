"""SageMaker models run in the VPC (except those only serverless variants serve)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import is_object, non_empty_array
from policies.control import Control, Resource
from policies.serving._endpoints import MODEL, model_key, serverless_only_models


def problems(model: Resource) -> Iterable[str]:
    vpc = model.props.get("vpcConfig")
    if not is_object(vpc) or not vpc:
        yield "model has no VPC config"
        return
    if not non_empty_array(vpc.get("subnets")):
        yield "model VPC config has no subnets"
    if not non_empty_array(vpc.get("securityGroupIds")):
        yield "model VPC config has no security groups"


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    exempt = serverless_only_models(resources)
    for model in (r for r in resources if r.type == MODEL):
        if model_key(model) not in exempt:
            yield from ((model, message) for message in problems(model))


CONTROL = Control(
    id="aws-sagemaker-model-vpc",
    description="SageMaker models have a vpcConfig with subnets and security groups, unless "
    "only serverless variants serve them.",
    why="In the VPC the endpoint's instances reach S3, ECR and KMS through the stack's "
    "endpoints and security group instead of SageMaker's shared network. Serverless "
    "inference does not support VPC configuration (a documented exclusion), so models only "
    "serverless variants serve are exempt.",
    severity="high",
    mirrors=(
        "AWS Config sagemaker-model-in-vpc",
        "prowler sagemaker_models_vpc_settings_configured",
    ),
    remediation="Pass vpc_config with the stack's private subnets and workload security group "
    "to aws.sagemaker.Model (modules.serving.RealtimeEndpoint does on instances).",
    stack_check=check,
    tags=("serving",),
)
