"""ECR repositories make image tags immutable."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource


def check(repository: Resource) -> Iterable[str]:
    mutability = repository.props.get("imageTagMutability") or "MUTABLE"
    if mutability == "IMMUTABLE":
        return
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        yield "tags matching the exclusion filters stay mutable (IMMUTABLE_WITH_EXCLUSION)"
    else:
        yield f"image tags are mutable ({mutability})"


CONTROL = Control(
    id="aws-ecr-repository-immutable-tags",
    description="ECR repositories set imageTagMutability to IMMUTABLE.",
    why="Model packages, pipelines and endpoints pin training and serving images by tag; a tag "
    "that can be pushed again silently swaps the code that trains or serves a model, so a "
    "retrained model is no longer reproducible and a poisoned image needs no new tag. "
    "IMMUTABLE_WITH_EXCLUSION (one of the SDK's four values) is not accepted: the tags its "
    "filters exclude, often `latest` or `dev-*`, are exactly the ones people deploy by; like "
    "checkov CKV_AWS_51 the control accepts IMMUTABLE only.",
    severity="high",
    mirrors=(
        "CKV_AWS_51",
        "AWS Config ecr-private-tag-immutability-enabled",
        "prowler ecr_repositories_tag_immutability",
    ),
    remediation="Set image_tag_mutability='IMMUTABLE' on aws.ecr.Repository and push a new tag "
    "per build (modules.training.Training does).",
    resource_types=("aws:ecr/repository:Repository",),
    check=check,
    tags=("ecr",),
)
