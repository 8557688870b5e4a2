"""Training: the image repository and the SageMaker training pipeline with its evaluation gate.

The pipeline definition is generated once with the sagemaker SDK into
`functions/training/pipeline.json` (`python -m functions.training.build_pipeline`); this
module fills in the stack's values, so the plan never imports the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.training.definition import SCRIPTS_DIR, load_template, render_definition
from modules.common import Durability, resource_tags
from modules.security.iam import allow, sagemaker_job_statements, service_role

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


# images.json key -> the pipeline parameter that takes it.
IMAGE_PARAMETERS = {
    "processing": "ProcessingImageUri",
    "training": "TrainingImageUri",
    "monitoring": "MonitoringImageUri",
}


def image_repository_arn(image_uri: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` -> the repository's ARN."""
    registry, _, path = image_uri.partition("/")
    account, _, rest = registry.partition(".dkr.ecr.")
    region = rest.split(".amazonaws.com")[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{path.split(':')[0]}"


@dataclass
class TrainingArgs:
    account_id: pulumi.Input[str]
    """Account of the stack."""
    region: str
    """Region of the stack."""
    kms_key_arn: pulumi.Input[str]
    """Key for volumes, outputs, code and the image repository."""
    durability: Durability
    """Durability of the image repository."""
    artifacts_bucket_name: pulumi.Input[str]
    """Secure bucket for code (`training/code/`), data sets and models (`training/`)."""
    artifacts_bucket_arn: pulumi.Input[str]
    """Its ARN."""
    offline_bucket_arn: pulumi.Input[str]
    """Offline feature store bucket the data set is built from (read only)."""
    offline_group_uris: Mapping[str, pulumi.Input[str]]
    """Pipeline parameter (e.g. `CardAggregatesS3Uri`) -> S3 prefix of a group's offline data."""
    labels_uri: pulumi.Input[str]
    """Ground-truth labels (CSV `transaction_id,is_fraud`)."""
    feature_schema: Mapping[str, Any]
    """`{featureGroups, label, order}`: the data set is validated against it."""
    model_package_group_name: pulumi.Input[str]
    """Registry group receiving candidates that pass the gate."""
    model_package_group_arn: pulumi.Input[str]
    """Its ARN."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets of the jobs."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of the jobs."""
    images: Mapping[str, str]
    """`processing`, `training` and `monitoring` image URIs for the region (images.json)."""
    auc_threshold: float = 0.85
    """Evaluation gate: minimum validation AUC to register a model."""
    training_instance_type: str = "ml.m5.xlarge"
    """Training job instance type."""
    processing_instance_type: str = "ml.m5.large"
    """Processing job instance type."""
    training_window_days: int = 90
    """Days of labelled transactions per data set."""
    code_version: str = "unknown"
    """Commit of the kit, recorded on every registered model."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""


class Training(pulumi.ComponentResource):
    """An ECR repository (immutable tags, scan on push, KMS) for custom images, the job
    scripts and feature schema in the artifacts bucket, a role scoped to them, and the
    training pipeline: build a point-in-time-correct data set from the offline store ->
    validate it against the feature schema -> train -> evaluate -> register the model as
    PendingManualApproval only if its AUC reaches the threshold. Every job runs in the VPC
    with network isolation and encrypted volumes and inter-container traffic."""

    pipeline_name: pulumi.Output[str]
    pipeline_arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:training:Training", name, None, opts)
        if not 0.5 < args.auc_threshold <= 1:
            raise ValueError("auc_threshold must be above 0.5 (chance) and at most 1")
        if set(args.images) != set(IMAGE_PARAMETERS):
            raise ValueError(f"images needs exactly {sorted(IMAGE_PARAMETERS)}")
        tags = dict(args.tags) | {"mlkit:component": "training"}
        child = pulumi.ResourceOptions(parent=self)
        bucket = args.artifacts_bucket_arn
        prefix = pulumi.Output.concat("s3://", args.artifacts_bucket_name, "/training")
        region_account = pulumi.Output.concat(":", args.region, ":", args.account_id, ":")

        repository = aws.ecr.Repository(
            f"{name}-images",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            force_delete=args.durability.force_destroy,
            tags=resource_tags(f"{name}-images", tags),
            opts=args.durability.options(self),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-images-lifecycle",
            repository=repository.name,
            policy=json.dumps(IMAGE_LIFECYCLE, sort_keys=True),
            opts=child,
        )
        code_objects = [
            aws.s3.BucketObjectv2(
                f"{name}-code-{script.stem.replace('_', '-')}",
                bucket=args.artifacts_bucket_name,
                key=f"training/code/{script.name}",
                source=pulumi.FileAsset(f"functions/training/scripts/{script.name}"),
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                tags=resource_tags(f"{name}-code-{script.stem.replace('_', '-')}", tags),
                opts=child,
            )
            for script in sorted(SCRIPTS_DIR.glob("*.py"))
        ]
        schema_object = aws.s3.BucketObjectv2(
            f"{name}-feature-schema",
            bucket=args.artifacts_bucket_name,
            key="training/feature-schema.json",
            content=json.dumps(args.feature_schema, sort_keys=True),
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            tags=resource_tags(f"{name}-feature-schema", tags),
            opts=child,
        )
        image_repositories = sorted({image_repository_arn(uri) for uri in args.images.values()})
        role = service_role(
            f"{name}-role",
            service="sagemaker.amazonaws.com",
            account_id=args.account_id,
            statements=[
                allow(
                    ["s3:GetObject", "s3:PutObject"],
                    [pulumi.Output.concat(bucket, "/training/*")],
                    sid="TrainingArtifacts",
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
                    [
                        "kms:CreateGrant",
                        "kms:Decrypt",
                        "kms:DescribeKey",
                        "kms:Encrypt",
                        "kms:GenerateDataKey",
                    ],
                    [args.kms_key_arn],
                    sid="Key",
                ),
                allow(
                    JOB_ACTIONS,
                    [
                        pulumi.Output.concat("arn:aws:sagemaker", region_account, kind)
                        for kind in ("processing-job/*", "training-job/*")
                    ],
                    sid="Jobs",
                ),
                allow(
                    ["sagemaker:CreateModelPackage"],
                    [
                        pulumi.Output.concat(
                            "arn:aws:sagemaker",
                            region_account,
                            "model-package/",
                            args.model_package_group_name,
                            "/*",
                        )
                    ],
                    sid="RegisterCandidates",
                ),
                allow(
                    ["sagemaker:DescribeModelPackageGroup"],
                    [args.model_package_group_arn],
                    sid="Registry",
                ),
                allow(
                    ["iam:PassRole"],
                    [
                        pulumi.Output.concat(
                            "arn:aws:iam::", args.account_id, ":role/", name, "-role-*"
                        )
                    ],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    sid="PassOwnRoleToJobs",
                ),
                *sagemaker_job_statements(
                    region=args.region,
                    account_id=args.account_id,
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
            "LabelsS3Uri": args.labels_uri,
            "TrainingWindowDays": args.training_window_days,
            "ProcessingInstanceType": args.processing_instance_type,
            "TrainingInstanceType": args.training_instance_type,
            **{parameter: args.images[key] for key, parameter in IMAGE_PARAMETERS.items()},
            "AucThreshold": args.auc_threshold,
            "ModelPackageGroupName": args.model_package_group_name,
            "CodeVersion": args.code_version,
            **args.offline_group_uris,
        }
        template = load_template()
        definition = pulumi.Output.all(
            subnets=args.subnet_ids,
            security_groups=args.security_group_ids,
            kms_key_arn=args.kms_key_arn,
            role_arn=role.arn,
            defaults=defaults,
        ).apply(
            lambda v: json.dumps(
                render_definition(
                    template,
                    subnet_ids=v["subnets"],
                    security_group_ids=v["security_groups"],
                    kms_key_arn=v["kms_key_arn"],
                    role_arn=v["role_arn"],
                    parameter_defaults=v["defaults"],
                ),
                sort_keys=True,
            )
        )
        pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=name,
            pipeline_display_name=name,
            pipeline_description="Fraud model: data set -> validate -> train -> evaluate -> "
            "gate -> register",
            pipeline_definition=definition,
            role_arn=role.arn,
            tags=resource_tags(f"{name}-pipeline", tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*code_objects, schema_object]),
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
