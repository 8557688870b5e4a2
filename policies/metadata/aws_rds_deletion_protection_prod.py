"""Production RDS instances and clusters have deletion protection."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.metadata._rds import CLUSTER, INSTANCE, kind


def check(database: Resource) -> Iterable[str]:
    if database.props.get("deletionProtection") is not True:
        yield f"{kind(database.type)} has no deletion protection"


CONTROL = Control(
    id="aws-rds-deletion-protection-prod",
    description="Production RDS instances and clusters set deletionProtection.",
    why="In prod the registry or tracking database is the record of which model was trained "
    "how and approved by whom; deletion protection stops a replacement or a stray destroy "
    "from dropping it.",
    severity="medium",
    mirrors=(
        "CKV_AWS_293",
        "CKV_AWS_139",
        "AWS Config rds-instance-deletion-protection-enabled",
        "AWS Config rds-cluster-deletion-protection-enabled",
        "prowler rds_instance_deletion_protection",
        "prowler rds_cluster_deletion_protection",
    ),
    remediation="Set deletion_protection=True on aws.rds.Instance / aws.rds.Cluster in prod "
    "(and protect=True on the resource).",
    resource_types=(INSTANCE, CLUSTER),
    check=check,
    environments=("prod",),
    tags=("metadata", "rds"),
)
