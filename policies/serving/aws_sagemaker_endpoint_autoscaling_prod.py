"""Production endpoint variants scale automatically from a floor of two instances."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import number
from policies.control import Control, Resource
from policies.serving._endpoints import (
    CONFIG,
    ENDPOINT,
    configs_by_key,
    endpoint_name,
    is_serverless,
    variant_name,
    variants,
)

TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
MINIMUM_CAPACITY = 2


def _by_resource_id(resources: Sequence[Resource], type_: str) -> dict[str, list[Resource]]:
    grouped: dict[str, list[Resource]] = {}
    for resource in resources:
        if resource.type == type_ and resource.props.get("serviceNamespace") == "sagemaker":
            grouped.setdefault(str(resource.props.get("resourceId")), []).append(resource)
    return grouped


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    configs = configs_by_key(resources)
    targets = _by_resource_id(resources, TARGET)
    policies = _by_resource_id(resources, POLICY)
    for endpoint in (r for r in resources if r.type == ENDPOINT):
        config_name = str(endpoint.props.get("endpointConfigName"))
        config = configs.get(config_name)
        if config is None:
            yield endpoint, f"endpoint configuration {config_name} is not in the stack"
            continue
        for variant in variants(config):
            if is_serverless(variant):
                continue  # serverless variants scale by themselves
            name = variant_name(variant)
            resource_id = f"endpoint/{endpoint_name(endpoint)}/variant/{name}"
            found = targets.get(resource_id, [])
            if not found:
                yield endpoint, f"variant {name} has no autoscaling target"
            for target in found:
                floor = number(target.props.get("minCapacity"))
                if floor is None or floor < MINIMUM_CAPACITY:
                    shown = "unset" if floor is None else f"{floor:g}"
                    yield (
                        target,
                        f"autoscaling target minCapacity is {shown}; prod needs "
                        f"{MINIMUM_CAPACITY} or more",
                    )
            if not policies.get(resource_id):
                yield endpoint, f"variant {name} has no autoscaling policy"


CONTROL = Control(
    id="aws-sagemaker-endpoint-autoscaling-prod",
    description="In prod every instance-based endpoint variant has an Application Auto "
    f"Scaling target (minCapacity {MINIMUM_CAPACITY} or more) and a scaling policy.",
    why="Transaction volume follows the day and spikes on sales events; without scaling the "
    "endpoint either drops requests or pays for the peak all day, and a floor of two keeps "
    "scale-in from undoing the capacity control. No anchor rule checks SageMaker "
    "endpoint scaling from the deployment.",
    severity="high",
    mirrors=("mlkit",),
    remediation="Register aws.appautoscaling.Target (service_namespace sagemaker, resource_id "
    "endpoint/<name>/variant/<variant>, min_capacity >= 2) and a target-tracking "
    "aws.appautoscaling.Policy on it (modules.serving.RealtimeEndpoint does when autoscaling "
    "is on).",
    resource_types=(ENDPOINT, CONFIG, TARGET, POLICY),
    stack_check=check,
    environments=("prod",),
    tags=("serving",),
)
