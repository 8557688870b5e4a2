"""SageMaker endpoints log to a group the stack made (key, retention), not one SageMaker made."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import text
from policies.control import Control, Resource

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
PREFIX = "/aws/sagemaker/Endpoints/"


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    groups = {text(r.props.get("name")) for r in resources if r.type == LOG_GROUP}
    for endpoint in resources:
        if endpoint.type != ENDPOINT:
            continue
        name = text(endpoint.props.get("name"))
        if name is None:
            yield endpoint, "endpoint has no fixed name, so its log group cannot be made first"
        elif PREFIX + name not in groups:
            yield (
                endpoint,
                f"no log group {PREFIX}{name} in the stack: SageMaker would make it "
                "unencrypted and never expiring",
            )


CONTROL = Control(
    id="aws-sagemaker-endpoint-log-group",
    description="Every SageMaker endpoint's log group (/aws/sagemaker/Endpoints/<name>) is a "
    "resource of the stack.",
    why="SageMaker writes endpoint container logs, which can hold request data, to "
    "/aws/sagemaker/Endpoints/<name>, creating the group if it is missing: without the stack "
    "key and with no retention. Made by the stack first, the group gets both (and the "
    "log-group control checks them).",
    severity="medium",
    mirrors=("mlkit",),
    remediation="Give the endpoint a fixed name and create its log group with "
    "modules.observability.encrypted_log_group before the endpoint "
    "(modules.serving.RealtimeEndpoint does).",
    stack_check=check,
    tags=("serving", "logging"),
)
