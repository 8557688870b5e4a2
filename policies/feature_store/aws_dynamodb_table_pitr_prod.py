"""Production DynamoDB tables have point-in-time recovery."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_on, value_at
from policies.control import Control, Resource


def check(table: Resource) -> Iterable[str]:
    if not is_on(value_at(table.props.get("pointInTimeRecovery"), "enabled")):
        yield "point-in-time recovery is not enabled"


CONTROL = Control(
    id="aws-dynamodb-table-pitr-prod",
    description="Production DynamoDB tables have point-in-time recovery enabled.",
    why="A bad deploy of the streaming aggregator can corrupt every card's rolling features in "
    "minutes; point-in-time recovery restores the table to the second before. Dev and staging "
    "tables are rebuilt from the stream instead.",
    severity="medium",
    mirrors=(
        "CKV_AWS_28",
        "AWS Config dynamodb-pitr-enabled",
        "prowler dynamodb_tables_pitr_enabled",
    ),
    remediation="Set point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs("
    "enabled=True) (modules.feature_store.StreamingIngestion does in prod).",
    resource_types=("aws:dynamodb/table:Table",),
    check=check,
    environments=("prod",),
    tags=("feature-store",),
)
