"""Lambda functions in the VPC (`network.functionsInVpc`, the prod profile): every function in
the private subnets and the workload security group, with the network-interface permissions
Lambda uses its role for, and the VPC has an interface endpoint for exactly the AWS APIs the
functions' handlers call (read from the handlers' code: the VPC has no NAT, so an API
without an endpoint is unreachable, and an endpoint nothing calls is $24 a month wasted).
Dev and staging keep them on Lambda's own network."""

from __future__ import annotations

import json
import re

import pytest

from mlkit.stackfile import PROJECT_ROOT
from tests.test_realtime_fraud import MONITORED

# boto3 client name -> the interface endpoint service it needs; None: a gateway endpoint
# (S3, DynamoDB) serves it.
CLIENT_ENDPOINTS = {
    "s3": None,
    "dynamodb": None,
    "sagemaker": "sagemaker.api",
    "sagemaker-runtime": "sagemaker.runtime",
    "sagemaker-featurestore-runtime": "sagemaker.featurestore-runtime",
    "cloudwatch": "monitoring",
    "sqs": "sqs",
}
CLIENT = re.compile(r"""client\(\s*["']([a-z0-9-]+)["']""")
FUNCTION = "aws:lambda/function:Function"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
# Interface endpoints that functions do not explain: the Athena jobs' (training data set).
JOB_ENDPOINTS = {"athena"}


def handler_endpoints(code_dir: str) -> set[str]:
    """The interface endpoints the code under `code_dir` needs, from its boto3 clients."""
    clients = {
        name
        for path in sorted((PROJECT_ROOT / code_dir).rglob("*.py"))
        for name in CLIENT.findall(path.read_text(encoding="utf-8"))
    }
    unknown = clients - set(CLIENT_ENDPOINTS)
    assert not unknown, f"{code_dir} calls {sorted(unknown)}: add them to CLIENT_ENDPOINTS"
    return {CLIENT_ENDPOINTS[c] for c in clients} - {None}


def interface_endpoints(recording) -> set[str]:
    """`com.amazonaws.<region>.<service>` -> the services of the interface endpoints."""
    return {
        e.inputs["serviceName"].split(".", 3)[3]
        for e in recording.of_type(ENDPOINT)
        if e.inputs["vpcEndpointType"] == "Interface"
    }


def test_the_handlers_clients_are_all_known() -> None:
    every = {
        path.parent.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "functions").rglob("handler.py")
    }
    assert every  # the scan below covers each function's code
    assert {d: handler_endpoints(d) for d in sorted(every)} == {
        "functions/aggregator": {"sagemaker.featurestore-runtime", "sqs"},
        "functions/monitoring/launch": {"sagemaker.api"},
        "functions/monitoring/publish": {"monitoring", "sagemaker.api"},
        "functions/recommendations/loader": set(),
        "functions/recommendations/lookup": set(),
        "functions/retrain_guard": {"sagemaker.api"},
        "functions/scoring": {"sagemaker.runtime", "sagemaker.featurestore-runtime"},
    }


@pytest.mark.parametrize("stack", ["fraud-prod", "recsys-prod", "monitored"])
def test_prod_functions_run_in_the_vpc_with_endpoints_for_exactly_what_they_call(
    plan_of, stack
) -> None:
    plan = plan_of(str(MONITORED) if stack == "monitored" else stack)
    recording = plan.recording
    # The mock runtime's IDs are `<name>-id`.
    subnets = [f"{s.name}-id" for s in recording.of_type("aws:ec2/subnet:Subnet")]
    [workload_sg] = [
        f"{g.name}-id"
        for g in recording.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name.endswith("-workload-sg")
    ]
    needed, outside = set(), []
    for function in recording.of_type(FUNCTION):
        config = function.inputs.get("vpcConfig")
        if config is None:
            outside.append(function.name)
            continue
        assert config == {"subnetIds": subnets, "securityGroupIds": [workload_sg]}
        needed |= handler_endpoints(function.inputs["tags"]["mlkit:code"])
    # Only the MLflow-logging publisher stays out: the kit makes no endpoint for MLflow.
    assert outside == (["fraud-monitored-monitoring-publisher"] if stack == "monitored" else [])
    # Lambda sends the functions' logs and traces itself: no endpoint for those.
    assert interface_endpoints(recording) == needed | JOB_ENDPOINTS


def test_the_fraud_endpoints_are_these(plan_of) -> None:
    assert interface_endpoints(plan_of("fraud-prod").recording) == {
        "athena",
        "sagemaker.api",
        "sagemaker.featurestore-runtime",
        "sagemaker.runtime",
        "sqs",
    }
    # The recommender's functions call S3 and DynamoDB only, through the gateways.
    assert interface_endpoints(plan_of("recsys-prod").recording) == {"athena"}


def test_a_function_in_the_vpc_may_manage_network_interfaces_but_its_code_may_not(
    plan_of,
) -> None:
    recording = plan_of("recsys-prod").recording
    policy = recording.named("recsys-prod-serving-lookup-role-policy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    vpc = [
        s for s in statements if s["Sid"] in ("VpcInterfaces", "DescribeVpc", "NotFromFunctionCode")
    ]
    assert vpc == [
        {
            "Sid": "VpcInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:AssignPrivateIpAddresses",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:UnassignPrivateIpAddresses",
            ],
            # The Lambda guide's form: narrower ARNs can fail Lambda's checks.
            "Resource": ["arn:aws:ec2:eu-west-1:123456789012:*/*"],
        },
        {
            "Sid": "DescribeVpc",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": ["*"],
        },
        {
            "Sid": "NotFromFunctionCode",
            "Effect": "Deny",
            "Action": [
                "ec2:AssignPrivateIpAddresses",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": ["*"],
            "Condition": {
                "ArnEquals": {
                    "lambda:SourceFunctionArn": [
                        "arn:aws:lambda:eu-west-1:123456789012:function:recsys-prod-serving-lookup"
                    ]
                }
            },
        },
    ]


def test_a_function_in_the_vpc_waits_for_the_endpoints_it_calls(plan_of) -> None:
    recording = plan_of("fraud-prod").recording
    scoring = recording.named("fraud-prod-scoring-scoring")
    endpoints = {
        r.urn: r.name
        for r in recording.of_type(ENDPOINT)
        if r.inputs["vpcEndpointType"] == "Interface"
    }
    assert sorted(endpoints[u] for u in scoring.depends_on if u in endpoints) == [
        "fraud-prod-network-sagemaker-featurestore-runtime-endpoint",
        "fraud-prod-network-sagemaker-runtime-endpoint",
    ]


@pytest.mark.parametrize("stack", ["fraud-dev", "fraud-staging", "recsys-dev", "recsys-staging"])
def test_other_environments_keep_functions_on_lambdas_network(plan_of, stack) -> None:
    recording = plan_of(stack).recording
    functions = recording.of_type(FUNCTION)
    assert functions and all("vpcConfig" not in f.inputs for f in functions)
    for function in functions:
        statements = json.loads(recording.named(f"{function.name}-role-policy").inputs["policy"])
        assert not any(s["Sid"] == "VpcInterfaces" for s in statements["Statement"])
