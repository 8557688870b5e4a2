"""RDS instances and clusters keep automated backups for at least a week."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import number
from policies.control import Control, Resource
from policies.metadata._rds import CLUSTER, INSTANCE

MINIMUM_DAYS = 7


def check(database: Resource) -> Iterable[str]:
    if database.type == INSTANCE and database.props.get("replicateSourceDb"):
        return  # a read replica: the source's backups cover it
    raw = database.props.get("backupRetentionPeriod")
    days = number(raw)
    if raw is None:
        yield f"backupRetentionPeriod is not set (AWS keeps 1 day); {MINIMUM_DAYS} or more needed"
    elif days is None:
        yield f"backupRetentionPeriod {raw!r} is not a number"
    elif days < MINIMUM_DAYS:
        yield f"backupRetentionPeriod is {days:g} days; {MINIMUM_DAYS} or more needed"


CONTROL = Control(
    id="aws-rds-backup-retention",
    description=f"RDS instances and clusters keep automated backups for {MINIMUM_DAYS} days or "
    "more (read replicas excepted).",
    why="Point-in-time recovery of the registry or tracking database is the way back from a "
    "bad migration or a deleted experiment; a week covers an incident noticed after a "
    "weekend. The API default (1 day) is not enough.",
    severity="medium",
    mirrors=(
        "CKV_AWS_133",
        "AWS Config db-instance-backup-enabled",
        "prowler rds_instance_backup_enabled",
    ),
    remediation=f"Set backup_retention_period={MINIMUM_DAYS} (or more) on aws.rds.Instance / "
    "aws.rds.Cluster.",
    resource_types=(INSTANCE, CLUSTER),
    check=check,
    tags=("metadata", "rds"),
)
