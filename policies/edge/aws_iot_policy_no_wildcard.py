"""IoT policies grant no wildcard actions and no wildcard resources."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from policies.common import as_list
from policies.control import Control, Resource

# Greengrass V2 data-plane actions that accept only `"Resource": "*"`, as the AWS IoT Greengrass
# V2 Developer Guide grants them in its minimal core-device policies ("Device authentication and
# authorization for AWS IoT Greengrass": "Minimal AWS IoT policy for AWS IoT Greengrass V2 core
# devices" and "Minimal AWS IoT policy to support client devices";
# awsdocs/aws-iot-greengrass-v2-developer-guide doc_source/device-auth.md). Every other action,
# `greengrass:*` included, must name its resources.
RESOURCE_WILDCARD_ONLY = frozenset(
    {
        "greengrass:GetComponentVersionArtifact",
        "greengrass:ResolveComponentCandidates",
        "greengrass:GetDeploymentConfiguration",
        "greengrass:ListThingGroupsForCoreDevice",
        "greengrass:PutCertificateAuthorities",
        "greengrass:VerifyClientDeviceIdentity",
    }
)


def document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) else None


def check(policy: Resource) -> Iterable[str]:
    parsed = document(policy.props.get("policy"))
    found = as_list(parsed.get("Statement")) if parsed is not None else []
    if not found or not all(isinstance(s, Mapping) for s in found):
        yield "policy document is unreadable"
        return
    for statement in found:
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            yield "policy allows through NotAction/NotResource (an implicit wildcard)"
        actions = [str(a) for a in as_list(statement.get("Action"))]
        for action in actions:
            if action == "*" or action.endswith(":*"):
                yield f"policy allows the wildcard action '{action}'"
        if "*" in as_list(statement.get("Resource")):
            scoped = [a for a in actions if a not in RESOURCE_WILDCARD_ONLY]
            if scoped:
                yield f"policy allows {', '.join(scoped)} on every resource ('*')"


CONTROL = Control(
    id="aws-iot-policy-no-wildcard",
    description="AWS IoT policies allow no `*` or `service:*` actions and no `*` resource, except "
    "the Greengrass V2 data-plane actions that only accept `*`.",
    why="Every edge device holds a certificate with this policy; with `iot:*` or a `*` "
    "resource one stolen device can read or rewrite every device's shadows and jobs, publish "
    "on any topic (poisoning the telemetry that becomes training data) or impersonate other "
    "devices. The Greengrass exceptions are the actions AWS's own minimal core-device policies "
    "grant on `*` (GetComponentVersionArtifact, ResolveComponentCandidates, "
    "GetDeploymentConfiguration, ListThingGroupsForCoreDevice, PutCertificateAuthorities, "
    "VerifyClientDeviceIdentity; AWS IoT Greengrass V2 Developer Guide, Device authentication "
    "and authorization).",
    severity="critical",
    mirrors=(
        "AWS IoT Device Defender IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
        "KICS iot_policy_allows_wildcard_resource",
    ),
    remediation="List the IoT actions each device needs and scope their resources to the "
    "device's own client id, topics and thing (a prefix wildcard such as "
    "thing/core-device-name* is fine); keep `*` only for the listed Greengrass actions.",
    resource_types=("aws:iot/policy:Policy",),
    check=check,
    tags=("edge",),
)
