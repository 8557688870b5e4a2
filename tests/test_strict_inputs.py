"""Strict inputs: nested dict-style arguments checked against the provider schemas (pulumi-aws
input types, CloudFormation schemas for aws-native), which the SDKs do not check."""

from __future__ import annotations

import copy
import json

import pulumi
import pulumi_aws as aws

from mlkit.recording import RecordedResource
from mlkit.strict_inputs import InputFinding, check_inputs, unchecked_types
from modules.serving import EndpointCapacity, RealtimeEndpoint, RealtimeEndpointArgs

CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL_QUALITY = "aws-native:sagemaker:ModelQualityJobDefinition"
IMAGE = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
PROBLEM_TYPES = "BinaryClassification, MulticlassClassification, Regression"


def resource(type_, inputs, name="r", custom=True):
    return RecordedResource(
        urn=f"urn:pulumi:test::mlkit::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        custom=custom,
        protect=False,
        retain_on_delete=False,
        depends_on=(),
        inputs=inputs,
    )


def findings(resources):
    return [(f.urn.rsplit("::", 1)[1], f.path, f.message) for f in check_inputs(resources)]


def test_misspelled_nested_key_is_unknown_and_leaves_a_required_one_missing(
    record_program,
) -> None:
    recording = record_program(
        lambda: aws.sagemaker.EndpointConfiguration(
            "c",
            production_variants=[
                {
                    "variant_name": "primary",
                    "model_name": "m",
                    "serverless_config": {"memory_size_mb": 2048, "max_concurrency": 5},
                }
            ],
        )
    )
    serverless = "productionVariants[0].serverlessConfig"
    urn = f"urn:pulumi:test::mlkit::{CONFIG}::c"
    assert check_inputs(recording.resources) == [
        InputFinding(
            urn=urn,
            type=CONFIG,
            path=f"{serverless}.memorySizeInMb",
            message="missing required property 'memorySizeInMb'",
        ),
        InputFinding(
            urn=urn,
            type=CONFIG,
            path=f"{serverless}.memory_size_mb",
            message="unknown property 'memory_size_mb' "
            "(allowed: maxConcurrency, memorySizeInMb, provisionedConcurrency)",
        ),
    ]
    assert check_inputs(recording.resources)[1].as_json() == {
        "urn": urn,
        "type": CONFIG,
        "path": f"{serverless}.memory_size_mb",
        "message": "unknown property 'memory_size_mb' "
        "(allowed: maxConcurrency, memorySizeInMb, provisionedConcurrency)",
    }


def test_missing_required_nested_property(record_program) -> None:
    recording = record_program(
        lambda: aws.sagemaker.Model(
            "m",
            execution_role_arn="arn:aws:iam::111122223333:role/r",
            primary_container={"image": "img"},
            vpc_config={"subnets": ["subnet-a"]},
        )
    )
    assert findings(recording.resources) == [
        ("m", "vpcConfig.securityGroupIds", "missing required property 'securityGroupIds'")
    ]


def test_wrong_kinds() -> None:
    config = resource(CONFIG, {"productionVariants": "primary", "tags": {"a": "b"}}, "c")
    variant = {"variantName": "v", "serverlessConfig": [{"maxConcurrency": 5}]}
    listed = resource(CONFIG, {"productionVariants": [variant]}, "l")
    counted = resource(
        CONFIG,
        {
            "productionVariants": [
                {"variantName": 7, "initialInstanceCount": "two", "initialVariantWeight": "0.5"}
            ]
        },
        "n",
    )
    assert findings([config, listed, counted]) == [
        ("c", "productionVariants", "expected a list, got string"),
        ("l", "productionVariants[0].serverlessConfig", "expected an object, got array"),
        # Terraform converts numbers to strings and numeric strings to numbers, not words.
        ("n", "productionVariants[0].initialInstanceCount", "expected an integer, got string"),
    ]


def endpoint_args(capacity: EndpointCapacity, capture: int) -> RealtimeEndpointArgs:
    return RealtimeEndpointArgs(
        endpoint_name="fraud",
        model_package_arn="arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/3",
        image_repository_arns=["arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"],
        capacity=capacity,
        rollback_alarm_names=["fraud-latency-p99"],
        data_capture_percent=capture,
    )


def test_realistic_nested_inputs_pass(record_program, platform) -> None:
    instances = EndpointCapacity(
        serverless=False,
        instance_type="ml.c5.xlarge",
        min_instances=2,
        max_instances=6,
        target_invocations_per_instance=700,
    )
    serverless = EndpointCapacity(
        serverless=True, serverless_memory_mb=3072, serverless_max_concurrency=8
    )
    for capacity, capture in ((instances, 20), (serverless, 0)):
        args = endpoint_args(capacity, capture)
        recording = record_program(lambda a=args: RealtimeEndpoint("s", platform, a))
        assert recording.of_type(CONFIG)[0].inputs["productionVariants"]
        assert check_inputs(recording.resources) == []
        assert unchecked_types(recording.resources) == []


def model_quality_job(record_program, platform) -> RecordedResource:
    """An aws-native resource with nested inputs, checked against its CloudFormation schema:
    a Model Monitor model-quality job definition as a stack could still declare one (the kit
    itself no longer does: Model Monitor is closed to new customers)."""
    import pulumi_aws_native as aws_native

    def program() -> None:
        aws_native.sagemaker.ModelQualityJobDefinition(
            "q-job",
            endpoint_name="fraud",
            model_quality_app_specification={
                "image_uri": IMAGE,
                "problem_type": "BinaryClassification",
            },
            model_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": "fraud",
                    "local_path": "/opt/ml/processing/input/endpoint",
                    "probability_attribute": "0",
                    "probability_threshold_attribute": 0.5,
                    "s3_data_distribution_type": "FullyReplicated",
                    "s3_input_mode": "File",
                },
                "ground_truth_s3_input": {"s3_uri": "s3://artifacts/ground-truth/monitoring"},
            },
            model_quality_job_output_config={
                "kms_key_id": platform.kms_key_arn,
                "monitoring_outputs": [
                    {
                        "s3_output": {
                            "s3_uri": "s3://artifacts/monitoring/model-quality/fraud",
                            "local_path": "/opt/ml/processing/output",
                            "s3_upload_mode": "EndOfJob",
                        }
                    }
                ],
            },
            job_resources={
                "cluster_config": {
                    "instance_count": 1,
                    "instance_type": "ml.m5.large",
                    "volume_size_in_gb": 20,
                    "volume_kms_key_id": platform.kms_key_arn,
                }
            },
            network_config={
                "enable_network_isolation": True,
                "enable_inter_container_traffic_encryption": True,
                "vpc_config": {
                    "subnets": platform.subnet_ids,
                    "security_group_ids": list(platform.security_group_ids),
                },
            },
            role_arn="arn:aws:iam::111122223333:role/monitor",
            stopping_condition={"max_runtime_in_seconds": 3600},
            tags=[{"key": "mlkit:component", "value": "monitoring"}],
        )

    recording = record_program(program)
    assert check_inputs(recording.resources) == []  # the compliant job
    assert unchecked_types(recording.resources) == []
    return recording.named("q-job")


def with_inputs(job: RecordedResource, change) -> RecordedResource:
    inputs = copy.deepcopy(dict(job.inputs))
    change(inputs)
    return resource(MODEL_QUALITY, inputs, "q-job")


def test_aws_native_bad_enum_names_the_allowed_values(record_program, platform) -> None:
    job = model_quality_job(record_program, platform)
    assert job.type == MODEL_QUALITY
    assert job.inputs["tags"][0].keys() == {"key", "value"}  # aws-native tags are a list

    def bad(inputs):
        inputs["modelQualityAppSpecification"]["problemType"] = "Binary"

    assert findings([with_inputs(job, bad)]) == [
        (
            "q-job",
            "modelQualityAppSpecification.problemType",
            f"invalid value 'Binary' (allowed: {PROBLEM_TYPES})",
        )
    ]


def test_aws_native_unknown_nested_key_and_bounds(record_program, platform) -> None:
    job = model_quality_job(record_program, platform)

    def bad(inputs):
        endpoint_input = inputs["modelQualityJobInput"]["endpointInput"]
        endpoint_input["probabilityThreshold"] = endpoint_input.pop("probabilityThresholdAttribute")
        inputs["stoppingCondition"]["maxRuntimeInSeconds"] = 90000
        inputs["jobResources"]["clusterConfig"].pop("volumeSizeInGb")

    [missing, unknown, bounds] = findings([with_inputs(job, bad)])
    assert unknown[1:] == (
        "modelQualityJobInput.endpointInput.probabilityThreshold",
        "unknown property 'probabilityThreshold' (allowed: endTimeOffset, endpointName, "
        "inferenceAttribute, localPath, probabilityAttribute, probabilityThresholdAttribute, "
        "s3DataDistributionType, s3InputMode, startTimeOffset)",
    )
    # Acronyms: CFN `VolumeSizeInGB` is aws-native `volumeSizeInGb`.
    assert missing[1:] == (
        "jobResources.clusterConfig.volumeSizeInGb",
        "missing required property 'volumeSizeInGb'",
    )
    assert bounds[1:] == ("stoppingCondition.maxRuntimeInSeconds", "90000 outside 1..86400")


def test_aws_native_patterns_and_kinds(record_program, platform) -> None:
    job = model_quality_job(record_program, platform)

    tag = f"tags[{len(job.inputs['tags'])}]"

    def bad(inputs):
        inputs["roleArn"] = "role-r"
        inputs["tags"].append({"key": "bad!key", "value": 1})

    assert findings([with_inputs(job, bad)]) == [
        (
            "q-job",
            "roleArn",
            "'role-r' does not match ^arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+$",
        ),
        ("q-job", "roleArn", "length 6 outside 20..2048"),
        ("q-job", f"{tag}.key", "'bad!key' does not match ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"),
        ("q-job", f"{tag}.value", "expected string, got integer"),
    ]


def test_tag_maps_and_json_policies_accept_any_keys(record_program) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "x"}, "Action": "*"}],
        }
    )

    def program() -> None:
        role = aws.iam.Role(
            "r",
            assume_role_policy=policy,
            inline_policies=[{"name": "p", "policy": policy}],
            tags={"mlkit:component": "x", "any key at all": "y"},
        )
        aws.s3.BucketPolicy("b", bucket="bucket", policy=policy)
        aws.iam.RolePolicy("p", role=role.name, policy=policy)

    recording = record_program(program)
    assert recording.named("r").inputs["tags"]["any key at all"] == "y"
    assert check_inputs(recording.resources) == []


def test_secrets_unknowns_components_providers_and_unknown_types_are_not_findings() -> None:
    secret = resource(CONFIG, {"productionVariants": "[secret]", "kmsKeyArn": None}, "s")
    component = resource("mlkit:serving:RealtimeEndpoint", {"bogus": 1}, "c", custom=False)
    provider = resource("pulumi:providers:aws-native", {"region": "eu-west-1"}, "p")
    unknown = resource("acme:widgets/widget:Widget", {"bogus": 1}, "w")
    resources = [secret, component, provider, unknown]
    assert check_inputs(resources) == []
    assert unchecked_types(resources) == ["acme:widgets/widget:Widget"]


def test_top_level_is_checked_for_dict_built_resources() -> None:
    config = resource(CONFIG, {"productionVariant": [{"variantName": "v"}]}, "c")
    [unknown, missing] = findings([config])
    assert unknown[1:2] == ("productionVariant",)
    assert unknown[2].startswith("unknown property 'productionVariant' (allowed: ")
    assert missing[1:] == ("productionVariants", "missing required property 'productionVariants'")


def test_output_values_nested_in_dicts_are_checked(record_program) -> None:
    # The usual program: nested dicts holding other resources' outputs.
    def program() -> None:
        key = aws.kms.Key("k")
        aws.sagemaker.Model(
            "m",
            execution_role_arn="arn:aws:iam::111122223333:role/r",
            primary_container={"image": "img", "environment": {"A": key.arn}},
            vpc_config={"subnets": ["subnet-a"], "security_group_ids": [key.key_id]},
            opts=pulumi.ResourceOptions(depends_on=[key]),
        )

    assert check_inputs(record_program(program).resources) == []


def test_mock_ids_stand_for_unknown_values(record_program, platform) -> None:
    # The mocks' ids ("<name>-id") are longer than a real "subnet-0abc..." (at most 32).
    job = model_quality_job(record_program, platform)
    subnet_id = "fraud-staging-network-private-0-id"

    def with_subnet(inputs):
        inputs["networkConfig"]["vpcConfig"]["subnets"] = [subnet_id]

    recorded = with_inputs(job, with_subnet)
    subnet = resource(
        "aws:ec2/subnet:Subnet", {"vpcId": "vpc-1"}, "fraud-staging-network-private-0"
    )
    assert check_inputs([recorded, subnet]) == []
    assert findings([recorded]) == [
        ("q-job", "networkConfig.vpcConfig.subnets[0]", "length 34 outside 0..32")
    ]
