"""Serverless endpoint configurations use none of what serverless inference excludes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import is_object
from policies.control import Control, Resource
from policies.serving._endpoints import (
    CONFIG,
    MODEL,
    is_serverless,
    model_key,
    shadow_variants,
    variant_name,
    variants,
)


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    models = {model_key(r): r for r in resources if r.type == MODEL}
    for config in (r for r in resources if r.type == CONFIG):
        serverless = [v for v in variants(config) if is_serverless(v)]
        if not serverless:
            continue
        if len(variants(config)) > 1:
            yield config, "a serverless endpoint has exactly one production variant"
        if shadow_variants(config):
            yield config, "a serverless endpoint has no shadow variants"
        capture = config.props.get("dataCaptureConfig")
        if is_object(capture) and capture:
            yield config, "a serverless endpoint cannot capture data (dataCaptureConfig)"
        for variant in serverless:
            model = models.get(str(variant.get("modelName") or ""))
            if model is None:
                continue
            name = variant_name(variant)
            if model.props.get("vpcConfig"):
                yield model, f"served by serverless variant {name}: no vpcConfig allowed"
            if model.props.get("enableNetworkIsolation") is True:
                yield model, f"served by serverless variant {name}: no network isolation allowed"
            if model.props.get("containers"):
                yield model, f"served by serverless variant {name}: one container only"
            container = model.props.get("primaryContainer")
            container = container if is_object(container) else {}
            if container.get("mode") == "MultiModel":
                yield model, f"served by serverless variant {name}: no multi-model container"
            image = container.get("imageConfig")
            if is_object(image) and image.get("repositoryAccessMode") == "Vpc":
                yield model, f"served by serverless variant {name}: no private registry image"


CONTROL = Control(
    id="aws-sagemaker-serverless-endpoint-exclusions",
    description="Endpoint configurations with a serverless variant have one production "
    "variant, no shadow variants and no data capture, and the models they serve have no VPC "
    "configuration, no network isolation, one container, no multi-model mode and no private "
    "registry image.",
    why="SageMaker serverless inference does not support VPC configuration, network "
    "isolation, data capture, multiple production variants or shadow variants, multi-container "
    "or multi-model endpoints, or images from a private Docker registry (its documented "
    "feature exclusions, docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): "
    "`pulumi up` fails on them, though the offline plan would accept them.",
    severity="critical",
    mirrors=("mlkit",),
    remediation="On serverless, create the model without vpc_config and network isolation and "
    "the configuration with one variant and no data_capture_config (modules.serving."
    "RealtimeEndpoint does); use instances for capture, shadows and canaries.",
    stack_check=check,
    tags=("serving",),
)
