"""Serving module and scoring API: exact inputs per capacity mode, guardrails, auth."""

from __future__ import annotations

import json

import pytest

from modules.serving import EndpointCapacity, RealtimeEndpoint, RealtimeEndpointArgs
from modules.serving.api import JwtAuth, ScoringApi, ScoringApiArgs

PACKAGE = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/3"
SHADOW = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/4"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/k"
REPO = "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"
INSTANCES = EndpointCapacity(
    serverless=False,
    instance_type="ml.c5.xlarge",
    min_instances=2,
    max_instances=6,
    target_invocations_per_instance=700,
)
SERVERLESS = EndpointCapacity(
    serverless=True, serverless_memory_mb=3072, serverless_max_concurrency=8
)


def endpoint(record_program, platform, capacity, **overrides):
    args = RealtimeEndpointArgs(
        endpoint_name="fraud",
        model_package_arn=PACKAGE,
        image_repository_arns=[REPO],
        capacity=capacity,
        rollback_alarm_names=["fraud-latency-p99", "fraud-5xx"],
    )
    for key, value in overrides.items():
        setattr(args, key, value)
    return record_program(lambda: RealtimeEndpoint("s", platform, args))


def test_model_is_vpc_only_isolated_and_from_the_package(record_program, platform) -> None:
    model = endpoint(record_program, platform, INSTANCES).named("s-primary-model").inputs
    assert model["primaryContainer"] == {"modelPackageName": PACKAGE}
    assert model["enableNetworkIsolation"] is True
    assert model["vpcConfig"] == {"securityGroupIds": ["sg-1"], "subnets": ["subnet-a", "subnet-b"]}
    assert model["tags"]["mlkit:model-package"] == PACKAGE


def test_instances_capture_data_and_deploy_blue_green_with_rollback(
    record_program, platform
) -> None:
    recording = endpoint(
        record_program,
        platform,
        INSTANCES,
        data_capture_percent=20,
        canary_percent=10,
        canary_wait_minutes=15,
    )
    config = recording.named("s-config").inputs
    assert config["productionVariants"] == [
        {
            "initialInstanceCount": 2,
            "initialVariantWeight": 1,
            "instanceType": "ml.c5.xlarge",
            "modelName": "s-primary-model",
            "variantName": "primary",
        }
    ]
    assert config["kmsKeyArn"] == KEY
    assert config["dataCaptureConfig"] == {
        "captureContentTypeHeader": {"csvContentTypes": ["text/csv"]},
        "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
        "destinationS3Uri": "s3://artifacts/data-capture/fraud",
        "enableCapture": True,
        "initialSamplingPercentage": 20,
        "kmsKeyId": KEY,
    }
    deployment = recording.named("s-endpoint").inputs["deploymentConfig"]
    assert deployment == {
        "autoRollbackConfiguration": {
            "alarms": [{"alarmName": "fraud-latency-p99"}, {"alarmName": "fraud-5xx"}]
        },
        "blueGreenUpdatePolicy": {
            "terminationWaitInSeconds": 300,
            "trafficRoutingConfiguration": {
                "canarySize": {"type": "CAPACITY_PERCENT", "value": 10},
                "type": "CANARY",
                "waitIntervalInSeconds": 900,
            },
        },
    }


def test_instances_autoscale_on_invocations_per_instance(record_program, platform) -> None:
    recording = endpoint(record_program, platform, INSTANCES)
    target = recording.named("s-scaling-target").inputs
    assert {k: v for k, v in target.items() if k != "tags"} == {
        "maxCapacity": 6,
        "minCapacity": 2,
        "resourceId": "endpoint/fraud/variant/primary",
        "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "serviceNamespace": "sagemaker",
    }
    policy = recording.named("s-scaling-policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["targetTrackingScalingPolicyConfiguration"] == {
        "predefinedMetricSpecification": {
            "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "scaleInCooldown": 300,
        "scaleOutCooldown": 60,
        "targetValue": 700,
    }


def test_serverless_scales_to_zero_without_capture_canary_or_scaling(
    record_program, platform
) -> None:
    recording = endpoint(record_program, platform, SERVERLESS)
    config = recording.named("s-config").inputs
    assert config["productionVariants"] == [
        {
            "modelName": "s-primary-model",
            "serverlessConfig": {"maxConcurrency": 8, "memorySizeInMb": 3072},
            "variantName": "primary",
        }
    ]
    assert "kmsKeyArn" not in config and "dataCaptureConfig" not in config
    assert "deploymentConfig" not in recording.named("s-endpoint").inputs
    assert recording.of_type("aws:appautoscaling/target:Target") == []


def test_serverless_model_is_outside_the_vpc_and_not_isolated(record_program, platform) -> None:
    # Serverless inference supports neither (its documented feature exclusions).
    recording = endpoint(record_program, platform, SERVERLESS)
    model = recording.named("s-primary-model").inputs
    assert "vpcConfig" not in model and "enableNetworkIsolation" not in model
    assert model["primaryContainer"] == {"modelPackageName": PACKAGE}
    policy = json.loads(recording.named("s-role-policy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [
        "ModelArtifacts",
        "Key",
        "RegistryLogin",
        "Images",
        "Logs",
        "Metrics",
    ]


def test_shadow_variant_serves_the_challenger(record_program, platform) -> None:
    recording = endpoint(record_program, platform, INSTANCES, shadow_model_package_arn=SHADOW)
    shadow = recording.named("s-config").inputs["shadowProductionVariants"]
    assert shadow == [
        {
            "initialInstanceCount": 1,
            "initialVariantWeight": 1,
            "instanceType": "ml.c5.xlarge",
            "modelName": "s-shadow-model",
            "variantName": "shadow",
        }
    ]
    assert recording.named("s-shadow-model").inputs["primaryContainer"] == {
        "modelPackageName": SHADOW
    }


def test_model_role_is_scoped(record_program, platform) -> None:
    recording = endpoint(record_program, platform, INSTANCES, data_capture_percent=20)
    policy = json.loads(recording.named("s-role-policy").inputs["policy"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["ModelArtifacts"] == ["arn:aws:s3:::artifacts/training/*"]
    assert resources["DataCapture"] == ["arn:aws:s3:::artifacts/data-capture/*"]
    assert resources["Images"] == [REPO]
    # SageMaker checks its network-interface actions on '*' (execution roles guide).
    assert resources["VpcInterfaces"] == ["*"]
    without_capture = endpoint(record_program, platform, INSTANCES)
    statements = json.loads(without_capture.named("s-role-policy").inputs["policy"])["Statement"]
    assert "DataCapture" not in {s["Sid"] for s in statements}  # nothing it never calls


def test_the_endpoint_logs_to_its_own_encrypted_group_made_first(record_program, platform) -> None:
    recording = endpoint(record_program, platform, INSTANCES)
    logs = recording.named("s-endpoint-logs")
    assert logs.inputs["name"] == "/aws/sagemaker/Endpoints/fraud"
    assert logs.inputs["kmsKeyId"] == platform.kms_key_arn
    assert logs.inputs["retentionInDays"] == platform.log_retention_days
    assert logs.urn in recording.named("s-endpoint").depends_on
    # The model role writes there but cannot create a group in its place.
    policy = json.loads(recording.named("s-role-policy").inputs["policy"])
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "Logs"]
    assert statement["Action"] == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert statement["Resource"] == [
        "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/sagemaker/*"
    ]


def test_tags_are_the_platform_component_tags_plus_the_args_tags(record_program, platform) -> None:
    recording = endpoint(record_program, platform, INSTANCES, tags={"mlkit:model-package": "p"})
    assert recording.named("s-endpoint").inputs["tags"] == {
        "Name": "s-endpoint",
        "owner": "team",
        "cost-center": "1",
        "mlkit:component": "serving",
        "mlkit:model-package": "p",
    }


def test_serverless_with_capture_is_a_construction_error(record_program, platform) -> None:
    with pytest.raises(ValueError, match="serverless endpoints support neither data capture"):
        endpoint(record_program, platform, SERVERLESS, data_capture_percent=10)


def test_fewer_max_than_min_instances_is_a_construction_error(record_program, platform) -> None:
    capacity = EndpointCapacity(serverless=False, min_instances=3, max_instances=2)
    with pytest.raises(ValueError, match="max_instances is below min_instances"):
        endpoint(record_program, platform, capacity)


SCHEMA = {
    "request": [{"name": "amount", "type": "fractional"}, {"name": "card_id", "type": "string"}],
    "lookups": [
        {
            "featureGroup": "fg-cards",
            "key": "card_id",
            "features": [{"name": "txn_count_10m", "type": "integral"}],
            "defaults": {"txn_count_10m": 0},
        }
    ],
    "order": ["amount", "txn_count_10m"],
}


def api(record_program, platform, jwt=None):
    args = ScoringApiArgs(
        endpoint_name="fraud",
        endpoint_arn="arn:aws:sagemaker:eu-west-1:111122223333:endpoint/fraud",
        model_package_arn=PACKAGE,
        model_schema=SCHEMA,
        feature_group_arns=["arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fg-cards"],
        jwt=jwt,
    )
    return record_program(lambda: ScoringApi("a", platform, args))


def test_scoring_lambda_gets_the_schema_and_model_version(record_program, platform) -> None:
    function = api(record_program, platform).named("a-scoring").inputs
    assert function["environment"]["variables"] == {
        "ENDPOINT_NAME": "fraud",
        "MODEL_PACKAGE_ARN": PACKAGE,
        "MODEL_SCHEMA": json.dumps(SCHEMA, sort_keys=True),
    }
    assert function["code"] == {"fileArchive": "functions/scoring"}


def test_iam_auth_by_default_and_jwt_when_asked(record_program, platform) -> None:
    route = api(record_program, platform).named("a-route").inputs
    assert (route["routeKey"], route["authorizationType"]) == ("POST /score", "AWS_IAM")
    recording = api(record_program, platform, JwtAuth("https://idp.example", ["scoring"]))
    assert recording.named("a-route").inputs["authorizationType"] == "JWT"
    assert recording.named("a-jwt").inputs["jwtConfiguration"] == {
        "audiences": ["scoring"],
        "issuer": "https://idp.example",
    }


def test_stage_logs_every_request_and_throttles(record_program, platform) -> None:
    stage = api(record_program, platform).named("a-stage").inputs
    assert stage["accessLogSettings"]["destinationArn"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/mlkit/a/access"
    )
    assert json.loads(stage["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    assert stage["defaultRouteSettings"] == {
        "throttlingBurstLimit": 1000,
        "throttlingRateLimit": 500,
    }


def test_jwt_without_audience_is_a_construction_error(record_program, platform) -> None:
    with pytest.raises(ValueError, match="JWT authorization needs an issuer and at least one"):
        api(record_program, platform, JwtAuth("https://idp.example", []))


def test_scoring_role_reads_only_its_groups_and_endpoint(record_program, platform) -> None:
    policy = json.loads(
        api(record_program, platform).named("a-scoring-role-policy").inputs["policy"]
    )
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["InvokeModel"] == ["arn:aws:sagemaker:eu-west-1:111122223333:endpoint/fraud"]
    assert resources["OnlineFeatures"] == [
        "arn:aws:sagemaker:eu-west-1:111122223333:feature-group/fg-cards"
    ]
