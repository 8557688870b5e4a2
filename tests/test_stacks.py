"""Every shipped stack: plans, carries the required tags, and has the durability its
environment promises."""

from __future__ import annotations

import inspect
from functools import cache

import pulumi_aws

from mlkit.recording import RecordedResource

REQUIRED_TAGS = {"owner", "cost-center", "mlkit:blueprint", "mlkit:environment", "mlkit:component"}
# Resources holding data or keys: what prod must protect and retain.
STATEFUL_TYPES = {
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:dynamodb/table:Table",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:kinesis/stream:Stream",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:sagemaker/featureGroup:FeatureGroup",
    "aws:sagemaker/mlflowApp:MlflowApp",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sqs/queue:Queue",
}


@cache
def accepts_tags(type_token: str) -> bool:
    """Whether the pulumi-aws resource class behind `aws:<module>/<x>:<Class>` takes tags."""
    if not type_token.startswith("aws:"):
        return type_token.startswith("aws-native:")  # every aws-native resource we use does
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    # Python keywords get a trailing underscore (aws:lambda -> pulumi_aws.lambda_).
    package = getattr(pulumi_aws, module, None) or getattr(pulumi_aws, f"{module}_")
    resource_class = getattr(package, cls)
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def cloud_resources(plan) -> list[RecordedResource]:
    return [r for r in plan.recording.resources if r.custom]


def test_every_taggable_resource_carries_the_required_tags(plan_of, shipped_stack) -> None:
    plan = plan_of(shipped_stack)
    for resource in cloud_resources(plan):
        if accepts_tags(resource.type):
            tags = resource.inputs.get("tags", {})
            if isinstance(tags, list):  # aws-native: [{key, value}]
                tags = {tag["key"]: tag["value"] for tag in tags}
            missing = REQUIRED_TAGS - set(tags)
            assert not missing, f"{resource.name} lacks tags {sorted(missing)}"
            assert tags["Name"] == resource.name


def test_durability_follows_the_environment(plan_of, shipped_stack) -> None:
    plan = plan_of(shipped_stack)
    keep = plan.settings.environment == "prod"
    stateful = [r for r in cloud_resources(plan) if r.type in STATEFUL_TYPES]
    assert stateful
    for resource in stateful:
        assert (resource.protect, resource.retain_on_delete) == (keep, keep), resource.name
    for bucket in plan.recording.of_type("aws:s3/bucket:Bucket"):
        assert bucket.inputs["forceDestroy"] is not keep
    for log_group in plan.recording.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert log_group.inputs["deletionProtectionEnabled"] is keep


def test_every_child_has_a_component_parent(plan_of, shipped_stack) -> None:
    plan = plan_of(shipped_stack)
    for resource in plan.recording.resources:
        if resource.parent is None:  # a provider serves the whole stack, not one component
            assert resource.type.startswith(("mlkit:", "pulumi:providers:")), (
                f"{resource.name} has no component"
            )


def test_dev_has_no_paid_network_extras_and_prod_has_the_private_paths(plan_of) -> None:
    def interface_endpoints(stack: str) -> list[str]:
        endpoints = plan_of(stack).recording.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        return sorted(
            e.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-1.")
            for e in endpoints
            if e.inputs["vpcEndpointType"] == "Interface"
        )

    assert interface_endpoints("base-dev") == []
    # Dev runs the jobs that call Athena outside the VPC (network.athenaJobsInVpc: false).
    assert interface_endpoints("fraud-dev") == []
    assert interface_endpoints("recsys-dev") == []
    assert interface_endpoints("fraud-staging") == ["athena"]  # its training data-set job's
    assert interface_endpoints("recsys-staging") == ["athena"]  # interactions, active users
    assert interface_endpoints("base-prod") == [
        "ecr.api",
        "ecr.dkr",
        "logs",
        "sagemaker.api",
        "sagemaker.runtime",
        "sts",
    ]
    assert plan_of("base-dev").recording.of_type("aws:ec2/flowLog:FlowLog") == []
    assert len(plan_of("base-prod").recording.of_type("aws:ec2/flowLog:FlowLog")) == 1
    assert len(plan_of("base-prod").recording.of_type("aws:ec2/subnet:Subnet")) == 3


def test_every_shipped_stack_passes_the_strict_inputs_check(plan_of, shipped_stack) -> None:
    from mlkit.strict_inputs import unchecked_types

    plan = plan_of(shipped_stack)
    assert plan.strict_inputs == []
    assert unchecked_types(plan.recording.resources) == []  # every type had a schema to check


def test_what_a_service_checks_at_create_time_waits_for_its_role_s_policy(plan_of) -> None:
    # CreateFeatureGroup, CreateModel and CreateEventSourceMapping check the role's
    # permissions, not only that it exists: they must wait for the inline policy.
    recording = plan_of("fraud-prod").recording
    by_urn = {r.urn: r for r in recording.resources}

    def waits_for(name: str) -> list[str]:
        resource = recording.named(name)
        return sorted(
            by_urn[urn].name
            for urn in resource.depends_on
            if by_urn[urn].type == "aws:iam/rolePolicy:RolePolicy"
        )

    for group in ("transactions", "card-aggregates", "customer-profile"):
        assert waits_for(f"fraud-prod-features-{group}") == [
            "fraud-prod-features-offline-role-policy"
        ]
    assert waits_for("fraud-prod-serving-primary-model") == ["fraud-prod-serving-role-policy"]
    # The mapping waits for the function, which waits for its role's policy.
    mapping = recording.named("fraud-prod-ingestion-aggregator-trigger")
    assert recording.named("fraud-prod-ingestion-aggregator").urn in mapping.depends_on
    assert waits_for("fraud-prod-ingestion-aggregator") == [
        "fraud-prod-ingestion-aggregator-role-policy"
    ]
