"""Reading SageMaker endpoints and their configurations, and joining them by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policies.common import is_array, is_object
from policies.control import Resource

MODEL = "aws:sagemaker/model:Model"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def variants(config: Resource) -> list[Mapping[str, Any]]:
    """The production variants of an endpoint configuration (readable ones only)."""
    found = config.props.get("productionVariants")
    return [v for v in found if is_object(v)] if is_array(found) else []


def is_serverless(variant: Mapping[str, Any]) -> bool:
    return bool(variant.get("serverlessConfig"))


def all_serverless(config: Resource) -> bool:
    """Every variant is serverless (and there is at least one)."""
    found = variants(config)
    return bool(found) and all(is_serverless(v) for v in found)


def variant_name(variant: Mapping[str, Any]) -> str:
    return str(variant.get("variantName") or "?")


def endpoint_name(endpoint: Resource) -> str:
    """The endpoint's name: its `name` input (physical in state files, set by the kit), else
    its logical name."""
    return str(endpoint.props.get("name") or endpoint.name)


def config_key(config: Resource) -> str:
    """How an endpoint names its configuration in `endpointConfigName`: the physical name in
    state files (auto-named into the `name` input), the logical name offline (the mock)."""
    return str(config.props.get("name") or config.name)


def configs_by_key(resources: Sequence[Resource]) -> dict[str, Resource]:
    return {config_key(r): r for r in resources if r.type == CONFIG}


def model_key(model: Resource) -> str:
    """How a variant names its model in `modelName`: the physical name in state files (the
    `name` input), the logical name offline (the mock)."""
    return str(model.props.get("name") or model.name)


def shadow_variants(config: Resource) -> list[Mapping[str, Any]]:
    found = config.props.get("shadowProductionVariants")
    return [v for v in found if is_object(v)] if is_array(found) else []


def serverless_only_models(resources: Sequence[Resource]) -> set[str]:
    """Models that only serverless variants serve: SageMaker runs them outside any VPC and
    without network isolation (serverless inference supports neither)."""
    serverless: set[str] = set()
    elsewhere: set[str] = set()
    for config in (r for r in resources if r.type == CONFIG):
        for variant in variants(config) + shadow_variants(config):
            name = str(variant.get("modelName") or "")
            (serverless if is_serverless(variant) else elsewhere).add(name)
    return serverless - elsewhere
