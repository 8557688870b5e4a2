"""SageMaker compute uses instance types allowed in the resource's environment."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.baseline._props import plain
from policies.common import is_array, is_object, object_at, value_at
from policies.control import Control, Resource

DEV = ("ml.t3.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge")
STAGING = (*DEV, "ml.m5.2xlarge", "ml.c5.2xlarge")
PROD = (*STAGING, "ml.m5.4xlarge", "ml.c5.4xlarge", "ml.g5.xlarge", "ml.g5.2xlarge")
ALLOWED = {"dev": DEV, "staging": STAGING, "prod": PROD}

# Resources with `instanceType` inputs (at any depth): endpoint variants, shadow variants,
# monitoring job clusters, notebooks, training jobs.
INSTANCE_TYPE_RESOURCES = (
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "aws:sagemaker/notebookInstance:NotebookInstance",
    "aws:sagemaker/trainingJob:TrainingJob",
    "aws-native:sagemaker:EndpointConfig",
    "aws-native:sagemaker:DataQualityJobDefinition",
    "aws-native:sagemaker:ModelQualityJobDefinition",
    "aws-native:sagemaker:ModelBiasJobDefinition",
    "aws-native:sagemaker:ModelExplainabilityJobDefinition",
    "aws-native:sagemaker:MonitoringSchedule",
    "aws-native:sagemaker:NotebookInstance",
)
PIPELINES = ("aws:sagemaker/pipeline:Pipeline", "aws-native:sagemaker:Pipeline")
NOT_INLINE = "pipeline definition is not inline (S3 location): its instance types cannot be checked"


def found_in(value: Any, key: str, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every `key` entry at any depth. Under the CLI's preview, other
    unknown values are skipped (they hold no instance type); an unknown `key` still raises."""
    if is_object(value):
        for name in value:
            where = f"{path}.{name}" if path else str(name)
            if name == key:
                yield where, plain(value[name])
                continue
            try:
                item = value[name]
            except UnknownValueError:
                continue
            yield from found_in(item, key, where)
    elif is_array(value):
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                continue
            yield from found_in(item, key, f"{path}[{index}]")


def pipeline_steps(steps: Any) -> Iterator[dict[str, Any]]:
    """Every step of a pipeline definition, including those nested in condition steps."""
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict):
            yield step
            arguments = object_at(step, "Arguments")
            yield from pipeline_steps(arguments.get("IfSteps"))
            yield from pipeline_steps(arguments.get("ElseSteps"))


def pipeline_instance_types(resource: Resource) -> Iterator[tuple[str, str | None]]:
    """(where, instance type) of every step; a `{"Get": "Parameters.X"}` reference resolves
    to the parameter's default. What cannot be read comes as (the whole message, None)."""
    definition = plain(resource.props.get("pipelineDefinition"))
    if resource.type == PIPELINES[1] and isinstance(definition, dict):
        definition = definition.get("pipelineDefinitionBody")
    if definition is None:
        yield NOT_INLINE, None
        return
    try:
        document = json.loads(definition) if isinstance(definition, str) else None
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        yield "pipeline definition is not readable JSON", None
        return
    defaults = {
        p.get("Name"): p.get("DefaultValue")
        for p in document.get("Parameters") or []
        if isinstance(p, dict)
    }
    for step in pipeline_steps(document.get("Steps")):
        arguments = object_at(step, "Arguments")
        nested = {"IfSteps", "ElseSteps"}
        own = {key: value for key, value in arguments.items() if key not in nested}
        for path, value in found_in(own, "InstanceType"):
            where = f"step {step.get('Name')} {path}"
            reference = value_at(value, "Get")
            if isinstance(value, str):
                yield where, value
            elif isinstance(reference, str) and reference.startswith("Parameters."):
                parameter = reference.removeprefix("Parameters.")
                default = defaults.get(parameter)
                if isinstance(default, str):
                    yield f"{where} ({reference} default)", default
                else:
                    yield f"{where} refers to {reference}, which has no default", None
            else:
                yield f"{where} is neither an instance type nor a parameter", None


def resource_instance_types(resource: Resource) -> Iterator[tuple[str, str | None]]:
    """(where, instance type) of every set `instanceType` input; what is not text comes as
    (the whole message, None)."""
    for where, value in found_in(resource.props, "instanceType"):
        if isinstance(value, str):
            yield where, value
        elif value is not None:
            yield f"{where} is not an instance type", None


def check(resource: Resource) -> Iterable[str]:
    environment = resource.environment if resource.environment in ALLOWED else "prod"
    allowed = ALLOWED[environment]
    if resource.type in PIPELINES:
        found = pipeline_instance_types(resource)
    else:
        found = resource_instance_types(resource)
    for where, instance_type in found:
        if instance_type is None:
            yield where
        elif instance_type not in allowed:
            yield f"{where} is {instance_type}, not allowed in {environment}"


CONTROL = Control(
    id="aws-sagemaker-instance-type-allowlist",
    description="Every SageMaker instance type (endpoint production and shadow variants, "
    "monitoring job clusters, notebooks, training jobs, pipeline steps and their parameter "
    "defaults) is on the allowlist of the resource's environment (untagged: prod's).",
    why="Instance types are the platform's cost and quota lever: dev iterates on small CPU "
    "instances, GPUs are reserved for prod. Pipeline parameters can still be overridden "
    "per execution; the pipeline role and quotas bound that. No anchor rule covers "
    "SageMaker instance types (AWS Config desired-instance-type is for EC2).",
    severity="high",
    mirrors=("mlkit",),
    remediation="Choose an allowed type in the blueprint settings (training, processing, "
    "serving and monitoring instance types) or request an allowlist change: dev "
    + ", ".join(DEV)
    + "; staging adds "
    + ", ".join(STAGING[len(DEV) :])
    + "; prod adds "
    + ", ".join(PROD[len(STAGING) :])
    + ".",
    resource_types=(*INSTANCE_TYPE_RESOURCES, *PIPELINES),
    check=check,
    tags=("cost", "training", "serving", "monitoring"),
)
