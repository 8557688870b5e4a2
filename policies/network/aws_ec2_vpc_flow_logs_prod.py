"""Production VPCs have flow logs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.control import Control, Resource
from policies.network._vpc import VPC, attached

FLOW_LOG = "aws:ec2/flowLog:FlowLog"


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    vpcs = [r for r in resources if r.type == VPC]
    logs = [r for r in resources if r.type == FLOW_LOG]
    found = attached(vpcs, logs, "vpcId")
    for vpc in vpcs:
        if not found[vpc.urn]:
            yield vpc, "VPC has no flow log"


CONTROL = Control(
    id="aws-ec2-vpc-flow-logs-prod",
    description="Every production VPC has a VPC flow log.",
    why="Serving endpoints and training jobs run in the VPC with customer data; flow logs are "
    "the record of what talked to what when an incident or an exfiltration question comes. "
    "Dev and staging skip the log cost.",
    severity="medium",
    mirrors=(
        "CKV2_AWS_11",
        "AWS Config vpc-flow-logs-enabled",
        "prowler vpc_flow_logs_enabled",
    ),
    remediation="Add aws.ec2.FlowLog(vpc_id=..., traffic_type='ALL') to a CloudWatch log group or "
    "S3 (modules.network.Network does with flow_logs set, as prod stacks do).",
    stack_check=check,
    environments=("prod",),
    tags=("network",),
)
