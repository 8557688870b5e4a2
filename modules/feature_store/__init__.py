"""Feature store: feature groups served the same way to training (offline) and inference
(online), from one definition, with a registry of owners and consumers; and the streaming
ingestion that fills them. Backends: `BACKENDS` (role `store`: `sagemaker`) and
`INGESTION_BACKENDS` (role `ingestion`: `kinesis-lambda`), contracts in `contract.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from modules.common import resource_tags
from modules.feature_store.contract import BACKENDS
from modules.feature_store.contract import INGESTION_BACKENDS as INGESTION_BACKENDS
from modules.feature_store.contract import FeatureGroups as FeatureGroups
from modules.feature_store.contract import StreamIngestion as StreamIngestion
from modules.feature_store.ingestion import StreamingIngestion as StreamingIngestion
from modules.feature_store.ingestion import StreamingIngestionArgs as StreamingIngestionArgs
from modules.platform import Platform
from modules.security import SecureBucket, SecureBucketArgs
from modules.security.iam import allow, service_role

# Settings' feature types -> SageMaker Feature Store's.
SAGEMAKER_TYPES = {"string": "String", "integral": "Integral", "fractional": "Fractional"}
KMS_DATA_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]


@dataclass(frozen=True)
class FeatureGroupSpec:
    """One feature group, as declared in the stack's settings."""

    name: str
    """Logical name (snake_case), e.g. `card_aggregates`."""
    record_identifier: str
    """Feature identifying a record."""
    event_time: str
    """Feature holding the record's event time."""
    features: Mapping[str, str]
    """Feature name -> `string` | `integral` | `fractional`, in declaration order."""
    owner: str
    """Team owning the group."""
    description: str = ""
    """What the group holds; default none."""
    online: bool = True
    """KMS-encrypted online store for low-latency reads; default True."""
    offline: bool = True
    """Iceberg offline store for training; default True."""
    ttl_days: int | None = None
    """Online record expiry; default none (records never expire)."""
    required: Sequence[str] = ()
    """Online features a scoring request cannot do without: with no online value (and no
    default) the scoring API refuses the request (422) instead of sending the model a missing
    value; default none."""


@dataclass
class FeatureStoreArgs:
    """The feature store's own args; the platform gives the account, region, key (online
    store, offline bucket, catalog data), durability and the offline bucket's lifecycle."""

    groups: Sequence[FeatureGroupSpec]
    """Feature groups to create (required)."""
    consumers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Group -> models that read it, for the registry (a change shows whom it affects);
    default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""
    adopt_existing: bool = False
    """Import each group that already exists under its deployed name instead of creating it
    (groups made by mlkit 0.1's pulumi-aws resource, or outside Pulumi); default False."""


def deployed_group_name(prefix: str, group: str) -> str:
    """`fraud-dev` + `card_aggregates` -> `fraud-dev-card-aggregates` (SageMaker allows no `_`)."""
    return f"{prefix}-{group.replace('_', '-')}"


def offline_table_name(store: str, group: str) -> str:
    """The Glue table of a group's offline store (its `DataCatalogConfig.TableName`):
    `fraud-dev-features` + `card_aggregates` -> `fraud_dev_features_card_aggregates`."""
    return deployed_group_name(store, group).replace("-", "_")


@BACKENDS.register(
    "sagemaker",
    "SageMaker feature groups (online KMS, offline Iceberg + Glue catalog) and a feature registry",
)
class FeatureStore(pulumi.ComponentResource):
    """SageMaker feature groups with KMS-encrypted online stores and Iceberg offline stores on a
    secure bucket, catalogued in a Glue database, written through a role scoped to that bucket,
    key and database; and a feature registry (groups, features, owners, consumers) published
    as `registry/feature-registry.json` in the offline bucket and as an output."""

    group_names: dict[str, pulumi.Output[str]]
    group_arns: dict[str, pulumi.Output[str]]
    offline_bucket_name: pulumi.Output[str]
    offline_s3_uri: pulumi.Output[str]
    catalog_database: pulumi.Output[str]
    registry: dict[str, Any]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: FeatureStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:feature_store:FeatureStore", name, None, opts)
        _check_groups(args.groups, args.consumers)
        tags = platform.component_tags("feature_store") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        durability, key_arn = platform.durability, platform.kms_key_arn
        region_account = pulumi.Output.concat(":", platform.region, ":", platform.account_id, ":")

        offline = SecureBucket(
            f"{name}-offline",
            SecureBucketArgs(
                kms_key_arn=key_arn,
                durability=durability,
                noncurrent_version_retention_days=platform.noncurrent_version_retention_days,
                component="feature_store",
                tags=dict(platform.tags) | dict(args.tags),
                access_log_bucket=platform.access_log_bucket_name,
            ),
            opts=child,
        )
        offline_uri = pulumi.Output.concat("s3://", offline.bucket_name, "/offline-store")
        database = aws.glue.CatalogDatabase(
            f"{name}-catalog",
            name=f"{name.replace('-', '_')}_catalog",
            description=f"mlkit offline feature store of {name}",
            tags=resource_tags(f"{name}-catalog", tags),
            opts=durability.options(self),
        )
        catalog_arn = pulumi.Output.concat("arn:aws:glue", region_account, "catalog")
        database_arn = pulumi.Output.concat(
            "arn:aws:glue", region_account, "database/", database.name
        )
        tables_arn = pulumi.Output.concat(
            "arn:aws:glue", region_account, "table/", database.name, "/*"
        )
        role = service_role(
            f"{name}-offline-role",
            service="sagemaker.amazonaws.com",
            account_id=platform.account_id,
            statements=[
                # What AWS's AmazonSageMakerFeatureStoreAccess grants: Feature Store writes
                # offline-store objects with an ACL and checks the bucket's ACL first.
                allow(
                    ["s3:GetBucketAcl", "s3:ListBucket"], [offline.bucket_arn], sid="OfflineStore"
                ),
                allow(
                    ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
                    [pulumi.Output.concat(offline.bucket_arn, "/*")],
                    sid="OfflineStoreData",
                ),
                allow(KMS_DATA_ACTIONS, [key_arn], sid="StackKey"),
                allow(
                    ["glue:CreateTable", "glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"],
                    [catalog_arn, database_arn, tables_arn],
                    sid="OfflineStoreCatalog",
                ),
            ],
            tags=tags,
            parent=self,
        )

        self.group_names, self.group_arns = {}, {}
        for spec in args.groups:
            group_name = deployed_group_name(name, spec.name)
            group = aws_native.sagemaker.FeatureGroup(
                f"{name}-{spec.name.replace('_', '-')}",
                feature_group_name=group_name,
                description=spec.description or None,
                record_identifier_feature_name=spec.record_identifier,
                event_time_feature_name=spec.event_time,
                feature_definitions=feature_definitions(spec),
                online_store_config=_online_store(spec, key_arn),
                offline_store_config=_offline_store(
                    spec, group_name, offline_uri, key_arn, database.name
                ),
                role_arn=role.arn,
                tags=[
                    {"key": k, "value": v}
                    for k, v in resource_tags(
                        group_name, tags, {"mlkit:feature-owner": spec.owner}
                    ).items()
                ],
                opts=pulumi.ResourceOptions.merge(
                    durability.options(self),
                    pulumi.ResourceOptions(
                        provider=platform.aws_native_provider(),
                        depends_on=[role.policy],
                        # CloudFormation replaces a feature group whose tags change (they are
                        # create-only), which deletes its data: tags are set at creation.
                        ignore_changes=["tags"],
                        # Adopt a group that exists under this name (made by pulumi-aws in
                        # mlkit 0.1, or outside Pulumi); a no-op once it is in the state.
                        import_=group_name if args.adopt_existing else None,
                    ),
                ),
            )
            self.group_names[spec.name] = group.feature_group_name
            # The aws-native resource has no ARN output; SageMaker ARNs name the resource in
            # lower case. Built from the name output, so readers still wait for the group.
            self.group_arns[spec.name] = pulumi.Output.concat(
                "arn:aws:sagemaker", region_account, "feature-group/", group.feature_group_name
            ).apply(str.lower)

        self.registry = feature_registry(name, args.groups, args.consumers)
        aws.s3.BucketObjectv2(
            f"{name}-registry",
            bucket=offline.bucket_name,
            key="registry/feature-registry.json",
            content=pulumi.Output.json_dumps(self.registry),
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=key_arn,
            tags=resource_tags(f"{name}-registry", tags),
            opts=child,
        )
        self.offline_bucket_name = offline.bucket_name
        self.offline_s3_uri = offline_uri
        self.catalog_database = database.name
        self.register_outputs(
            {
                "group_names": self.group_names,
                "group_arns": self.group_arns,
                "offline_bucket_name": self.offline_bucket_name,
                "offline_s3_uri": self.offline_s3_uri,
                "catalog_database": self.catalog_database,
                "registry": self.registry,
            }
        )


def feature_definitions(spec: FeatureGroupSpec) -> list[dict[str, str]]:
    """The group's definitions in a canonical order (by name): reordering features in the
    stack file changes nothing, and a new feature is an addition wherever it is written."""
    return [
        {"feature_name": feature, "feature_type": SAGEMAKER_TYPES[spec.features[feature]]}
        for feature in sorted(spec.features)
    ]


def _online_store(spec: FeatureGroupSpec, key_arn: pulumi.Input[str]) -> dict[str, Any] | None:
    if not spec.online:
        return None
    store: dict[str, Any] = {
        "enable_online_store": True,
        "security_config": {"kms_key_id": key_arn},
    }
    if spec.ttl_days:
        store["ttl_duration"] = {"unit": "Days", "value": spec.ttl_days}
    return store


def _offline_store(
    spec: FeatureGroupSpec,
    group_name: str,
    offline_uri: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    database: pulumi.Input[str],
) -> dict[str, Any] | None:
    if not spec.offline:
        return None
    return {
        "s3_storage_config": {"s3_uri": offline_uri, "kms_key_id": key_arn},
        "data_catalog_config": {
            "catalog": "AwsDataCatalog",
            "database": database,
            "table_name": group_name.replace("-", "_"),
        },
        "table_format": "Iceberg",
    }


def _check_groups(groups: Sequence[FeatureGroupSpec], consumers: Mapping[str, Any]) -> None:
    names = [group.name for group in groups]
    if not names or len(set(names)) != len(names):
        raise ValueError("feature groups must be non-empty and uniquely named")
    unknown = sorted(set(consumers) - set(names))
    if unknown:
        raise ValueError(f"consumers name unknown feature groups {unknown}")
    for group in groups:
        if group.record_identifier not in group.features or group.event_time not in group.features:
            raise ValueError(f"{group.name}: record identifier and event time must be features")
        bad = sorted({kind for kind in group.features.values()} - set(SAGEMAKER_TYPES))
        if bad:
            raise ValueError(f"{group.name}: unknown feature types {bad}")


def feature_registry(
    prefix: str, groups: Sequence[FeatureGroupSpec], consumers: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Which groups exist, who owns them, which features they hold and which models consume
    them: the document a feature change is checked against."""
    return {
        "featureGroups": [
            {
                "name": group.name,
                "deployedName": deployed_group_name(prefix, group.name),
                "owner": group.owner,
                "description": group.description,
                "recordIdentifier": group.record_identifier,
                "eventTime": group.event_time,
                "stores": [
                    s for s, on in (("online", group.online), ("offline", group.offline)) if on
                ],
                "features": [
                    {"name": n, "type": group.features[n]} for n in sorted(group.features)
                ],
                "consumers": sorted(consumers.get(group.name, [])),
            }
            for group in groups
        ]
    }


def model_input_schema(
    groups: Sequence[FeatureGroupSpec],
    references: Sequence[str],
    deployed_names: Mapping[str, str],
    defaults: Mapping[str, Mapping[str, int | float]] | None = None,
) -> dict[str, Any]:
    """The model's published input schema (the scoring API's MODEL_SCHEMA), derived from the
    feature-group definitions: features of offline-only groups arrive in the request; those
    of online groups are read from the online store by the group's record identifier, which
    the request must then carry. `order` is the model's feature order (`references`).

    An online feature without a value takes its default (`defaults`); without one it reaches
    the model as a missing value, as the training data set leaves it, unless its group lists
    it as `required` (then the request is refused). A default wins over `required`: a feature
    with a default is never missing."""
    by_name = {group.name: group for group in groups}
    for group in groups:
        unknown = sorted(set(group.required) - set(group.features))
        if unknown:
            raise ValueError(f"{group.name}: required names unknown features {unknown}")
    request: dict[str, str] = {}
    lookups: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for reference in references:
        group_name, _, feature = reference.partition(".")
        group = by_name[group_name]
        if feature in order:
            raise ValueError(f"model feature name '{feature}' appears in two groups")
        order.append(feature)
        if not group.online:
            request[feature] = group.features[feature]
            continue
        lookup = lookups.setdefault(
            group_name,
            {
                "featureGroup": deployed_names[group_name],
                "key": group.record_identifier,
                "features": [],
                "defaults": {},
                "required": [],
            },
        )
        lookup["features"].append({"name": feature, "type": group.features[feature]})
        default = (defaults or {}).get(group_name, {}).get(feature)
        if default is not None:
            lookup["defaults"][feature] = default
        elif feature in group.required:
            lookup["required"].append(feature)
    for group_name in lookups:
        key = by_name[group_name].record_identifier
        request.setdefault(key, by_name[group_name].features[key])
    return {
        "request": [{"name": name, "type": kind} for name, kind in request.items()],
        "lookups": list(lookups.values()),
        "order": order,
    }
