"""Production DynamoDB tables have deletion protection."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_on
from policies.control import Control, Resource


def check(table: Resource) -> Iterable[str]:
    if not is_on(table.props.get("deletionProtectionEnabled")):
        yield "deletion protection is not enabled"


CONTROL = Control(
    id="aws-dynamodb-table-deletion-protection-prod",
    description="Production DynamoDB tables have deletion protection enabled.",
    why="Deleting a production feature table (a replacement, a stack teardown, a console "
    "slip) takes live scoring down and loses its state; deletion protection makes the API "
    "refuse until it is turned off on purpose.",
    severity="medium",
    mirrors=(
        "AWS Config dynamodb-table-deletion-protection-enabled",
        "prowler dynamodb_table_deletion_protection_enabled",
    ),
    remediation="Set deletion_protection_enabled=True on aws.dynamodb.Table "
    "(modules.feature_store.StreamingIngestion does in prod).",
    resource_types=("aws:dynamodb/table:Table",),
    check=check,
    environments=("prod",),
    tags=("feature-store",),
)
