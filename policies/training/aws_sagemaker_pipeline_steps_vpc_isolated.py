"""Every processing and training step, and every model a batch transform runs, of a SageMaker
pipeline runs in the VPC, isolated (the kit's networked Athena steps excepted from
isolation, never from the VPC)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.common import non_empty_array
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

NETWORKED_STEPS = ("BuildDataset", "BuildInteractions", "ListActiveUsers")
"""Steps that may run without network isolation, still in the VPC: the kit's Athena steps
(the fraud data set; the recommender's training interactions and active users), which call
Athena through the VPC's interface endpoint. Must equal the networked steps the kit's
pipeline definitions declare (the policy pack imports only itself; a test compares them)."""


def _ids(step: Step, vpc: Mapping[str, Any], key: str, what: str) -> Iterable[str]:
    ids = vpc.get(key)
    if not non_empty_array(ids):
        yield f"step {step.name} has no VPC {what}"
    elif any(is_placeholder(i) for i in ids):
        yield f"step {step.name} has placeholder VPC {what} ({PLACEHOLDER}...)"
    elif not all(isinstance(i, str) and i for i in ids):
        yield f"step {step.name} has VPC {what} that are not IDs"


def _step(step: Step) -> Iterable[str]:
    # A transform runs in its model's network: the model step is checked.
    if step.type == "Transform":
        return
    # Processing jobs nest the network settings in NetworkConfig; training jobs and models
    # do not.
    if step.type == "Processing":
        network = section(step.arguments, "NetworkConfig")
    else:
        network = step.arguments
    vpc = section(network, "VpcConfig")
    if not vpc:
        yield f"step {step.name} runs outside the VPC (no VpcConfig)"
    else:
        yield from _ids(step, vpc, "Subnets", "subnets")
        yield from _ids(step, vpc, "SecurityGroupIds", "security groups")
    if network.get("EnableNetworkIsolation") is not True and step.name not in NETWORKED_STEPS:
        yield f"step {step.name} runs without network isolation"


def check(pipeline: Resource) -> Iterable[str]:
    try:
        steps = job_steps(pipeline)
    except UnreadableDefinition as error:
        yield str(error)
        return
    for step in steps:
        yield from _step(step)


CONTROL = Control(
    id="aws-sagemaker-pipeline-steps-vpc-isolated",
    description="Every processing, training and model step of a SageMaker pipeline runs in "
    "the VPC "
    "(subnets and security groups set, no template placeholder left) with network isolation; "
    f"only the networked Athena steps ({', '.join(NETWORKED_STEPS)}) may run without "
    "isolation, and they too must run in the VPC.",
    why="Pipeline jobs read the offline feature store and the labels; in the VPC with network "
    "isolation a compromised container or dependency cannot send training data out. The "
    "anchors check training jobs after they ran; this checks every job step (processing "
    "too, also inside condition branches) before the pipeline is deployed. The Athena steps "
    "drive Athena, an API call a network-isolated container cannot make: they run in the "
    "private subnets (no NAT), so they reach only the VPC's endpoints.",
    severity="high",
    mirrors=(
        "prowler sagemaker_training_jobs_vpc_settings_configured",
        "prowler sagemaker_training_jobs_network_isolation_enabled",
    ),
    remediation="Render the definition with the stack's private subnets and workload security "
    "group (functions.training.definition.render_definition does) and keep "
    "EnableNetworkIsolation true on every processing (NetworkConfig) and training step but "
    f"{', '.join(NETWORKED_STEPS)}.",
    resource_types=(PIPELINE,),
    check=check,
    tags=("training",),
)
