"""Training: the image repository and the SageMaker training pipeline with its evaluation gate.

The pipeline definition is generated once with the sagemaker SDK into
`functions/training/pipeline.json` (`python -m functions.training.build_pipeline`); this
module fills in the stack's values, so the plan never imports the SDK. Backends: `BACKENDS`
(role `pipeline`: `sagemaker`, the classifier with its AUC gate) and `RANKING_BACKENDS`
(role `ranking`: `sagemaker`, a recommender's pipeline in `ranking.py`), contracts in
`contract.py`.

The data set is built by Athena (engine v3) over the offline store's Glue tables and a Glue
table over the ground-truth labels, in a workgroup of this component; each registered model
version's monitoring baseline is published to
`s3://<artifacts>/monitoring/baselines/<model package ARN>/`
(`functions.training.definition.monitoring_baseline_uri`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.training.definition import (
    CODE_FILES,
    FEATURE_GROUPS,
    MONITORING_BASELINES_PREFIX,
    NETWORKED_STEPS,
    TABLE_PARAMETERS,
    load_template,
    render_definition,
)
from modules.athena import ATHENA_QUERY_ACTIONS, athena_workgroup
from modules.athena import workgroup_arn as athena_workgroup_arn
from modules.common import resource_tags
from modules.pipelines import sagemaker_pipeline, upload_code
from modules.platform import Platform
from modules.security.iam import (
    SAGEMAKER_ARTIFACT_ACTIONS,
    SAGEMAKER_KEY_ACTIONS,
    allow,
    pass_own_role,
    sagemaker_job_statements,
    service_role,
)
from modules.security.iam import image_repository_arn as image_repository_arn
from modules.training.contract import BACKENDS
from modules.training.contract import TrainingPipeline as TrainingPipeline

JOB_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTrainingJob",
]
# Keep the last tagged images; untagged layers from failed pushes expire.
IMAGE_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire untagged images after 14 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep the 50 most recent tagged images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
            "action": {"type": "expire"},
        },
    ]
}


OFFLINE_GROUPS = FEATURE_GROUPS
"""Feature groups whose offline-store tables the data set is built from (`offline_tables`)."""
BASE_GROUP = FEATURE_GROUPS[0]
"""The group the others are joined to; its record identifier keys the labels."""
ATHENA_RESULTS_PREFIX = "training/athena-results/"
"""Key prefix of the workgroup's enforced query results location in the artifacts bucket
(for an UNLOAD, Athena writes only the query's metadata and manifest files there)."""
ATHENA_RESULTS_EXPIRY_DAYS = 7
"""The platform base expires objects under ATHENA_RESULTS_PREFIX after this many days (one
lifecycle configuration per bucket: the artifacts bucket's own, see blueprints/_base.py)."""
LABELS_PREFIX = "ground-truth/labels/"
"""Key prefix of the ground-truth CSV files (`<record id>,<label>`, a header row allowed) in
the artifacts bucket, under the labels table."""
LABELS_TABLE = "labels"
LABELS_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
LABELS_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
LABELS_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
CATALOG_READ_ACTIONS = [
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetPartitions",
    "glue:GetTable",
]

# images.json key -> the pipeline parameter that takes it.
IMAGE_PARAMETERS = {
    "processing": "ProcessingImageUri",
    "training": "TrainingImageUri",
    "monitoring": "MonitoringImageUri",
}


@dataclass
class TrainingArgs:
    """The pipeline's own args; the platform gives the account, region, key (volumes,
    outputs, code, image repository), the durability of the repository, the artifacts bucket
    (code under `training/code/`, data sets and models under `training/`) and the private
    subnets and security groups the jobs run in."""

    offline_bucket_arn: pulumi.Input[str]
    """Offline feature store bucket the data set is built from (read only, by Athena)."""
    offline_database: pulumi.Input[str]
    """Glue database of the offline store's tables (the feature store's `catalog_database`)."""
    offline_tables: Mapping[str, pulumi.Input[str]]
    """Feature group (exactly `OFFLINE_GROUPS`) -> its offline-store Glue table (the feature
    group's `offlineStoreConfig.dataCatalogConfig.tableName`)."""
    feature_schema: Mapping[str, Any]
    """`{featureGroups, label, order}`: the data set is built and validated with it; the
    labels table's columns are the `transactions` group's `recordIdentifier` and `label`."""
    model_package_group_name: pulumi.Input[str]
    """Registry group receiving candidates that pass the gate."""
    model_package_group_arn: pulumi.Input[str]
    """Its ARN."""
    images: Mapping[str, str]
    """`processing`, `training` and `monitoring` image URIs for the region (images.json)."""
    auc_threshold: float = 0.85
    """Evaluation gate: minimum validation AUC to register a model; default 0.85."""
    training_instance_type: str = "ml.m5.xlarge"
    """Training job instance type; default `ml.m5.xlarge`."""
    processing_instance_type: str = "ml.m5.large"
    """Processing job instance type; default `ml.m5.large`."""
    training_window_days: int = 90
    """Days of labelled transactions per data set; default 90."""
    athena_scan_limit_gb: int = 1000
    """Athena cancels a data-set query that scans more than this many GB (10^9 bytes; the
    workgroup's per-query data usage control); default 1000."""
    code_version: str = "unknown"
    """Commit of the kit, recorded on every registered model; default `unknown`."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""


@BACKENDS.register(
    "sagemaker",
    "SageMaker pipeline (point-in-time data set by Athena, validate, train, evaluate, AUC "
    "gate, register, per-version baseline) in the VPC; ECR repository",
)
class Training(pulumi.ComponentResource):
    """An ECR repository (immutable tags, scan on push, KMS) for custom images, the job code
    and feature schema in the artifacts bucket, an Athena workgroup (engine v3, enforced
    KMS-encrypted results, a per-query scan limit), a Glue table over the ground-truth labels,
    a role scoped to them, and the training pipeline: build a point-in-time-correct data set
    from the offline store with Athena -> validate it against the feature schema -> train ->
    evaluate -> register the model as PendingManualApproval only if its AUC reaches the
    threshold -> publish that version's monitoring baseline under its package ARN. Every job
    runs in the VPC's private subnets with encrypted volumes and inter-container traffic,
    network-isolated except BuildDataset (`NETWORKED_STEPS`), which calls Athena through the
    VPC's `athena` interface endpoint."""

    pipeline_name: pulumi.Output[str]
    pipeline_arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: TrainingArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:training:Training", name, None, opts)
        if not 0.5 < args.auc_threshold <= 1:
            raise ValueError("auc_threshold must be above 0.5 (chance) and at most 1")
        if set(args.images) != set(IMAGE_PARAMETERS):
            raise ValueError(f"images needs exactly {sorted(IMAGE_PARAMETERS)}")
        if set(args.offline_tables) != set(OFFLINE_GROUPS):
            raise ValueError(f"offline_tables needs exactly the groups {sorted(OFFLINE_GROUPS)}")
        label_columns = labels_columns(args.feature_schema)
        tags = platform.component_tags("training") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        durability, key_arn = platform.durability, platform.kms_key_arn
        bucket = platform.artifacts_bucket_arn
        artifacts_uri = pulumi.Output.concat("s3://", platform.artifacts_bucket_name)
        prefix = pulumi.Output.concat(artifacts_uri, "/training")
        region_account = pulumi.Output.concat(":", platform.region, ":", platform.account_id, ":")

        repository = aws.ecr.Repository(
            f"{name}-images",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            force_delete=durability.force_destroy,
            tags=resource_tags(f"{name}-images", tags),
            opts=durability.options(self),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-images-lifecycle",
            repository=repository.name,
            policy=json.dumps(IMAGE_LIFECYCLE, sort_keys=True),
            opts=child,
        )
        code_objects = upload_code(
            name, platform, paths=CODE_FILES, key_prefix="training/code/", tags=tags, parent=self
        )
        schema_object = aws.s3.BucketObjectv2(
            f"{name}-feature-schema",
            bucket=platform.artifacts_bucket_name,
            key="training/feature-schema.json",
            content=json.dumps(args.feature_schema, sort_keys=True),
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=key_arn,
            tags=resource_tags(f"{name}-feature-schema", tags),
            opts=child,
        )

        # Athena: the data-set query runs here, whatever the caller asks for (enforced).
        workgroup = athena_workgroup(
            name,
            platform,
            description=f"mlkit training data sets of {name} (point-in-time joins, UNLOAD)",
            results_prefix=ATHENA_RESULTS_PREFIX,
            scan_limit_gb=args.athena_scan_limit_gb,
            tags=tags,
            parent=self,
        )
        workgroup_arn = athena_workgroup_arn(platform, workgroup)
        # The labels get a database of their own: the feature store's catalog is that
        # component's (its writer role may create and update every table in it), and the
        # labels belong to training whichever feature store backend a stack uses.
        labels_database = aws.glue.CatalogDatabase(
            f"{name}-labels",
            name=f"{name.replace('-', '_')}_labels",
            description=f"mlkit ground-truth labels of {name} (CSV in the artifacts bucket)",
            tags=resource_tags(f"{name}-labels", tags),
            opts=durability.options(self),
        )
        labels_table = aws.glue.CatalogTable(
            f"{name}-labels-table",
            name=LABELS_TABLE,
            database_name=labels_database.name,
            description="Ground truth: <record id>,<label> per line, a header row allowed",
            table_type="EXTERNAL_TABLE",
            parameters={"EXTERNAL": "TRUE", "classification": "csv"},
            storage_descriptor={
                "location": pulumi.Output.concat(artifacts_uri, "/", LABELS_PREFIX),
                "input_format": LABELS_INPUT_FORMAT,
                "output_format": LABELS_OUTPUT_FORMAT,
                "ser_de_info": {
                    "serialization_library": LABELS_SERDE,
                    "parameters": {"field.delim": ",", "serialization.format": ","},
                },
                "columns": [{"name": column, "type": "string"} for column in label_columns],
            },
            # Metadata only: recreating it loses nothing (the CSV files stay in S3).
            opts=child,
        )
        glue_arn = pulumi.Output.concat("arn:aws:glue", region_account)
        catalog_tables = [
            pulumi.Output.concat(
                glue_arn, "table/", args.offline_database, "/", args.offline_tables[g]
            )
            for g in OFFLINE_GROUPS
        ]
        image_repositories = sorted({image_repository_arn(uri) for uri in args.images.values()})
        role = service_role(
            f"{name}-role",
            service="sagemaker.amazonaws.com",
            account_id=platform.account_id,
            statements=[
                allow(
                    SAGEMAKER_ARTIFACT_ACTIONS,
                    [pulumi.Output.concat(bucket, "/training/*")],
                    sid="TrainingArtifacts",
                ),
                allow(
                    ["s3:PutObject"],
                    [pulumi.Output.concat(bucket, "/", MONITORING_BASELINES_PREFIX, "/*")],
                    sid="MonitoringBaselines",
                ),
                allow(
                    ["s3:GetObject"],
                    [pulumi.Output.concat(bucket, "/ground-truth/*")],
                    sid="Labels",
                ),
                allow(
                    ["s3:GetObject"],
                    [pulumi.Output.concat(args.offline_bucket_arn, "/*")],
                    sid="OfflineFeatures",
                ),
                allow(["s3:ListBucket"], [bucket, args.offline_bucket_arn], sid="ListData"),
                allow(
                    ["s3:GetBucketLocation"],
                    [bucket, args.offline_bucket_arn],
                    sid="BucketLocation",
                ),
                allow(ATHENA_QUERY_ACTIONS, [workgroup_arn], sid="AthenaQueries"),
                allow(
                    CATALOG_READ_ACTIONS,
                    [
                        pulumi.Output.concat(glue_arn, "catalog"),
                        pulumi.Output.concat(glue_arn, "database/", args.offline_database),
                        pulumi.Output.concat(glue_arn, "database/", labels_database.name),
                        *catalog_tables,
                        pulumi.Output.concat(
                            glue_arn, "table/", labels_database.name, "/", labels_table.name
                        ),
                    ],
                    sid="CatalogTables",
                ),
                allow(SAGEMAKER_KEY_ACTIONS, [key_arn], sid="Key"),
                allow(
                    JOB_ACTIONS,
                    [
                        pulumi.Output.concat("arn:aws:sagemaker", region_account, kind)
                        for kind in ("processing-job/*", "training-job/*")
                    ],
                    sid="Jobs",
                ),
                # Registering a candidate needs rights on the group and on its packages, and
                # the RegisterModel step tags the package it creates.
                allow(
                    ["sagemaker:AddTags", "sagemaker:CreateModelPackage"],
                    [
                        pulumi.Output.concat(
                            "arn:aws:sagemaker",
                            region_account,
                            "model-package/",
                            args.model_package_group_name,
                            "/*",
                        ),
                        args.model_package_group_arn,
                    ],
                    sid="RegisterCandidates",
                ),
                allow(
                    ["sagemaker:DescribeModelPackageGroup"],
                    [args.model_package_group_arn],
                    sid="Registry",
                ),
                pass_own_role(platform.account_id, f"{name}-role", sid="PassOwnRoleToJobs"),
                *sagemaker_job_statements(
                    region=platform.region,
                    account_id=platform.account_id,
                    create_log_groups=not platform.sagemaker_job_log_groups,
                    image_repository_arns=[*image_repositories, repository.arn],
                ),
            ],
            tags=tags,
            parent=self,
        )
        defaults: dict[str, pulumi.Input[Any]] = {
            "ArtifactsS3Uri": prefix,
            "CodeS3Uri": pulumi.Output.concat(prefix, "/code"),
            "FeatureSchemaS3Uri": pulumi.Output.concat(prefix, "/feature-schema.json"),
            "AthenaWorkGroup": workgroup.name,
            "OfflineStoreDatabase": args.offline_database,
            **{TABLE_PARAMETERS[g]: args.offline_tables[g] for g in OFFLINE_GROUPS},
            "LabelsDatabase": labels_database.name,
            "LabelsTable": labels_table.name,
            "TrainingWindowDays": args.training_window_days,
            "ProcessingInstanceType": args.processing_instance_type,
            "TrainingInstanceType": args.training_instance_type,
            **{parameter: args.images[key] for key, parameter in IMAGE_PARAMETERS.items()},
            "MonitoringBaselinesS3Uri": pulumi.Output.concat(
                artifacts_uri, "/", MONITORING_BASELINES_PREFIX
            ),
            "AucThreshold": args.auc_threshold,
            "ModelPackageGroupName": args.model_package_group_name,
            "CodeVersion": args.code_version,
        }
        pipeline = sagemaker_pipeline(
            name,
            platform,
            render=render_definition,
            template=load_template(),
            role=role,
            parameter_defaults=defaults,
            description="Fraud model: data set (Athena) -> validate -> train -> "
            "evaluate -> gate -> register -> publish the version's baseline",
            tags=tags,
            parent=self,
            depends_on=[*code_objects, schema_object],
            athena_steps=NETWORKED_STEPS,
        )
        self.pipeline_name = pipeline.pipeline_name
        self.pipeline_arn = pipeline.arn
        self.repository_url = repository.repository_url
        self.register_outputs(
            {
                "pipeline_name": self.pipeline_name,
                "pipeline_arn": self.pipeline_arn,
                "repository_url": self.repository_url,
            }
        )


def labels_columns(feature_schema: Mapping[str, Any]) -> tuple[str, str]:
    """The labels table's columns: the base group's record identifier and the label. Raises
    ValueError when the schema names neither."""
    groups = {g.get("name"): g for g in feature_schema.get("featureGroups", [])}
    record_id = (groups.get(BASE_GROUP) or {}).get("recordIdentifier")
    label = feature_schema.get("label")
    if not record_id or not label:
        raise ValueError(
            f"feature_schema needs the {BASE_GROUP} group with its recordIdentifier, and a label"
        )
    if record_id == label:
        raise ValueError("feature_schema's label must differ from the record identifier")
    return str(record_id), str(label)


# The ranking role's backends register on import.
from modules.training.contract import RANKING_BACKENDS as RANKING_BACKENDS  # noqa: E402
from modules.training.contract import RankingPipeline as RankingPipeline  # noqa: E402
from modules.training.ranking import RankingTraining as RankingTraining  # noqa: E402
from modules.training.ranking import RankingTrainingArgs as RankingTrainingArgs  # noqa: E402
