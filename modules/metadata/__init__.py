"""Metadata: the model registry with its approval workflow, experiment tracking (MLflow on
SageMaker), and the lineage tags every model and endpoint carries. Backends: `BACKENDS`
(role `registry`: `sagemaker`), contract in `contract.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.metadata.contract import BACKENDS
from modules.metadata.contract import ModelRegistry as ModelRegistry
from modules.platform import Platform
from modules.security.iam import allow, service_role

TRACKING_SERVER_SIZES = {"small": "Small", "medium": "Medium", "large": "Large"}
MLFLOW_OPTIONS = ("none", "serverless", *TRACKING_SERVER_SIZES)
ARTIFACT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]


def lineage_tags(
    *,
    model_package_group: str,
    model_package_arn: pulumi.Input[str] | None,
    feature_groups: Sequence[str],
    code_version: str,
) -> dict[str, pulumi.Input[str]]:
    """Tags tracing a model or endpoint to its registered package (which names the pipeline
    execution and data that produced it), the feature groups it reads and the kit's code."""
    return {
        "mlkit:model-package-group": model_package_group,
        "mlkit:model-package": model_package_arn or "none",
        "mlkit:feature-groups": " ".join(sorted(feature_groups)),
        "mlkit:code-version": code_version,
    }


@dataclass
class MetadataArgs:
    """The registry's own args; the platform gives the account, the key, the artifacts
    bucket (MLflow artifacts under `mlflow/`), the alert topic (notified when a package awaits
    approval or changes status) and the durability of the registry and tracking server."""

    mlflow: str = "serverless"
    """`none`, `serverless` (MLflow app, pay per use) or a tracking server size; default
    `serverless`."""
    description: str = ""
    """What the registered models do; default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the platform's component tags; default none."""


@BACKENDS.register(
    "sagemaker",
    "SageMaker model package group with approval notifications; MLflow on SageMaker "
    "(serverless app or tracking server)",
)
class Metadata(pulumi.ComponentResource):
    """A model package group `<name>` (the training pipeline registers candidates as
    PendingManualApproval; approvers are notified through the alert topic) and, unless
    `mlflow` is `none`, MLflow on SageMaker with artifacts in the secure bucket."""

    model_package_group_name: pulumi.Output[str]
    model_package_group_arn: pulumi.Output[str]
    mlflow_arn: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        platform: Platform,
        args: MetadataArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlkit:metadata:Metadata", name, None, opts)
        if args.mlflow not in MLFLOW_OPTIONS:
            raise ValueError(f"mlflow must be one of {', '.join(MLFLOW_OPTIONS)}")
        tags = platform.component_tags("metadata") | dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        durability, bucket_arn = platform.durability, platform.artifacts_bucket_arn

        group = aws.sagemaker.ModelPackageGroup(
            f"{name}-models",
            model_package_group_name=name,
            model_package_group_description=args.description or None,
            tags=resource_tags(f"{name}-models", tags),
            opts=durability.options(self),
        )
        approvals = aws.cloudwatch.EventRule(
            f"{name}-approvals",
            description=f"Model packages of {name} that await approval or change status",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Package State Change"],
                    "detail": {"ModelPackageGroupName": [group.model_package_group_name]},
                }
            ),
            tags=resource_tags(f"{name}-approvals", tags),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-approvals-alert",
            rule=approvals.name,
            arn=platform.alert_topic_arn,
            opts=child,
        )

        self.mlflow_arn = None
        if args.mlflow != "none":
            artifacts = pulumi.Output.concat("s3://", platform.artifacts_bucket_name, "/mlflow")
            role = service_role(
                f"{name}-mlflow-role",
                service="sagemaker.amazonaws.com",
                account_id=platform.account_id,
                statements=[
                    allow(
                        ARTIFACT_ACTIONS,
                        [bucket_arn, pulumi.Output.concat(bucket_arn, "/mlflow/*")],
                        sid="MlflowArtifacts",
                    ),
                    allow(
                        ["kms:Decrypt", "kms:GenerateDataKey"], [platform.kms_key_arn], sid="Key"
                    ),
                    # Registering checks the group and creates (and tags) a package in it.
                    allow(
                        ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackageGroup"],
                        [group.arn],
                        sid="RegisterFromMlflow",
                    ),
                    allow(
                        ["sagemaker:AddTags", "sagemaker:CreateModelPackage"],
                        [
                            pulumi.Output.concat(
                                group.arn.apply(
                                    lambda arn: arn.replace(
                                        ":model-package-group/", ":model-package/"
                                    )
                                ),
                                "/*",
                            )
                        ],
                        sid="RegisteredPackages",
                    ),
                ],
                tags=tags,
                parent=self,
            )
            if args.mlflow == "serverless":
                mlflow: pulumi.CustomResource = aws.sagemaker.MlflowApp(
                    f"{name}-mlflow",
                    name=f"{name}-mlflow",
                    role_arn=role.arn,
                    artifact_store_uri=artifacts,
                    model_registration_mode="AutoModelRegistrationDisabled",
                    tags=resource_tags(f"{name}-mlflow", tags),
                    opts=durability.options(self),
                )
            else:
                mlflow = aws.sagemaker.MlflowTrackingServer(
                    f"{name}-mlflow",
                    tracking_server_name=f"{name}-mlflow",
                    tracking_server_size=TRACKING_SERVER_SIZES[args.mlflow],
                    role_arn=role.arn,
                    artifact_store_uri=artifacts,
                    automatic_model_registration=False,
                    weekly_maintenance_window_start="Sun:03:00",
                    tags=resource_tags(f"{name}-mlflow", tags),
                    opts=durability.options(self),
                )
            self.mlflow_arn = mlflow.arn  # type: ignore[attr-defined]

        self.model_package_group_name = group.model_package_group_name
        self.model_package_group_arn = group.arn
        self.register_outputs(
            {
                "model_package_group_name": self.model_package_group_name,
                "model_package_group_arn": self.model_package_group_arn,
                "mlflow_arn": self.mlflow_arn,
            }
        )
