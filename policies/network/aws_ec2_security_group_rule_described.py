"""Every security group rule says why it exists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policies.common import items, text
from policies.control import Control, Resource

GROUP = "aws:ec2/securityGroup:SecurityGroup"
STANDALONE_RULES = (
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)


def check(resource: Resource) -> Iterable[str]:
    if resource.type in STANDALONE_RULES:
        if text(resource.props.get("description")) is None:
            yield "rule has no description"
        return
    for direction in ("ingress", "egress"):
        for index, rule in enumerate(items(resource.props.get(direction))):
            if isinstance(rule, Mapping) and text(rule.get("description")) is None:
                yield f"{direction} rule {index} has no description"


CONTROL = Control(
    id="aws-ec2-security-group-rule-described",
    description="Every security group rule, inline or standalone, has a description.",
    why="A rule without a reason cannot be reviewed or safely removed: in an incident or an "
    "audit nobody can tell the rule a training job needs from one left by an experiment.",
    severity="low",
    mirrors=("CKV_AWS_23",),
    remediation="Give each ingress/egress rule a `description` (modules.network.Network does).",
    resource_types=(GROUP, *STANDALONE_RULES),
    check=check,
    tags=("network",),
)
