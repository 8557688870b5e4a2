"""Every ECR repository has a lifecycle policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.control import Control, Resource

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


def repository_key(repository: Resource) -> str:
    """How a lifecycle policy names its repository: the physical name in state files, the
    logical name offline (the recorder's default `name`)."""
    return str(repository.props.get("name") or repository.name)


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    covered = {str(r.props.get("repository")) for r in resources if r.type == LIFECYCLE}
    for repository in (r for r in resources if r.type == REPOSITORY):
        if repository_key(repository) not in covered:
            yield repository, "repository has no lifecycle policy"


CONTROL = Control(
    id="aws-ecr-repository-lifecycle-policy",
    description="Every ECR repository has a lifecycle policy (aws.ecr.LifecyclePolicy).",
    why="Every training run and CI build pushes multi-gigabyte images; without expiry rules "
    "storage cost grows without bound and old vulnerable images stay pullable.",
    severity="low",
    mirrors=(
        "AWS Config ecr-private-lifecycle-policy-configured",
        "prowler ecr_repositories_lifecycle_policy_enabled",
    ),
    remediation="Add aws.ecr.LifecyclePolicy for the repository expiring untagged images and "
    "keeping the last N tagged ones (modules.training.Training does).",
    stack_check=check,
    tags=("ecr",),
)
