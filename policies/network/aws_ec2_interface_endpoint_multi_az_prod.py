"""Production interface endpoints have a network interface in at least two AZs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import items, text
from policies.control import Control, Resource
from policies.network._vpc import keys

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SUBNET = "aws:ec2/subnet:Subnet"


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    zone_of = {
        key: text(subnet.props.get("availabilityZone"))
        or text(subnet.props.get("availabilityZoneId"))
        for subnet in resources
        if subnet.type == SUBNET
        for key in keys(subnet)
    }
    for endpoint in resources:
        if endpoint.type != ENDPOINT or endpoint.props.get("vpcEndpointType") != "Interface":
            continue
        subnet_ids = [s for s in items(endpoint.props.get("subnetIds")) if isinstance(s, str)]
        # A subnet outside the stack (a physical id) counts as a zone of its own.
        zones = {zone_of.get(subnet) or subnet for subnet in subnet_ids}
        if len(zones) < 2:
            yield endpoint, f"interface endpoint in {len(zones)} AZ(s): one AZ's loss cuts it off"


CONTROL = Control(
    id="aws-ec2-interface-endpoint-multi-az-prod",
    description="Every production interface endpoint has subnets in at least two AZs.",
    why="Workloads in private subnets reach the AWS APIs only through their interface "
    "endpoints; AWS makes an endpoint resilient to an AZ's failure by a network interface in "
    "each of several AZs' subnets. With one, an AZ outage stops scoring and ingestion in every "
    "AZ. More than two only saves cross-AZ hops, at about $8 a month per endpoint and AZ.",
    severity="medium",
    mirrors=("AWS PrivateLink: interface endpoints, subnets in more than one AZ",),
    remediation="Give the endpoint subnet_ids in two or more AZs (modules.network.Network puts "
    "its endpoints in the first network.endpointAzCount AZs, 2 or more).",
    stack_check=check,
    environments=("prod",),
    tags=("network",),
)
