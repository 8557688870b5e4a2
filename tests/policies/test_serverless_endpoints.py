"""Serverless inference's documented feature exclusions (no VPC configuration, no network
isolation, no data capture, one production variant, no shadow variants): the serverless
exclusions control, and the model VPC/isolation controls exempting only-serverless models."""

from __future__ import annotations

from tests.policies.conftest import make, messages

MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
EXCLUSIONS = "aws-sagemaker-serverless-endpoint-exclusions"
ISOLATED = {
    "enableNetworkIsolation": True,
    "vpcConfig": {"securityGroupIds": ["sg-1"], "subnets": ["subnet-a"]},
}
SERVERLESS = {"variantName": "primary", "modelName": "m", "serverlessConfig": {"maxConcurrency": 5}}
INSTANCES = {"variantName": "primary", "modelName": "m", "instanceType": "ml.c5.xlarge"}


def serverless_config(**props: object):
    return make(CONFIG, "config", {"productionVariants": [SERVERLESS]} | props, environment="dev")


def test_a_serverless_configuration_and_its_plain_model_comply() -> None:
    model = make(MODEL, "m", {}, environment="dev")
    resources = (model, serverless_config())
    assert messages(EXCLUSIONS, *resources, environment="dev") == []
    assert messages("aws-sagemaker-model-vpc", *resources, environment="dev") == []
    assert messages("aws-sagemaker-model-network-isolation", *resources, environment="dev") == []


def test_a_serverless_variant_refuses_a_model_in_the_vpc_or_isolated() -> None:
    model = make(MODEL, "m", ISOLATED, environment="dev")
    assert messages(EXCLUSIONS, model, serverless_config(), environment="dev") == [
        "m: served by serverless variant primary: no vpcConfig allowed",
        "m: served by serverless variant primary: no network isolation allowed",
    ]


def test_a_serverless_configuration_refuses_capture_shadows_and_more_variants() -> None:
    second = SERVERLESS | {"variantName": "second"}
    config = serverless_config(
        productionVariants=[SERVERLESS, second],
        shadowProductionVariants=[INSTANCES | {"variantName": "shadow"}],
        dataCaptureConfig={"enableCapture": True},
    )
    assert messages(EXCLUSIONS, config, environment="dev") == [
        "config: a serverless endpoint has exactly one production variant",
        "config: a serverless endpoint has no shadow variants",
        "config: a serverless endpoint cannot capture data (dataCaptureConfig)",
    ]


def test_instance_configurations_are_not_this_control_s_business() -> None:
    config = make(CONFIG, "config", {"productionVariants": [INSTANCES, INSTANCES]})
    assert messages(EXCLUSIONS, make(MODEL, "m", ISOLATED), config) == []


def test_a_model_any_instance_variant_serves_still_needs_vpc_and_isolation() -> None:
    model = make(MODEL, "m", {})
    mixed = make(CONFIG, "config", {"productionVariants": [SERVERLESS, INSTANCES]})
    assert messages("aws-sagemaker-model-vpc", model, mixed) == ["m: model has no VPC config"]
    assert messages("aws-sagemaker-model-network-isolation", model, mixed) == [
        "m: model network isolation is not enabled"
    ]
    other = make(MODEL, "other", {})  # served by no configuration of the stack
    assert messages("aws-sagemaker-model-vpc", other, serverless_config()) == [
        "other: model has no VPC config"
    ]


def test_a_serverless_variant_refuses_multi_container_multi_model_and_private_images() -> None:
    containers = {"containers": [{"image": "a"}, {"image": "b"}]}
    multi = {"primaryContainer": {"mode": "MultiModel", "modelDataUrl": "s3://b/models/"}}
    private = {"primaryContainer": {"imageConfig": {"repositoryAccessMode": "Vpc"}}}
    for props, message in (
        (containers, "one container only"),
        (multi, "no multi-model container"),
        (private, "no private registry image"),
    ):
        model = make(MODEL, "m", props, environment="dev")
        assert messages(EXCLUSIONS, model, serverless_config(), environment="dev") == [
            f"m: served by serverless variant primary: {message}"
        ]
