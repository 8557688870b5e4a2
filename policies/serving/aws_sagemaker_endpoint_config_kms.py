"""SageMaker endpoint configurations encrypt instance storage with a KMS key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.serving._endpoints import CONFIG, all_serverless


def check(config: Resource) -> Iterable[str]:
    if all_serverless(config):
        return  # SageMaker rejects a KmsKeyId when every variant is serverless
    if not config.props.get("kmsKeyArn"):
        yield "endpoint configuration has no KMS key (kmsKeyArn)"


CONTROL = Control(
    id="aws-sagemaker-endpoint-config-kms",
    description="SageMaker endpoint configurations set kmsKeyArn, except when every variant "
    "is serverless.",
    why="The key encrypts the ML storage volumes of the endpoint's instances, which hold the "
    "model artifact. Serverless-only configurations are exempt: SageMaker rejects a key "
    "there (the service encrypts their storage itself).",
    severity="high",
    mirrors=(
        "CKV_AWS_98",
        "AWS Config sagemaker-endpoint-configuration-kms-key-configured",
    ),
    remediation="Set kms_key_arn to the stack key on aws.sagemaker.EndpointConfiguration "
    "(modules.serving.RealtimeEndpoint does for instance-based variants).",
    resource_types=(CONFIG,),
    check=check,
    tags=("serving",),
)
