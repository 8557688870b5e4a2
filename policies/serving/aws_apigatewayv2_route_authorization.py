"""API Gateway v2 routes require authorization."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource

ROUTE = "aws:apigatewayv2/route:Route"
AUTHORIZED = ("AWS_IAM", "JWT", "CUSTOM")
AUTHORIZABLE_KEYS = ("$default", "$connect")


def _websocket_message_route(route_key: object) -> bool:
    """A WebSocket route other than $connect/$default (e.g. `$disconnect`, `sendmessage`):
    API Gateway accepts authorization only on $connect there. HTTP route keys are
    `$default` or `METHOD /path`."""
    return (
        isinstance(route_key, str) and route_key not in AUTHORIZABLE_KEYS and " " not in route_key
    )


def check(route: Resource) -> Iterable[str]:
    if _websocket_message_route(route.props.get("routeKey")):
        return
    authorization = route.props.get("authorizationType")
    if authorization is None:
        yield "route has no authorization (authorizationType unset)"
    elif authorization == "NONE":
        yield "route allows unauthenticated calls (authorizationType NONE)"
    elif authorization not in AUTHORIZED:
        yield f"route authorizationType {authorization!r} is not AWS_IAM, JWT or CUSTOM"


CONTROL = Control(
    id="aws-apigatewayv2-route-authorization",
    description="API Gateway v2 routes set authorizationType to AWS_IAM, JWT or CUSTOM.",
    why="The scoring route fronts the model and the online feature store: an open route "
    "lets anyone score arbitrary transactions, probe the model and run up cost. WebSocket "
    "routes other than $connect are exempt: API Gateway authorizes WebSocket clients only "
    "on $connect.",
    severity="critical",
    mirrors=(
        "CKV_AWS_309",
        "AWS Config api-gwv2-authorization-type-configured",
        "prowler apigatewayv2_api_authorizers_enabled",
    ),
    remediation="Set authorization_type='AWS_IAM' (or JWT / CUSTOM with an authorizer) on "
    "aws.apigatewayv2.Route (modules.serving.ScoringApi uses AWS_IAM).",
    resource_types=(ROUTE,),
    check=check,
    tags=("serving", "api"),
)
