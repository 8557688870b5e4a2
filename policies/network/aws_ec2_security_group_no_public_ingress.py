"""No security group admits traffic from the whole internet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.common import items, number
from policies.control import Control, Resource

GROUPS = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
)
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ANYWHERE = ("0.0.0.0/0", "::/0")


def traffic(protocol: Any, low: Any, high: Any) -> str:
    """`all traffic`, `tcp 443` or `tcp 8000-8080`."""
    if str(protocol) in ("-1", "all"):
        return "all traffic"
    start, end = number(low), number(high)
    if start is None or end is None:
        return str(protocol)
    return f"{protocol} {start:g}" if start == end else f"{protocol} {start:g}-{end:g}"


def open_to_world(cidrs: Iterable[Any], what: str) -> Iterable[str]:
    for cidr in cidrs:
        if cidr in ANYWHERE:
            yield f"ingress from {cidr} ({what})"


def check(resource: Resource) -> Iterable[str]:
    props = resource.props
    if resource.type in GROUPS:
        for rule in items(props.get("ingress")):
            if not isinstance(rule, Mapping):
                continue
            what = traffic(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            cidrs = [*items(rule.get("cidrBlocks")), *items(rule.get("ipv6CidrBlocks"))]
            yield from open_to_world(cidrs, what)
    elif resource.type == INGRESS_RULE:
        what = traffic(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
        yield from open_to_world([props.get("cidrIpv4"), props.get("cidrIpv6")], what)
    elif props.get("type") == "ingress":  # aws.ec2.SecurityGroupRule
        what = traffic(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
        cidrs = [*items(props.get("cidrBlocks")), *items(props.get("ipv6CidrBlocks"))]
        yield from open_to_world(cidrs, what)


CONTROL = Control(
    id="aws-ec2-security-group-no-public-ingress",
    description="No security group or ingress rule admits traffic from 0.0.0.0/0 or ::/0.",
    why="Endpoints, notebooks and training containers in the VPC hold models and customer "
    "data; the platform's public entry points are managed services (API Gateway) outside "
    "security groups, so an ingress rule open to the internet is always a mistake.",
    severity="critical",
    mirrors=(
        "CKV_AWS_24",
        "CKV_AWS_277",
        "cfn-nag W2",
        "cfn-nag W3",
        "cfn-nag W4",
        "AWS Config vpc-sg-open-only-to-authorized-ports",
        "prowler ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
        "prowler ec2_securitygroup_allow_ingress_from_internet_to_any_port",
    ),
    remediation="Allow ingress from the VPC CIDR, a prefix list or a source security group "
    "instead of 0.0.0.0/0 or ::/0 (modules.network.Network does).",
    resource_types=(*GROUPS, INGRESS_RULE, RULE),
    check=check,
    tags=("network",),
)
