"""Training: the image repository and the SageMaker training pipeline with its evaluation gate.

The pipeline definition is generated once with the sagemaker SDK into
`functions/training/pipeline.json` (`python -m functions.training.build_pipeline`); this
module fills in the stack's values, so the plan never imports the SDK. Backends: `BACKENDS`
(role `pipeline`: `sagemaker`), contract in `contract.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.training.definition import SCRIPTS_DIR, load_template, render_definition
from modules.common import resource_tags
from modules.platform import Platform
from modules.security.iam import allow, sagemaker_job_statements, service_role
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
    """The pipeline's own args; the platform gives the account, region, key (volumes,
    outputs, code, image repository), the durability of the repository, the artifacts bucket
    (code under `training/code/`, data sets and models under `training/`) and the private
    subnets and security groups the jobs run in."""

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
    code_version: str = "unknown"
    """Commit of the kit, recorded on every registered model; default `unknown`."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""


@BACKENDS.register(
    "sagemaker",
    "SageMaker pipeline (point-in-time data set, validate, train, evaluate, AUC gate, "
    "register) in the VPC with network isolation; ECR repository",
)
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
        tags = platform.component_tags("training") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        durability, key_arn = platform.durability, platform.kms_key_arn
        bucket = platform.artifacts_bucket_arn
        prefix = pulumi.Output.concat("s3://", platform.artifacts_bucket_name, "/training")
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
        code_objects = [
            aws.s3.BucketObjectv2(
                f"{name}-code-{script.stem.replace('_', '-')}",
                bucket=platform.artifacts_bucket_name,
                key=f"training/code/{script.name}",
                source=pulumi.FileAsset(f"functions/training/scripts/{script.name}"),
                server_side_encryption="aws:kms",
                kms_key_id=key_arn,
                tags=resource_tags(f"{name}-code-{script.stem.replace('_', '-')}", tags),
                opts=child,
            )
            for script in sorted(SCRIPTS_DIR.glob("*.py"))
        ]
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
        image_repositories = sorted({image_repository_arn(uri) for uri in args.images.values()})
        role = service_role(
            f"{name}-role",
            service="sagemaker.amazonaws.com",
            account_id=platform.account_id,
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
                    [key_arn],
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
                            "arn:aws:iam::", platform.account_id, ":role/", name, "-role-*"
                        )
                    ],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    sid="PassOwnRoleToJobs",
                ),
                *sagemaker_job_statements(
                    region=platform.region,
                    account_id=platform.account_id,
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
            subnets=platform.subnet_ids,
            security_groups=platform.security_group_ids,
            kms_key_arn=key_arn,
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
