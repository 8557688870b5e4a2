"""Stream and queue event source mappings keep the records they give up on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import text, value_at
from policies.control import Control, Resource

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE = "aws:sqs/redrivePolicy:RedrivePolicy"
# Services whose failed batches go to the mapping's on-failure destination.
STREAMS = ("kinesis", "dynamodb", "kafka")


def service(arn: str) -> str:
    """The service of an ARN (`arn:<partition>:<service>:...`), "" if it is none."""
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 and parts[0] == "arn" else ""


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    queues = {str(q.props.get("name") or q.name): q for q in resources if q.type == QUEUE}
    redriven = {
        str(r.props.get("queueUrl") or "").rstrip("/").rsplit("/", 1)[-1]
        for r in resources
        if r.type == REDRIVE and text(r.props.get("redrivePolicy"))
    }
    for mapping in (r for r in resources if r.type == MAPPING):
        source = text(mapping.props.get("eventSourceArn")) or ""
        if service(source) in STREAMS or mapping.props.get("selfManagedEventSource"):
            if text(value_at(mapping.props, "destinationConfig", "onFailure", "destinationArn")):
                continue
            yield mapping, "stream event source mapping has no on-failure destination"
        elif service(source) == "sqs":
            name = source.rsplit(":", 1)[-1]
            queue = queues.get(name)
            if queue is None:  # another stack's queue: its redrive policy is not in view
                continue
            if text(queue.props.get("redrivePolicy")) or name in redriven:
                continue
            yield mapping, f"source queue {name} has no redrive policy (dead-letter queue)"


CONTROL = Control(
    id="aws-lambda-event-source-mapping-failure-destination",
    description="Lambda event source mappings on streams have an on-failure destination, and on "
    "SQS queues a source queue with a redrive policy.",
    why="After its retries, Lambda drops a stream batch it cannot process, and SQS deletes a "
    "message whose retention runs out: training data and feature updates vanish silently. An "
    "on-failure destination (streams) or a dead-letter queue on the source queue (SQS, where "
    "mappings take no destination) keeps them for replay. Queues of other stacks are not "
    "checked: their redrive policy is not in view.",
    severity="high",
    mirrors=(
        "serverless-rules ES1001 (tflint aws_lambda_event_source_mapping_failure_destination)",
        "cdk-nag Serverless-LambdaEventSourceMappingDestination",
    ),
    remediation="Set destination_config.on_failure.destination_arn to an SQS queue or SNS topic "
    "on stream mappings (modules.feature_store.StreamingIngestion does); give SQS source "
    "queues a redrive_policy.",
    stack_check=check,
    tags=("streaming",),
)
