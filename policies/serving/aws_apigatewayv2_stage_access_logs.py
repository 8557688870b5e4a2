"""API Gateway v2 stages write access logs."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_object
from policies.control import Control, Resource

STAGE = "aws:apigatewayv2/stage:Stage"


def check(stage: Resource) -> Iterable[str]:
    settings = stage.props.get("accessLogSettings")
    if not is_object(settings) or not settings:
        yield "stage has no access logging (accessLogSettings)"
        return
    if not settings.get("destinationArn"):
        yield "access logs have no destination (accessLogSettings.destinationArn)"
    if not settings.get("format"):
        yield "access logs have no format (accessLogSettings.format)"


CONTROL = Control(
    id="aws-apigatewayv2-stage-access-logs",
    description="API Gateway v2 stages have accessLogSettings with a destinationArn and a format.",
    why="Access logs are the record of who scored what and when (caller, route, status, "
    "latency): the audit trail for model decisions and the first place to look when "
    "scoring misbehaves.",
    severity="medium",
    mirrors=(
        "CKV_AWS_76",
        "AWS Config api-gwv2-access-logs-enabled",
        "prowler apigatewayv2_api_access_logging_enabled",
    ),
    remediation="Set access_log_settings (destination_arn = a log group, format = a JSON "
    "line with $context fields) on aws.apigatewayv2.Stage (modules.serving.ScoringApi does).",
    resource_types=(STAGE,),
    check=check,
    tags=("serving", "api"),
)
