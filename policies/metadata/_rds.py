"""RDS resource types the metadata controls read."""

from __future__ import annotations

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"


def kind(type_: str) -> str:
    """How a message names the resource."""
    return "cluster" if type_ == CLUSTER else "instance"
