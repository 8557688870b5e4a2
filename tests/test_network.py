"""Network module: exact inputs, what it must never create, and argument checks."""

from __future__ import annotations

import dataclasses
import json

import pytest

from modules.common import Durability
from modules.network import FlowLogArgs, Network, NetworkArgs

ZONES = ["eu-west-1a", "eu-west-1b"]
TAGS = {"owner": "team", "cost-center": "1"}


def network(record_program, **overrides):
    args = NetworkArgs(region="eu-west-1", availability_zones=ZONES, tags=TAGS)
    return record_program(lambda: Network("n", dataclasses.replace(args, **overrides)))


def test_private_only_vpc(record_program) -> None:
    recording = network(record_program)
    types = {r.type for r in recording.resources}
    for public in ("internetGateway:InternetGateway", "natGateway:NatGateway", "eip:Eip"):
        assert f"aws:ec2/{public}" not in types
    assert recording.named("n-vpc").inputs == {
        "cidrBlock": "10.0.0.0/16",
        "enableDnsHostnames": True,
        "enableDnsSupport": True,
        "tags": {"Name": "n-vpc", "mlkit:component": "network"} | TAGS,
    }
    subnets = [recording.named(f"n-private-{zone}").inputs for zone in ZONES]
    assert [(s["availabilityZone"], s["cidrBlock"], s["mapPublicIpOnLaunch"]) for s in subnets] == [
        ("eu-west-1a", "10.0.0.0/20", False),
        ("eu-west-1b", "10.0.16.0/20", False),
    ]
    assert recording.named("n-default-sg").inputs["ingress"] == []
    assert recording.named("n-default-sg").inputs["egress"] == []


def test_free_gateway_endpoints_and_no_interface_endpoints_by_default(record_program) -> None:
    recording = network(record_program)
    endpoints = recording.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert sorted((e.inputs["serviceName"], e.inputs["vpcEndpointType"]) for e in endpoints) == [
        ("com.amazonaws.eu-west-1.dynamodb", "Gateway"),
        ("com.amazonaws.eu-west-1.s3", "Gateway"),
    ]
    assert all(e.inputs["routeTableIds"] == ["n-private-rt-id"] for e in endpoints)
    assert recording.of_type("aws:ec2/securityGroup:SecurityGroup") == [
        recording.named("n-workload-sg")
    ]


def test_workload_security_group_reaches_only_endpoints_and_its_members(record_program) -> None:
    sg = network(record_program).named("n-workload-sg").inputs
    https = {"fromPort": 443, "protocol": "tcp", "toPort": 443}
    members = {"fromPort": 0, "protocol": "-1", "self": True, "toPort": 0}
    members["description"] = "All traffic among the workloads (distributed training)"
    assert sg["egress"] == [
        members,
        https
        | {
            "cidrBlocks": ["10.0.0.0/16"],
            "description": "HTTPS to the interface endpoints in the VPC",
        },
        https
        | {
            "prefixListIds": sg["egress"][2]["prefixListIds"],
            "description": "HTTPS to S3 and DynamoDB through the gateway endpoints",
        },
    ]
    # The S3 and DynamoDB gateway endpoints' prefix lists (computed by AWS, mocked here).
    prefix_lists = sg["egress"][2]["prefixListIds"]
    assert len(set(prefix_lists)) == 2 and all(p.startswith("pl-") for p in prefix_lists)
    assert sg["ingress"] == [members]


def test_interface_endpoints_in_every_private_subnet(record_program) -> None:
    recording = network(record_program, interface_endpoints=("sagemaker.runtime", "sts"))
    runtime = recording.named("n-sagemaker-runtime-endpoint").inputs
    assert runtime == {
        "privateDnsEnabled": True,
        "securityGroupIds": ["n-endpoint-sg-id"],
        "serviceName": "com.amazonaws.eu-west-1.sagemaker.runtime",
        "subnetIds": ["n-private-eu-west-1a-id", "n-private-eu-west-1b-id"],
        "tags": {"Name": "n-sagemaker-runtime-endpoint", "mlkit:component": "network"} | TAGS,
        "vpcEndpointType": "Interface",
        "vpcId": "n-vpc-id",
    }
    assert recording.named("n-sts-endpoint").inputs["serviceName"] == "com.amazonaws.eu-west-1.sts"
    assert recording.named("n-endpoint-sg").inputs["ingress"] == [
        {
            "cidrBlocks": ["10.0.0.0/16"],
            "description": "HTTPS from inside the VPC",
            "fromPort": 443,
            "protocol": "tcp",
            "toPort": 443,
        }
    ]


def test_interface_endpoints_in_the_first_endpoint_az_count_zones(record_program) -> None:
    """Of three AZs, the endpoints are in the first two (the default): resilient to one AZ's
    loss, a third of their hourly cost saved; the workloads' subnets stay in all three."""
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    two = network(record_program, availability_zones=zones, interface_endpoints=("sts",))
    assert two.named("n-sts-endpoint").inputs["subnetIds"] == [
        "n-private-eu-west-1a-id",
        "n-private-eu-west-1b-id",
    ]
    assert len(two.of_type("aws:ec2/subnet:Subnet")) == 3
    three = network(
        record_program, availability_zones=zones, interface_endpoints=("sts",), endpoint_az_count=3
    )
    assert three.named("n-sts-endpoint").inputs["subnetIds"] == [
        f"n-private-{zone}-id" for zone in zones
    ]


def test_athena_endpoint_resolves_the_public_athena_name_privately(record_program) -> None:
    """With private DNS, `athena.<region>.amazonaws.com` resolves to the endpoint inside the VPC
    (Athena's interface endpoint doc): boto3 in the data-set job needs no endpoint URL."""
    recording = network(record_program, interface_endpoints=("athena",))
    assert recording.named("n-athena-endpoint").inputs == {
        "privateDnsEnabled": True,
        "securityGroupIds": ["n-endpoint-sg-id"],
        "serviceName": "com.amazonaws.eu-west-1.athena",
        "subnetIds": ["n-private-eu-west-1a-id", "n-private-eu-west-1b-id"],
        "tags": {"Name": "n-athena-endpoint", "mlkit:component": "network"} | TAGS,
        "vpcEndpointType": "Interface",
        "vpcId": "n-vpc-id",
    }


def test_athena_is_an_endpoint_the_blueprints_add_while_their_athena_jobs_run_in_the_vpc(
    plan_of,
) -> None:
    from typing import get_args

    from modules.network.settings import InterfaceEndpoint, NetworkSettings

    assert "athena" in get_args(InterfaceEndpoint)
    assert NetworkSettings(interfaceEndpoints=["athena"]).interface_endpoints == ("athena",)
    # Staging and prod keep the Athena jobs in the VPC (the default); the dev profile runs
    # them outside it, so dev stacks have no endpoint to pay for. Base stacks need none.
    for stack, expected in [
        ("fraud-dev", False),
        ("fraud-staging", True),
        ("fraud-prod", True),
        ("recsys-dev", False),
        ("recsys-staging", True),
        ("recsys-prod", True),
    ]:
        plan = plan_of(stack)
        assert plan.settings.network.athena_jobs_in_vpc is expected, stack
        names = {r.name for r in plan.recording.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
        assert (f"{stack}-network-athena-endpoint" in names) is expected, stack


def test_flow_logs_go_to_an_encrypted_group_through_a_scoped_role(record_program) -> None:
    flow = FlowLogArgs(
        account_id="111122223333",
        kms_key_arn="arn:aws:kms:k",
        retention_days=90,
        durability=Durability.from_setting("retain"),
    )
    recording = network(record_program, flow_logs=flow)
    group = recording.named("n-flow-logs")
    assert (group.protect, group.retain_on_delete) == (True, True)
    assert {k: v for k, v in group.inputs.items() if k != "tags"} == {
        "deletionProtectionEnabled": True,
        "kmsKeyId": "arn:aws:kms:k",
        "name": "/mlkit/n/vpc-flow-logs",
        "retentionInDays": 90,
    }
    group_arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/mlkit/n/vpc-flow-logs"
    policy = json.loads(recording.named("n-flow-logs-role-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [group_arn, f"{group_arn}:*"],
        }
    ]
    trust = json.loads(recording.named("n-flow-logs-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert recording.named("n-flow-log").inputs | {"tags": None} == {
        "iamRoleArn": "arn:aws:iam::123456789012:role/n-flow-logs-role",
        "logDestination": group_arn,
        "logDestinationType": "cloud-watch-logs",
        "tags": None,
        "trafficType": "ALL",
        "vpcId": "n-vpc-id",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"availability_zones": ["eu-west-1a"]}, "a network needs at least 2 availability zones"),
        ({"availability_zones": ["eu-west-1a"] * 2}, "availability_zones lists a zone twice"),
        ({"interface_endpoints": ("sts", "sts")}, "interface_endpoints lists a service twice"),
        (
            {"endpoint_az_count": 1},
            "endpoint_az_count must be from 2 to the number of availability zones",
        ),
        (
            {"availability_zones": ["eu-west-1a", "eu-west-1b"], "endpoint_az_count": 3},
            "endpoint_az_count must be from 2 to the number of availability zones",
        ),
    ],
)
def test_conflicting_args_raise(record_program, overrides, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        network(record_program, **overrides)
    assert str(raised.value) == message
