"""Production endpoint variants run on two or more instances."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import number
from policies.control import Control, Resource
from policies.serving._endpoints import CONFIG, is_serverless, variant_name, variants

MINIMUM_INSTANCES = 2
NEEDED = f"prod needs {MINIMUM_INSTANCES} or more instances"


def check(config: Resource) -> Iterable[str]:
    found = variants(config)
    if not found:
        yield "endpoint configuration has no readable production variants"
    for variant in found:
        name = variant_name(variant)
        count = number(variant.get("initialInstanceCount"))
        if is_serverless(variant):
            yield f"variant {name} is serverless; {NEEDED}"
        elif count is None:
            yield f"variant {name} has no initialInstanceCount; {NEEDED}"
        elif count < MINIMUM_INSTANCES:
            yield f"variant {name} has {count:g} instance(s); {NEEDED}"


CONTROL = Control(
    id="aws-sagemaker-endpoint-config-prod-capacity",
    description=f"In prod every production variant is instance-based with "
    f"initialInstanceCount of {MINIMUM_INSTANCES} or more.",
    why="Scoring sits in the payment path: with two instances SageMaker spreads them over "
    "zones and a deployment or an instance failure does not stop scoring. Serverless "
    "variants are reported too: cold starts and the concurrency cap do not fit a prod "
    "latency budget.",
    severity="high",
    mirrors=(
        "AWS Config sagemaker-endpoint-config-prod-instance-count",
        "prowler sagemaker_endpoint_config_prod_variant_instances",
    ),
    remediation="Use instance-based variants with initial_instance_count >= 2 in prod "
    "(the prod profile's serving settings do).",
    resource_types=(CONFIG,),
    check=check,
    environments=("prod",),
    tags=("serving",),
)
