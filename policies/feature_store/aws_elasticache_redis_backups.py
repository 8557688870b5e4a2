"""ElastiCache replication groups keep automatic backups."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import number
from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    days = number(group.props.get("snapshotRetentionLimit"))
    if days is None:
        yield "automatic backups are off (snapshotRetentionLimit not set)"
    elif days < 1:
        yield f"automatic backups are off (snapshotRetentionLimit {days:g})"


CONTROL = Control(
    id="aws-elasticache-redis-backups",
    description="ElastiCache replication groups keep automatic snapshots for at least one day.",
    why="Rebuilding a feature cache from the offline store or replaying the stream takes "
    "hours; a daily snapshot brings serving back in minutes after a node or data loss.",
    severity="medium",
    mirrors=(
        "CKV_AWS_134",
        "AWS Config elasticache-redis-cluster-automatic-backup-check",
        "prowler elasticache_redis_cluster_backup_enabled",
    ),
    remediation="Set snapshot_retention_limit to 1 or more (days) on "
    "aws.elasticache.ReplicationGroup.",
    resource_types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=check,
    tags=("feature-store",),
)
