"""The platform context: what every component stands on, built once by the platform base.

Components receive it whole (as eks-blueprints add-ons receive the cluster's context), so
their own args carry only what is specific to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws_native as aws_native

from modules.common import Durability


@dataclass(frozen=True)
class CodeSigning:
    """How the stack's Lambda functions are signed (modules.security.code_signing)."""

    profile_name: pulumi.Input[str]
    """AWS Signer profile (platform `AWSLambda-SHA384-ECDSA`) that signs each function's code."""
    config_arn: pulumi.Input[str]
    """Lambda code signing configuration that allows only that profile and enforces it."""
    code_bucket_name: pulumi.Input[str]
    """The versioned bucket signed code goes through (the artifacts bucket), resolved only
    once S3's versioning has had time to take effect: Signer signs a version."""


@dataclass(frozen=True)
class Platform:
    stack: str
    """Stack name; prefixes physical names that must be known up front."""
    region: str
    """Region of the stack."""
    account_id: pulumi.Input[str]
    """Account of the stack: roles trust only it, ARNs are built with it."""
    durability: Durability
    """How stateful resources survive deletes (from the `durability` setting)."""
    kms_key_arn: pulumi.Input[str]
    """The stack's customer-managed key, for everything a component encrypts."""
    artifacts_bucket_name: pulumi.Input[str]
    """The stack's secure artifacts bucket (code, data sets, models, captured data)."""
    artifacts_bucket_arn: pulumi.Input[str]
    """Its ARN."""
    alert_topic_arn: pulumi.Input[str]
    """Encrypted topic every alarm notifies."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets workloads run in."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of those workloads."""
    log_retention_days: int
    """Retention of every log group."""
    noncurrent_version_retention_days: int = 30
    """Lifecycle of replaced object versions in the stack's buckets."""
    tracing: bool = False
    """Functions are traced with X-Ray (active tracing)."""
    athena_jobs_in_vpc: bool = True
    """Pipeline jobs that call Athena run in the private subnets (through the VPC's `athena`
    endpoint); False: on SageMaker's network, outside the VPC (the `network.athenaJobsInVpc`
    setting)."""
    functions_in_vpc: bool = False
    """Lambda functions run in the private subnets and security groups above (the
    `network.functionsInVpc` setting), reaching the APIs they call through interface
    endpoints they require with `require_interface_endpoints`."""
    require_interface_endpoints: Callable[[Sequence[str]], Sequence[pulumi.Resource]] | None = None
    """Makes the VPC's interface endpoints for these services unless they exist, and returns
    them (the network's `require_interface_endpoints`); None: the platform has no VPC to add
    them to."""
    sagemaker_job_log_groups: bool = False
    """The stack made SageMaker's job log groups (`/aws/sagemaker/ProcessingJobs`,
    `/aws/sagemaker/TrainingJobs`) with its key and retention: job roles may not create them."""
    access_log_bucket_name: pulumi.Input[str] | None = None
    """Bucket receiving the S3 server access logs of the stack's data buckets (prod); None:
    no access logs."""
    require_code_signing: Callable[[], CodeSigning] | None = None
    """Functions deploy only code the stack's Signer profile signed (the `security.codeSigning`
    setting): makes the profile and configuration on first use, for stacks with functions
    only, and returns them; None: unsigned code."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags (`owner`, `cost-center`, `mlkit:blueprint`, `mlkit:environment`, ...)."""

    def aws_native_provider(self) -> pulumi.ProviderResource:
        """The stack's aws-native provider (AWS Cloud Control), made on first use: it does not
        read `aws:region`, so it gets the stack's region here; credentials come from the
        environment as pulumi-aws's do. Stacks that use no aws-native resource get none."""
        provider = self.__dict__.get("_aws_native")
        if provider is None:
            provider = aws_native.Provider(f"{self.stack}-aws-native", region=self.region)
            object.__setattr__(self, "_aws_native", provider)  # frozen: cache on the instance
        return provider

    def component_tags(self, component: str) -> dict[str, str]:
        """Stack tags plus `mlkit:component`, for everything a component creates."""
        return dict(self.tags) | {"mlkit:component": component}
