"""ElastiCache (Redis OSS / Valkey) replication groups encrypt at rest and in transit."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_on, text
from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    props = group.props
    if not is_on(props.get("atRestEncryptionEnabled")):
        yield "at-rest encryption is not enabled"
    if not is_on(props.get("transitEncryptionEnabled")):
        yield "in-transit encryption is not enabled"
    elif str(props.get("transitEncryptionMode") or "").lower() == "preferred":
        yield "in-transit encryption is only preferred: plaintext connections are accepted"
    if text(props.get("kmsKeyId")) is None:
        yield "no customer-managed KMS key (kmsKeyId)"


CONTROL = Control(
    id="aws-elasticache-redis-encryption",
    description="ElastiCache replication groups encrypt at rest with a customer-managed KMS key "
    "and require TLS in transit.",
    why="A Redis online feature cache holds the same customer features as the feature store; "
    "cache nodes, snapshots and the VPC traffic to them need the protection of the store they "
    "mirror.",
    severity="high",
    mirrors=(
        "CKV_AWS_29",
        "CKV_AWS_30",
        "CKV_AWS_191",
        "AWS Config elasticache-repl-grp-encrypted-at-rest",
        "AWS Config elasticache-repl-grp-encrypted-in-transit",
        "prowler elasticache_replication_group_encrypted_at_rest",
        "prowler elasticache_replication_group_encrypted_in_transit",
    ),
    remediation="Set at_rest_encryption_enabled=True, kms_key_id=<stack key ARN> and "
    "transit_encryption_enabled=True (transit_encryption_mode 'required' or unset) on "
    "aws.elasticache.ReplicationGroup.",
    resource_types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=check,
    tags=("feature-store",),
)
