"""Network: a private-only VPC with free gateway endpoints and optional interface endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network

import pulumi
import pulumi_aws as aws

from modules.common import Durability, resource_tags
from modules.observability import encrypted_log_group
from modules.security.iam import allow, service_role

HTTPS = {"protocol": "tcp", "from_port": 443, "to_port": 443}
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
FLOW_LOG_ACTIONS = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]


@dataclass
class FlowLogArgs:
    account_id: pulumi.Input[str]
    """Account whose VPC flow-log service may assume the delivery role."""
    kms_key_arn: pulumi.Input[str]
    """Key for the flow-log group."""
    retention_days: int
    """Retention of the flow-log group."""
    durability: Durability
    """Durability of the flow-log group."""


@dataclass
class NetworkArgs:
    region: str
    """Region of the stack; endpoint service names are built from it."""
    availability_zones: Sequence[str]
    """AZs to spread private subnets over (at least 2)."""
    cidr_block: str = "10.0.0.0/16"
    """VPC range; each AZ gets one private subnet a sixteenth of it."""
    interface_endpoints: Sequence[str] = ()
    """Interface endpoint services (e.g. `sagemaker.runtime`), each about $8/month per AZ."""
    endpoint_az_count: int = 2
    """The first this many AZs get the interface endpoints' network interfaces (2 or more,
    at most the network's)."""
    flow_logs: FlowLogArgs | None = None
    """Record all VPC traffic to an encrypted log group; None records nothing."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""


class Network(pulumi.ComponentResource):
    """A VPC with private subnets only (no internet or NAT gateway), a locked-down default
    security group, free gateway endpoints for S3 and DynamoDB, the interface endpoints
    asked for, and a workload security group that allows HTTPS inside the VPC, to the
    gateway endpoints, and any traffic between its own members (distributed training)."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    workload_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:network:Network", name, None, opts)
        if len(args.availability_zones) < 2:
            raise ValueError("a network needs at least 2 availability zones")
        if len(set(args.availability_zones)) != len(args.availability_zones):
            raise ValueError("availability_zones lists a zone twice")
        if len(set(args.interface_endpoints)) != len(args.interface_endpoints):
            raise ValueError("interface_endpoints lists a service twice")
        if not 2 <= args.endpoint_az_count <= len(args.availability_zones):
            raise ValueError("endpoint_az_count must be from 2 to the number of availability zones")
        cidr = IPv4Network(args.cidr_block)
        tags = dict(args.tags) | {"mlkit:component": "network"}
        child = pulumi.ResourceOptions(parent=self)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=resource_tags(f"{name}-vpc", tags),
            opts=child,
        )
        # The default group allows all traffic between members; leave it with no rules.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=resource_tags(f"{name}-default-sg", tags),
            opts=child,
        )
        route_table = aws.ec2.RouteTable(
            f"{name}-private-rt",
            vpc_id=vpc.id,
            tags=resource_tags(f"{name}-private-rt", tags),
            opts=child,
        )
        subnet_ranges = cidr.subnets(new_prefix=cidr.prefixlen + 4)
        subnets = []
        for zone, subnet_range in zip(args.availability_zones, subnet_ranges, strict=False):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=str(subnet_range),
                map_public_ip_on_launch=False,
                tags=resource_tags(f"{name}-private-{zone}", tags, {"mlkit:tier": "private"}),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}-rt",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            subnets.append(subnet)

        gateway_prefix_lists = []
        for service in GATEWAY_ENDPOINTS:
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[route_table.id],
                tags=resource_tags(f"{name}-{service}-gateway", tags),
                opts=child,
            )
            gateway_prefix_lists.append(endpoint.prefix_list_id)

        workload_sg = aws.ec2.SecurityGroup(
            f"{name}-workload-sg",
            vpc_id=vpc.id,
            description="mlkit workloads: HTTPS to AWS endpoints, all traffic among members",
            ingress=[
                {
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "self": True,
                    "description": "All traffic among the workloads (distributed training)",
                }
            ],
            egress=[
                {
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "self": True,
                    "description": "All traffic among the workloads (distributed training)",
                },
                HTTPS
                | {
                    "cidr_blocks": [str(cidr)],
                    "description": "HTTPS to the interface endpoints in the VPC",
                },
                HTTPS
                | {
                    "prefix_list_ids": gateway_prefix_lists,
                    "description": "HTTPS to S3 and DynamoDB through the gateway endpoints",
                },
            ],
            tags=resource_tags(f"{name}-workload-sg", tags),
            opts=child,
        )
        self._name, self._vpc, self._cidr = name, vpc, cidr
        self._region, self._tags = args.region, tags
        self._endpoint_subnets = subnets[: args.endpoint_az_count]
        self._endpoint_sg: aws.ec2.SecurityGroup | None = None
        self._endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        self.require_interface_endpoints(args.interface_endpoints)

        if args.flow_logs is not None:
            flow = args.flow_logs
            log_group = encrypted_log_group(
                f"{name}-flow-logs",
                log_group_name=f"/mlkit/{name}/vpc-flow-logs",
                retention_days=flow.retention_days,
                kms_key_arn=flow.kms_key_arn,
                durability=flow.durability,
                tags=tags,
                parent=self,
            )
            role = service_role(
                f"{name}-flow-logs-role",
                service="vpc-flow-logs.amazonaws.com",
                account_id=flow.account_id,
                statements=[
                    allow(
                        FLOW_LOG_ACTIONS,
                        [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
                    )
                ],
                tags=tags,
                parent=self,
            )
            aws.ec2.FlowLog(
                f"{name}-flow-log",
                vpc_id=vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=log_group.arn,
                iam_role_arn=role.arn,
                tags=resource_tags(f"{name}-flow-log", tags),
                opts=child,
            )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in subnets])
        self.workload_security_group_id = workload_sg.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "workload_security_group_id": self.workload_security_group_id,
            }
        )

    def require_interface_endpoints(self, services: Sequence[str]) -> list[aws.ec2.VpcEndpoint]:
        """Interface endpoints for `services` (e.g. `sagemaker.runtime`) in the private subnets
        of the first `endpoint_az_count` AZs, each made once, when a workload in the VPC first
        needs it (so there is none that nothing uses); with the first, the endpoints' security
        group (HTTPS from inside the VPC). Returns the endpoints of `services`."""
        child = pulumi.ResourceOptions(parent=self)
        for service in services:
            if service in self._endpoints:
                continue
            if self._endpoint_sg is None:
                self._endpoint_sg = aws.ec2.SecurityGroup(
                    f"{self._name}-endpoint-sg",
                    vpc_id=self._vpc.id,
                    description="mlkit interface endpoints: HTTPS from inside the VPC",
                    ingress=[
                        HTTPS
                        | {
                            "cidr_blocks": [str(self._cidr)],
                            "description": "HTTPS from inside the VPC",
                        }
                    ],
                    egress=[],
                    tags=resource_tags(f"{self._name}-endpoint-sg", self._tags),
                    opts=child,
                )
            role = service.replace(".", "-")
            self._endpoints[service] = aws.ec2.VpcEndpoint(
                f"{self._name}-{role}-endpoint",
                vpc_id=self._vpc.id,
                service_name=f"com.amazonaws.{self._region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in self._endpoint_subnets],
                security_group_ids=[self._endpoint_sg.id],
                tags=resource_tags(f"{self._name}-{role}-endpoint", self._tags),
                opts=child,
            )
        return [self._endpoints[service] for service in services]
