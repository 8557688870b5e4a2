"""Reading a SageMaker pipeline definition: its job steps (processing, training, batch
transform, and the models they run), including those nested in condition steps."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.common import is_array, is_object, object_at
from policies.control import Resource

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
PLACEHOLDER = "__MLKIT_"
"""Every placeholder of the kit's pipeline template starts with this (functions/training)."""
JOB_STEPS = ("Processing", "Training", "Transform", "Model")


@dataclass(frozen=True)
class Step:
    """One job step (processing, training, transform, model) of a pipeline definition."""

    name: str
    type: str
    arguments: Mapping[str, Any]


class UnreadableDefinition(ValueError):
    """A pipeline whose definition cannot be read from its inputs."""


def _definition(pipeline: Resource) -> Mapping[str, Any]:
    document = pipeline.props.get("pipelineDefinition")
    if document is None:
        if pipeline.props.get("pipelineDefinitionS3Location"):
            raise UnreadableDefinition("pipeline definition is in S3 and cannot be checked")
        raise UnreadableDefinition("pipeline has no definition")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            raise UnreadableDefinition("pipeline definition is not valid JSON") from None
    if not is_object(document) or not is_array(document.get("Steps")):
        raise UnreadableDefinition("pipeline definition has no Steps list")
    return document


def _walk(steps: Sequence[Any]) -> Iterator[Step]:
    for step in steps:
        if not is_object(step):
            continue
        arguments = object_at(step, "Arguments")
        if step.get("Type") == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                nested = arguments.get(branch)
                if is_array(nested):
                    yield from _walk(nested)
        elif step.get("Type") in JOB_STEPS:
            yield Step(str(step.get("Name", "?")), str(step["Type"]), arguments)


def job_steps(pipeline: Resource) -> list[Step]:
    """The job steps; raises UnreadableDefinition with a message."""
    return list(_walk(_definition(pipeline)["Steps"]))


def section(arguments: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """A nested object of a step's arguments (empty where absent or not an object)."""
    return object_at(arguments, *path)


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and PLACEHOLDER in value
