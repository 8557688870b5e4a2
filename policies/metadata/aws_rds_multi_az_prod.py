"""Production RDS instances are Multi-AZ."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.metadata._rds import INSTANCE


def check(instance: Resource) -> Iterable[str]:
    if instance.props.get("multiAz") is not True:
        yield "instance is not Multi-AZ"


CONTROL = Control(
    id="aws-rds-multi-az-prod",
    description="Production RDS instances (aws.rds.Instance) set multiAz.",
    why="Serving and training look up the registry at deploy and run time; a standby in a "
    "second zone keeps it available through a zone outage. Clusters are not checked: "
    "Aurora storage spans three zones, and their compute redundancy (two or more cluster "
    "instances) would need a check across resources.",
    severity="medium",
    mirrors=(
        "CKV_AWS_157",
        "AWS Config rds-multi-az-support",
        "prowler rds_instance_multi_az",
    ),
    remediation="Set multi_az=True on aws.rds.Instance in prod.",
    resource_types=(INSTANCE,),
    check=check,
    environments=("prod",),
    tags=("metadata", "rds"),
)
