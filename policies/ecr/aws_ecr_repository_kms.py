"""ECR repositories encrypt images with KMS."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import items, value_at
from policies.control import Control, Resource


def check(repository: Resource) -> Iterable[str]:
    configured = items(repository.props.get("encryptionConfigurations"))
    types = [value_at(c, "encryptionType") for c in configured]
    if "KMS" not in types:
        found = ", ".join(str(t) for t in types if t) or "AES256"
        yield f"images are not encrypted with KMS (encryptionType {found})"


CONTROL = Control(
    id="aws-ecr-repository-kms",
    description="ECR repositories encrypt images with KMS (encryptionType KMS).",
    why="Images carry model code and sometimes baked-in weights; KMS encryption puts pulls "
    "under the key policy and CloudTrail instead of AES256 managed by ECR.",
    severity="medium",
    mirrors=("CKV_AWS_136",),
    remediation="Set encryption_configurations=[{'encryption_type': 'KMS', 'kms_key': <stack "
    "key ARN>}] on aws.ecr.Repository (modules.training.Training does).",
    resource_types=("aws:ecr/repository:Repository",),
    check=check,
    tags=("ecr",),
)
