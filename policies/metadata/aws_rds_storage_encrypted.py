"""RDS instances and clusters encrypt their storage with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.metadata._rds import CLUSTER, INSTANCE, kind


def check(database: Resource) -> Iterable[str]:
    if database.props.get("storageEncrypted") is not True:
        yield f"{kind(database.type)} storage is not encrypted"
    elif not database.props.get("kmsKeyId"):
        yield f"{kind(database.type)} storage uses the AWS-managed key (no kmsKeyId)"


CONTROL = Control(
    id="aws-rds-storage-encrypted",
    description="RDS instances and clusters have storageEncrypted on with a customer-managed "
    "KMS key (kmsKeyId).",
    why="A self-managed model registry or MLflow database holds run parameters, metrics, "
    "lineage and artifact locations; the stack key keeps it, its snapshots and replicas "
    "under the platform's key policy instead of the account-wide aws/rds key.",
    severity="high",
    mirrors=(
        "CKV_AWS_16",
        "CKV_AWS_96",
        "CKV_AWS_327",
        "AWS Config rds-storage-encrypted",
        "AWS Config rds-cluster-encrypted-at-rest",
        "prowler rds_instance_storage_encrypted",
    ),
    remediation="Set storage_encrypted=True and kms_key_id to the stack key "
    "(modules.security.StackKey) on aws.rds.Instance / aws.rds.Cluster; encryption of an "
    "existing database needs a snapshot copy and restore.",
    resource_types=(INSTANCE, CLUSTER),
    check=check,
    tags=("metadata", "rds"),
)
