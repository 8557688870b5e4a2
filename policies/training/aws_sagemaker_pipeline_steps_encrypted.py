"""Every processing, training and batch-transform step of a SageMaker pipeline encrypts what
it writes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.control import Control, Resource
from policies.training._pipeline import (
    PIPELINE,
    PLACEHOLDER,
    Step,
    UnreadableDefinition,
    is_placeholder,
    job_steps,
    section,
)


def _key(step: Step, value: Any, what: str, where: str) -> Iterable[str]:
    if is_placeholder(value):
        yield f"step {step.name} has a placeholder {what} KMS key ({PLACEHOLDER}...)"
    elif not isinstance(value, str) or not value:
        yield f"step {step.name} has no {what} KMS key ({where})"


def _processing(step: Step) -> Iterable[str]:
    cluster = section(step.arguments, "ProcessingResources", "ClusterConfig")
    yield from _key(
        step,
        cluster.get("VolumeKmsKeyId"),
        "volume",
        "ProcessingResources.ClusterConfig.VolumeKmsKeyId",
    )
    # A step without outputs (e.g. a validation step) writes nothing to S3.
    if "ProcessingOutputConfig" in step.arguments:
        output = section(step.arguments, "ProcessingOutputConfig")
        yield from _key(step, output.get("KmsKeyId"), "output", "ProcessingOutputConfig.KmsKeyId")
    network = section(step.arguments, "NetworkConfig")
    if network.get("EnableInterContainerTrafficEncryption") is not True:
        yield f"step {step.name} does not encrypt inter-container traffic"


def _training(step: Step) -> Iterable[str]:
    resources = section(step.arguments, "ResourceConfig")
    yield from _key(
        step, resources.get("VolumeKmsKeyId"), "volume", "ResourceConfig.VolumeKmsKeyId"
    )
    output = section(step.arguments, "OutputDataConfig")
    yield from _key(step, output.get("KmsKeyId"), "output", "OutputDataConfig.KmsKeyId")
    if step.arguments.get("EnableInterContainerTrafficEncryption") is not True:
        yield f"step {step.name} does not encrypt inter-container traffic"


def _transform(step: Step) -> Iterable[str]:
    resources = section(step.arguments, "TransformResources")
    yield from _key(
        step, resources.get("VolumeKmsKeyId"), "volume", "TransformResources.VolumeKmsKeyId"
    )
    output = section(step.arguments, "TransformOutput")
    yield from _key(step, output.get("KmsKeyId"), "output", "TransformOutput.KmsKeyId")


CHECKS = {"Processing": _processing, "Training": _training, "Transform": _transform}
"""Model steps write nothing: the transform that runs the model is checked."""


def check(pipeline: Resource) -> Iterable[str]:
    try:
        steps = job_steps(pipeline)
    except UnreadableDefinition as error:
        yield str(error)
        return
    for step in steps:
        if step.type in CHECKS:
            yield from CHECKS[step.type](step)


CONTROL = Control(
    id="aws-sagemaker-pipeline-steps-encrypted",
    description="Every processing, training and batch-transform step of a SageMaker pipeline "
    "encrypts its volumes and outputs with a KMS key, and processing and training steps the "
    "traffic between their instances.",
    why="Data sets, features and model artifacts land on job volumes and in S3; without the "
    "stack key they are readable to anyone with access to the bucket's default key, and "
    "distributed jobs exchange training data in clear text. Processing steps without "
    "outputs need no output key. An unreadable definition is reported: it cannot be shown "
    "compliant.",
    severity="high",
    mirrors=(
        "prowler sagemaker_training_jobs_volume_and_output_encryption_enabled",
        "prowler sagemaker_training_jobs_intercontainer_encryption_enabled",
    ),
    remediation="Set VolumeKmsKeyId and the output KmsKeyId to the stack key and "
    "EnableInterContainerTrafficEncryption to true on every processing and training step "
    "(the kit's template does; functions.training.definition.render_definition fills in the "
    "key).",
    resource_types=(PIPELINE,),
    check=check,
    tags=("training",),
)
