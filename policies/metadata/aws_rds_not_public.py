"""RDS databases are not publicly accessible."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.metadata._rds import CLUSTER, CLUSTER_INSTANCE, INSTANCE, kind


def check(database: Resource) -> Iterable[str]:
    if database.props.get("publiclyAccessible") is True:
        yield f"{kind(database.type)} is publicly accessible"


CONTROL = Control(
    id="aws-rds-not-public",
    description="RDS instances, cluster instances and Multi-AZ DB clusters do not set "
    "publiclyAccessible.",
    why="A public endpoint exposes the metadata database (experiment history, registry "
    "entries, credentials tables) to password guessing from the internet; the platform's "
    "clients all run in the VPC.",
    severity="critical",
    mirrors=(
        "CKV_AWS_17",
        "AWS Config rds-instance-public-access-check",
        "prowler rds_instance_no_public_access",
    ),
    remediation="Leave publicly_accessible unset (False) and place the database in the "
    "stack's private subnets (modules.network.Network).",
    resource_types=(INSTANCE, CLUSTER, CLUSTER_INSTANCE),
    check=check,
    tags=("metadata", "rds"),
)
