"""Change safety: will applying this plan destroy data?

A change to an input the provider cannot update in place makes `pulumi up` replace the resource
(delete + create); for a table, bucket, stream or key that deletes the data. So does removing a
stateful resource from the program. `plan` compares each stateful resource's identity (the values
of those inputs) with the per-stack record committed in `stacks/identity/<stack>.json`.

Pure: reads recorded inputs (Pulumi wire names, camelCase) and JSON files; no Pulumi runtime.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.stackfile import display_path, write_atomically

if TYPE_CHECKING:
    from mlkit.recording import RecordedResource, Recording

RECORD_FORMAT_VERSION = 1
DELETED = "(deleted)"

# Every pulumi-aws (v7, bridged from terraform-provider-aws v6) resource is replaced when its
# per-resource `region` input changes (the provider's `forceNewIfRegionChanges` diff hook).
_REGION = ("region",)

# A feature group's identity: terraform-provider-aws's ForceNew attributes, which are also
# CloudFormation's create-only properties (tags aside), plus `featureDefinitions`, which
# pulumi-aws replaces on any change and aws-native on removals only (APPEND_ONLY).
_FEATURE_GROUP = (
    "featureGroupName",
    "recordIdentifierFeatureName",
    "eventTimeFeatureName",
    "featureDefinitions",
    "description",
    "roleArn",
    "offlineStoreConfig",
    "onlineStoreConfig.enableOnlineStore",
    "onlineStoreConfig.securityConfig",
    "onlineStoreConfig.storageType",
)

# Input paths (dotted, camelCase as recorded) whose change makes the provider replace the
# resource, for the resource types that hold data or an identity others depend on. Taken from
# the provider schema: the `ForceNew` attributes of terraform-provider-aws, which pulumi-aws
# bridges (its Python SDK does not mark them); nested paths where only part of a block is
# ForceNew. Conditional replacements (CustomizeDiff) are left out unless noted. IAM roles,
# policies, alarms, topics, endpoints and other stateless resources are left out on purpose:
# replacing them loses no data. tests/test_change_safety.py checks every path against the SDK.
IDENTITY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix", "logGroupClass", *_REGION),
    # Key schema, local indexes and the create-from sources. `attributes` is not here on
    # purpose: the provider ignores attribute-type changes unless a global index changes
    # (pulumi/pulumi-aws#1057), so the table is not replaced, whatever the program says.
    "aws:dynamodb/table:Table": (
        "name",
        "hashKey",
        "rangeKey",
        "localSecondaryIndexes",
        "importTable.s3BucketSource",
        "restoreSourceName",
        "restoreSourceTableArn",
        "restoreDateTime",
        "restoreToLatestTime",
        *_REGION,
    ),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations", *_REGION),
    # Replication group data: the Redis/Valkey dataset.
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId",
        "atRestEncryptionEnabled",
        "dataTieringEnabled",
        "globalReplicationGroupId",
        "kmsKeyId",
        "networkType",
        "port",
        "securityGroupNames",
        "snapshotArns",
        "snapshotName",
        "subnetGroupName",
        *_REGION,
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": (
        "name",
        "catalogId",
        "targetDatabase",
        *_REGION,
    ),
    "aws:kinesis/stream:Stream": ("name", *_REGION),
    # A replaced key is scheduled for deletion: whatever it encrypted becomes unreadable.
    "aws:kms/key:Key": (
        "customerMasterKeySpec",
        "keyUsage",
        "multiRegion",
        "customKeyStoreId",
        "xksKeyId",
        *_REGION,
    ),
    # `clusterIdentifier` forces a new cluster; `storageType` too, but only for non-Aurora
    # engines (left out).
    "aws:rds/cluster:Cluster": (
        "clusterIdentifier",
        "clusterIdentifierPrefix",
        "engine",
        "engineMode",
        "availabilityZones",
        "clusterScalabilityType",
        "databaseName",
        "dbSubnetGroupName",
        "dbSystemId",
        "kmsKeyId",
        "masterUsername",
        "restoreToPointInTime",
        "s3Import",
        "snapshotIdentifier",
        "sourceRegion",
        "storageEncrypted",
        *_REGION,
    ),
    # `identifier` is not here: the provider renames an instance in place.
    "aws:rds/instance:Instance": (
        "engine",
        "availabilityZone",
        "backupTarget",
        "characterSetName",
        "customIamInstanceProfile",
        "dbName",
        "kmsKeyId",
        "ncharCharacterSetName",
        "restoreToPointInTime",
        "s3Import",
        "snapshotIdentifier",
        "storageEncrypted",
        "timezone",
        "username",
        *_REGION,
    ),
    # `bucketNamespace` is part of the bucket's name (immutable in the S3 API; aws-native marks
    # it replace-on-change too).
    "aws:s3/bucket:Bucket": (
        "bucket",
        "bucketPrefix",
        "bucketNamespace",
        "objectLockEnabled",
        "objectLockConfiguration.objectLockEnabled",
        *_REGION,
    ),
    # Online store: `ttlDuration` is updated in place; the rest of the block is ForceNew.
    "aws:sagemaker/featureGroup:FeatureGroup": (*_FEATURE_GROUP, *_REGION),
    # aws-native (Cloud Control) replaces on a change of the CloudFormation schema's create-only
    # properties (tests/test_change_safety.py checks these against cfn-lint's copy). `tags` is
    # create-only too, but the kit ignores tag changes on feature groups.
    # `featureDefinitions` updates in place by additions only: see APPEND_ONLY.
    "aws-native:sagemaker:FeatureGroup": _FEATURE_GROUP,
    # MLflow: experiments, runs and registered models live in the app / tracking server.
    "aws:sagemaker/mlflowApp:MlflowApp": ("name", "roleArn", *_REGION),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": (
        "trackingServerName",
        "roleArn",
        "mlflowVersion",
        *_REGION,
    ),
    # The model registry: every model package version lives in its group.
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "modelPackageGroupName",
        "modelPackageGroupDescription",
        *_REGION,
    ),
    "aws:sqs/queue:Queue": ("name", "namePrefix", "fifoQueue", *_REGION),
}

# Lists that update in place as long as every recorded item is kept: SageMaker adds features to
# a group (UpdateFeatureGroup's FeatureAdditions) but cannot remove one or change its type, so
# only those changes would need the group replaced. Items compare as whole values, in any order.
APPEND_ONLY: frozenset[tuple[str, str]] = frozenset(
    {("aws-native:sagemaker:FeatureGroup", "featureDefinitions")}
)


def _changed(type_: str, path: str, old: Any, new: Any) -> bool:
    if (type_, path) in APPEND_ONLY and isinstance(old, list) and isinstance(new, list):
        return any(item not in new for item in old)
    return old != new


@dataclass(frozen=True)
class Replacement:
    """A stateful resource the change would replace (or delete): its data would be lost.
    For a deleted resource `property` is "(deleted)", `old` its recorded identity and `new`
    None."""

    urn: str
    type: str
    property: str
    old: Any
    new: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "property": self.property,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class ChangeSafety:
    """The change-safety part of a plan."""

    replacements: list[Replacement]
    record_exists: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "recorded": self.record_exists,
            "replacements": [r.as_json() for r in self.replacements],
        }

    def render_text(self, stack_name: str) -> list[str]:
        """Lines for the text plan."""
        if not self.record_exists:
            return [
                f"Change safety: no identity record for {stack_name} yet "
                f"({display_path(record_path(stack_name))}): nothing to compare against"
            ]
        if not self.replacements:
            return ["Change safety: no stateful resource is replaced or deleted"]
        lines = [
            f"Change safety: {len(self.replacements)} change(s) would replace or delete "
            "stateful resources (their data is lost):"
        ]
        for r in self.replacements:
            name = r.urn.rsplit("::", 1)[-1]
            if r.property == DELETED:
                lines.append(f"  {name} ({r.type}): deleted")
            else:
                lines.append(f"  {name} ({r.type}): {r.property} {r.old!r} -> {r.new!r}")
        return lines


_MISSING = object()


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path; None where any step is absent (or not an object)."""
    value: Any = inputs
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step, _MISSING)
        if value is _MISSING:
            return None
    return value


def _resources(resources: Recording | Iterable[RecordedResource]) -> Iterable[RecordedResource]:
    return getattr(resources, "resources", resources)  # a Recording or its resources


def identity_record(resources: Recording | Iterable[RecordedResource]) -> dict[str, Any]:
    """The identity of each stateful resource, keyed by URN: JSON-ready, values exactly as
    recorded (secret placeholders and unknowns included), missing paths as null."""
    entries = {
        r.urn: {
            "type": r.type,
            "properties": {
                path: _lookup(r.inputs, path) for path in sorted(IDENTITY_PROPERTIES[r.type])
            },
        }
        for r in _resources(resources)
        if r.type in IDENTITY_PROPERTIES
    }
    return {"formatVersion": RECORD_FORMAT_VERSION, "resources": dict(sorted(entries.items()))}


def replacements(
    record: Mapping[str, Any], resources: Recording | Iterable[RecordedResource]
) -> list[Replacement]:
    """Each recorded stateful resource whose identity changed (one entry per changed path) or
    that is gone, sorted by URN. New resources are not replacements. Paths missing from the
    record (added to IDENTITY_PROPERTIES since it was written) are not compared: their old
    value is unknown."""
    current = {r.urn: r for r in _resources(resources)}
    found: list[Replacement] = []
    for urn, entry in sorted(record.get("resources", {}).items()):
        type_ = entry["type"]
        if type_ not in IDENTITY_PROPERTIES:
            continue  # no longer counted as stateful
        old_properties = entry.get("properties", {})
        resource = current.get(urn)
        if resource is None:
            found.append(Replacement(urn, type_, DELETED, dict(old_properties), None))
            continue
        for path in IDENTITY_PROPERTIES[type_]:
            if path not in old_properties:
                continue
            old, new = old_properties[path], _lookup(resource.inputs, path)
            if _changed(type_, path, old, new):
                found.append(Replacement(urn, type_, path, old, new))
    return found


def record_path(stack_name: str, root: Path | None = None) -> Path:
    """`stacks/identity/<stack>.json` under the project root (or `root`)."""
    if not stack_name or "/" in stack_name or "\\" in stack_name or stack_name.startswith("."):
        raise ValueError(f"not a stack name: {stack_name!r}")
    if root is None:
        from mlkit.stackfile import PROJECT_ROOT

        root = PROJECT_ROOT
    return root / "stacks" / "identity" / f"{stack_name}.json"


def load_record(stack_name: str, root: Path | None = None) -> dict[str, Any] | None:
    """The committed identity record of a stack; None when there is none yet (a new stack)."""
    path = record_path(stack_name, root)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from error
    if not isinstance(record, dict) or record.get("formatVersion") != RECORD_FORMAT_VERSION:
        raise ValueError(f"not an identity record of format version {RECORD_FORMAT_VERSION}")
    return record


def render_record(resources: Recording | Iterable[RecordedResource]) -> str:
    """The record file's text: deterministic (sorted keys, two-space indent), newline-ended."""
    return json.dumps(identity_record(resources), indent=2, sort_keys=True) + "\n"


def write_record(
    stack_name: str, resources: Recording | Iterable[RecordedResource], root: Path | None = None
) -> Path:
    """Write (or overwrite) the stack's identity record; returns its path."""
    path = record_path(stack_name, root)
    # Atomic: an interrupted write must not leave a half record that plan then rejects.
    write_atomically(path, render_record(resources))
    return path


def check(
    stack_name: str, resources: Recording | Iterable[RecordedResource], root: Path | None = None
) -> ChangeSafety:
    """Compare a plan's resources with the stack's committed record."""
    record = load_record(stack_name, root)
    if record is None:
        return ChangeSafety(replacements=[], record_exists=False)
    return ChangeSafety(replacements=replacements(record, resources), record_exists=True)
