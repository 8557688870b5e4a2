"""Production data stores are protected from deletion by Pulumi."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource

STATEFUL_TYPES = (
    "aws:kms/key:Key",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:dynamodb/table:Table",
    "aws:dynamodb/globalTable:GlobalTable",
    "aws:sagemaker/featureGroup:FeatureGroup",
    "aws:kinesis/stream:Stream",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:ecr/repository:Repository",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws-native:kms:Key",
    "aws-native:s3:Bucket",
    "aws-native:dynamodb:Table",
    "aws-native:dynamodb:GlobalTable",
    "aws-native:sagemaker:FeatureGroup",
    "aws-native:kinesis:Stream",
    "aws-native:logs:LogGroup",
    "aws-native:glue:Database",
    "aws-native:ecr:Repository",
    "aws-native:rds:DbInstance",
    "aws-native:rds:DbCluster",
    "aws-native:elasticache:ReplicationGroup",
)


def check(resource: Resource) -> Iterable[str]:
    if not resource.protect:
        yield "stateful resource is not protected (protect=True)"
    if resource.retain_on_delete is False:
        yield "stateful resource is not retained on delete (retain_on_delete=True)"


CONTROL = Control(
    id="aws-stateful-resources-protected-prod",
    description="In prod, keys, buckets, tables, feature groups, streams, log groups, catalog "
    "databases, image repositories, databases and caches are protected and, where the "
    "option is known, retained on delete.",
    why="A rename, a replacement or a stray `pulumi destroy` must not delete a production "
    "feature store, model registry data or the key that decrypts them. `protect` and "
    "`retain_on_delete` are Pulumi options, so no cloud-side anchor rule checks them (the "
    "CLI does not expose retain_on_delete to policies: only plan and check see it).",
    severity="high",
    mirrors=("mlkit",),
    remediation="Create the resource with modules.common.Durability options: "
    "ResourceOptions(protect=True, retain_on_delete=True) (the kit's `retain` durability).",
    resource_types=STATEFUL_TYPES,
    check=check,
    environments=("prod",),
    tags=("durability",),
)
