"""Batch feature materialization: SQL on Athena from a data lake into offline feature groups,
on a schedule.

The lake is a secure bucket with a Glue database; each source is an external JSON-lines table
partitioned by day (`dt=yyyy-MM-dd/`) with partition projection, so new days are queryable
without a crawler or `MSCK REPAIR`. Each query is one `INSERT INTO` an offline-only group's
Iceberg table, started by EventBridge Scheduler calling Athena's StartQueryExecution directly
(no function or job in between: Athena is the engine, as for the training sets). A failed or
cancelled query of the workgroup reaches the alert topic through an EventBridge rule.

Athena runs a query with its caller's permissions: the scheduler's role therefore holds what
the queries need (read the lake, write the groups' tables and offline-store objects, the
stack key), and nothing else. Retries of one scheduled run reuse its idempotency token
(`ClientRequestToken`, built from the schedule's scheduled time), so a retried start does not
insert twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.athena import ATHENA_QUERY_ACTIONS, athena_workgroup, workgroup_arn
from modules.common import resource_tags
from modules.platform import Platform
from modules.schedules import schedule, schedule_group, scheduler_role
from modules.security import SecureBucket, SecureBucketArgs
from modules.security.iam import allow

ATHENA_START_QUERY_TARGET = "arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"
"""Scheduler's universal target for Athena's StartQueryExecution."""
RESULTS_PREFIX = "features/athena-results/"
"""Scratch prefix of the artifacts bucket for the workgroup's results (an INSERT writes only
its metadata there); the platform base expires it (`MATERIALIZATION_EXPIRATIONS`)."""
RESULTS_EXPIRY_DAYS = 7
MATERIALIZATION_EXPIRATIONS = {RESULTS_PREFIX: RESULTS_EXPIRY_DAYS}
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
CLIENT_TOKEN_LENGTH = (32, 128)
"""Athena's bounds on ClientRequestToken; the scheduled time adds 20 characters."""
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PROJECTION_START = "2020-01-01"
"""First day partition projection considers (queries filter on `dt`, so only the days they
name are listed)."""
ICEBERG_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject"]
CATALOG_READ_ACTIONS = ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable"]


def lake_database_name(name: str) -> str:
    """The Glue database of the lake of materialization `name` (`a-b` -> `a_b_lake`)."""
    return f"{name.replace('-', '_')}_lake"


@dataclass(frozen=True)
class LakeTable:
    """A source table of the lake: JSON lines under `s3://<lake>/<name>/dt=yyyy-MM-dd/`."""

    name: str
    """Table and key prefix, e.g. `interactions`."""
    columns: Mapping[str, str]
    """Column -> Hive type (`string`, `double`, `bigint`, ...), in file order; `dt` is the
    partition column and must not be listed."""
    description: str = ""


@dataclass(frozen=True)
class MaterializationQuery:
    """One feature group filled by one SQL statement."""

    name: str
    """Schedule name suffix, e.g. `user-features`."""
    sql: pulumi.Input[str]
    """The statement (an INSERT INTO the group's offline table), rendered for this stack."""
    target_table: pulumi.Input[str]
    """Glue table of the group's offline store that the statement writes."""


@dataclass
class AthenaMaterializationArgs:
    """The materialization's own args; the platform gives the key, the artifacts bucket (the
    workgroup's results), the alert topic and the durability of the lake."""

    sources: Sequence[LakeTable]
    """Tables of the lake the queries read."""
    queries: Sequence[MaterializationQuery]
    """Statements run on each schedule, one schedule each."""
    feature_database: pulumi.Input[str]
    """Glue database of the offline store (the feature store's `catalog_database`)."""
    offline_bucket_name: pulumi.Input[str]
    """Bucket of the offline store (the groups' tables' data and metadata)."""
    schedule_expression: str = "cron(0 2 * * ? *)"
    """When the queries start (UTC); default daily at 02:00."""
    scan_limit_gb: int = 100
    """Athena cancels a query scanning more than this many GB; default 100 (about $0.50)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""


class AthenaMaterialization(pulumi.ComponentResource):
    """The lake (`<name>-lake` secure bucket, `<name>_lake` Glue database, one projected table
    per source), an Athena workgroup `<name>`, a schedule per query and the alert rule."""

    lake_bucket_name: pulumi.Output[str]
    lake_database: pulumi.Output[str]
    workgroup_name: pulumi.Output[str]
    source_tables: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: AthenaMaterializationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:feature_store:AthenaMaterialization", name, None, opts)
        if not args.sources or not args.queries:
            raise ValueError("materialization needs at least one source and one query")
        if len({q.name for q in args.queries}) != len(args.queries):
            raise ValueError("two materialization queries share a name")
        for source in args.sources:
            if "dt" in source.columns or not source.columns:
                raise ValueError(f"source {source.name}: list its columns, without dt")
        token_prefix = f"{name}-"
        tags = platform.component_tags("feature_store") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        region_account = pulumi.Output.concat(":", platform.region, ":", platform.account_id, ":")
        glue_arn = pulumi.Output.concat("arn:aws:glue", region_account)

        lake = SecureBucket(
            f"{name}-lake",
            SecureBucketArgs(
                kms_key_arn=platform.kms_key_arn,
                durability=platform.durability,
                noncurrent_version_retention_days=platform.noncurrent_version_retention_days,
                component="feature_store",
                tags=dict(platform.tags) | dict(args.tags),
                access_log_bucket=platform.access_log_bucket_name,
            ),
            opts=child,
        )
        database = aws.glue.CatalogDatabase(
            f"{name}-lake-catalog",
            name=lake_database_name(name),
            description=f"mlkit data lake of {name} (raw events the features are computed from)",
            tags=resource_tags(f"{name}-lake-catalog", tags),
            opts=platform.durability.options(self),
        )
        self.source_tables = {}
        for source in args.sources:
            location = pulumi.Output.concat("s3://", lake.bucket_name, f"/{source.name}/")
            table = aws.glue.CatalogTable(
                f"{name}-{source.name.replace('_', '-')}-table",
                name=source.name,
                database_name=database.name,
                description=source.description or None,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "EXTERNAL": "TRUE",
                    "classification": "json",
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{PROJECTION_START},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "storage.location.template": pulumi.Output.concat(location, "dt=${dt}/"),
                },
                partition_keys=[{"name": "dt", "type": "string"}],
                storage_descriptor={
                    "location": location,
                    "input_format": TEXT_INPUT_FORMAT,
                    "output_format": TEXT_OUTPUT_FORMAT,
                    "ser_de_info": {"serialization_library": JSON_SERDE},
                    "columns": [{"name": c, "type": t} for c, t in source.columns.items()],
                },
                # Metadata only: recreating it loses nothing (the objects stay in the lake).
                opts=child,
            )
            self.source_tables[source.name] = table.name

        workgroup = athena_workgroup(
            name,
            platform,
            description=f"mlkit feature materialization of {name} (INSERT INTO offline groups)",
            results_prefix=RESULTS_PREFIX,
            scan_limit_gb=args.scan_limit_gb,
            tags=tags,
            parent=self,
        )
        offline_arn = pulumi.Output.concat("arn:aws:s3:::", args.offline_bucket_name)
        results_arn = pulumi.Output.concat(platform.artifacts_bucket_arn, "/", RESULTS_PREFIX, "*")
        group = schedule_group(
            name,
            platform,
            purpose=f"A materialization schedule of {name} could not start its Athena query "
            "after its retries",
            tags=tags,
            parent=self,
        )
        role = scheduler_role(
            f"{name}-scheduler-role",
            platform,
            group_name=name,
            statements=[
                allow(ATHENA_QUERY_ACTIONS, [workgroup_arn(platform, workgroup)], sid="Queries"),
                allow(
                    CATALOG_READ_ACTIONS,
                    [
                        pulumi.Output.concat(glue_arn, "catalog"),
                        pulumi.Output.concat(glue_arn, "database/", database.name),
                        pulumi.Output.concat(glue_arn, "database/", args.feature_database),
                        *[
                            pulumi.Output.concat(glue_arn, "table/", database.name, "/", table)
                            for table in self.source_tables.values()
                        ],
                        *[
                            pulumi.Output.concat(
                                glue_arn, "table/", args.feature_database, "/", q.target_table
                            )
                            for q in args.queries
                        ],
                    ],
                    sid="Catalog",
                ),
                # An Iceberg INSERT commits by pointing the table at its new metadata file.
                allow(
                    ["glue:UpdateTable"],
                    [
                        pulumi.Output.concat(glue_arn, "catalog"),
                        pulumi.Output.concat(glue_arn, "database/", args.feature_database),
                        *[
                            pulumi.Output.concat(
                                glue_arn, "table/", args.feature_database, "/", q.target_table
                            )
                            for q in args.queries
                        ],
                    ],
                    sid="CommitGroups",
                ),
                allow(["s3:GetObject"], [pulumi.Output.concat(lake.bucket_arn, "/*")], sid="Lake"),
                allow(
                    ["s3:GetBucketLocation", "s3:ListBucket"],
                    [lake.bucket_arn, offline_arn, platform.artifacts_bucket_arn],
                    sid="Buckets",
                ),
                allow(
                    [*ICEBERG_WRITE_ACTIONS, "s3:PutObject"],
                    [pulumi.Output.concat(offline_arn, "/offline-store/*")],
                    sid="OfflineStore",
                ),
                allow(
                    ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                    [results_arn],
                    sid="Results",
                ),
                allow(["kms:Decrypt", "kms:GenerateDataKey"], [platform.kms_key_arn], sid="Key"),
            ],
            tags=tags,
            parent=self,
        )
        for query in args.queries:
            token = f"{token_prefix}{query.name}-{SCHEDULED_TIME}"
            low, high = CLIENT_TOKEN_LENGTH
            size = len(token) - len(SCHEDULED_TIME) + len("2026-01-01T00:00:00Z")
            if not low <= size <= high:
                raise ValueError(
                    f"query {query.name}: idempotency token of {size} characters; Athena "
                    f"takes {low}-{high} (lengthen or shorten the names)"
                )
            schedule(
                f"{name}-{query.name}",
                platform,
                group=group,
                expression=args.schedule_expression,
                description=f"Materializes {query.name} of {name} with Athena",
                target={
                    "arn": ATHENA_START_QUERY_TARGET,
                    "role_arn": role.arn,
                    "input": pulumi.Output.json_dumps(
                        {
                            "QueryString": query.sql,
                            "WorkGroup": workgroup.name,
                            "QueryExecutionContext": {
                                "Catalog": "AwsDataCatalog",
                                "Database": args.feature_database,
                            },
                            "ClientRequestToken": token,
                        }
                    ),
                },
                parent=self,
            )
        failed = aws.cloudwatch.EventRule(
            f"{name}-failed",
            description=f"Failed or cancelled feature materialization queries of {name}",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.athena"],
                    "detail-type": ["Athena Query State Change"],
                    "detail": {
                        "currentState": ["FAILED", "CANCELLED"],
                        "workgroupName": [workgroup.name],
                    },
                }
            ),
            tags=resource_tags(f"{name}-failed", tags),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-failed-alert",
            rule=failed.name,
            arn=platform.alert_topic_arn,
            opts=child,
        )
        self.lake_bucket_name = lake.bucket_name
        self.lake_database = database.name
        self.workgroup_name = workgroup.name
        self.register_outputs(
            {
                "lake_bucket_name": self.lake_bucket_name,
                "lake_database": self.lake_database,
                "workgroup_name": self.workgroup_name,
                "source_tables": self.source_tables,
            }
        )
