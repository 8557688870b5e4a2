"""Settings of the network component (`mlkit:network`)."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from mlkit.settings import Section

InterfaceEndpoint = Literal[
    "sagemaker.api",
    "sagemaker.runtime",
    "sagemaker.featurestore-runtime",
    "monitoring",
    "sqs",
    "xray",
    "sts",
    "logs",
    "ecr.api",
    "ecr.dkr",
    "kinesis-streams",
    "athena",
]


def _private_cidr(value: IPv4Network) -> IPv4Network:
    if not value.is_private or not 16 <= value.prefixlen <= 24:
        raise ValueError("must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16")
    return value


class NetworkSettings(Section):
    """The VPC: private subnets only, no NAT gateway, no internet gateway."""

    cidr_block: Annotated[IPv4Network, AfterValidator(_private_cidr)] = IPv4Network("10.0.0.0/16")
    """Private IPv4 range of the VPC (/16 to /24); each AZ gets a sixteenth of it."""
    az_count: int = Field(2, ge=2, le=6)
    """Availability zones to spread private subnets over (2-6)."""
    interface_endpoints: tuple[InterfaceEndpoint, ...] = ()
    """Private paths to AWS APIs for workloads in the VPC; each costs about $8/month per AZ
    it is in (S3 and DynamoDB gateway endpoints are always there, and free)."""
    endpoint_az_count: int = Field(2, ge=2, le=6)
    """AZs (the first of the network's) that get a network interface of every interface
    endpoint, at most `azCount`. Two keep the endpoints up through the loss of one AZ (AWS:
    subnets in more than one AZ make an endpoint resilient to an AZ's failure); workloads in
    the other AZs reach them across zones through the endpoints' DNS names. Each further AZ
    costs about $8 a month per endpoint."""
    flow_logs: bool = False
    """Record all VPC traffic to an encrypted log group."""
    athena_jobs_in_vpc: bool = True
    """The pipeline jobs that call Athena (the fraud data set, the recommender's interactions
    and active users) run in the private subnets and reach Athena through the VPC's `athena`
    interface endpoint (about $8 a month per AZ). False runs those jobs on SageMaker's own
    network instead, outside the VPC, and drops the endpoint, which is most of a dev stack's
    idle cost; every other job stays in the VPC, network-isolated. The policy
    aws-sagemaker-pipeline-steps-vpc-isolated reports it (advisory in dev; mandatory in
    staging and prod, which therefore keep the default). The dev profile sets false."""

    functions_in_vpc: bool = False
    """The kit's Lambda functions run in the private subnets (in the workload security group)
    and reach the AWS APIs their handlers call through interface endpoints, made for exactly
    those APIs (S3 and DynamoDB through the free gateways; Lambda sends their logs and traces
    itself): about $8 a month per endpoint per AZ. The fraud stacks need four (SageMaker
    runtime, feature store runtime, SageMaker API, SQS); the recommender none (its functions
    call only S3 and DynamoDB). False runs them on Lambda's own network: they call only AWS
    APIs, signed and over TLS. The prod profile sets true."""

    @model_validator(mode="after")
    def _unique_endpoints(self) -> NetworkSettings:
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise ValueError("interfaceEndpoints lists an endpoint twice")
        return self

    @model_validator(mode="after")
    def _endpoints_within_network(self) -> NetworkSettings:
        if self.endpoint_az_count > self.az_count:
            raise ValueError(
                f"endpointAzCount ({self.endpoint_az_count}) is more than azCount "
                f"({self.az_count}): endpoints can only be in the network's AZs"
            )
        return self
