"""Every VPC manages its default security group, with no rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import items
from policies.control import Control, Resource
from policies.network._vpc import VPC, attached

DEFAULT_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
RULES = (
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
)


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    vpcs = [r for r in resources if r.type == VPC]
    groups = [r for r in resources if r.type == DEFAULT_GROUP]
    for group in groups:
        for direction in ("ingress", "egress"):
            if items(group.props.get(direction)):
                yield group, f"default security group has {direction} rules"
    rules = [r for r in resources if r.type in RULES]
    for group_rules in attached(groups, rules, "securityGroupId", fallback=False).values():
        for rule in group_rules:
            yield rule, "rule opens the default security group"
    managed = attached(vpcs, groups, "vpcId")
    for vpc in vpcs:
        if not managed[vpc.urn]:
            yield (
                vpc,
                "VPC does not manage its default security group, which keeps AWS's allow-all rules",
            )


CONTROL = Control(
    id="aws-ec2-default-security-group-closed",
    description="Every VPC manages its default security group (aws.ec2.DefaultSecurityGroup) "
    "and leaves it with no ingress or egress rules.",
    why="Anything launched without a security group (a notebook, a processing job, a "
    "hand-made instance) lands in the default group, which AWS creates allowing all outbound "
    "traffic and all traffic among its members; closing it makes every workload name the "
    "group it needs.",
    severity="high",
    mirrors=(
        "CKV2_AWS_12",
        "AWS Config vpc-default-security-group-closed",
        "prowler ec2_securitygroup_default_restrict_traffic",
    ),
    remediation="Adopt each VPC's default group with aws.ec2.DefaultSecurityGroup(vpc_id=..., "
    "ingress=[], egress=[]) and attach no rules to it (modules.network.Network does).",
    stack_check=check,
    tags=("network",),
)
