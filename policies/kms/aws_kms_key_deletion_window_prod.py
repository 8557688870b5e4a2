"""Production keys wait the longest deletion window."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import number
from policies.control import Control, Resource

# Keys and the input holding the waiting period before deletion (AWS default: 30 days).
WINDOW_INPUTS = {
    "aws:kms/key:Key": "deletionWindowInDays",
    "aws:kms/replicaKey:ReplicaKey": "deletionWindowInDays",
    "aws:kms/externalKey:ExternalKey": "deletionWindowInDays",
    "aws:kms/replicaExternalKey:ReplicaExternalKey": "deletionWindowInDays",
    "aws-native:kms:Key": "pendingWindowInDays",
}
WINDOW_DAYS = 30


def check(key: Resource) -> Iterable[str]:
    value = key.props.get(WINDOW_INPUTS[key.type])
    if value is None:
        return  # AWS's default, 30 days
    days = number(value)
    if days is None:
        yield f"key deletion window {value!r} is not a number of days"
    elif days != WINDOW_DAYS:
        yield f"key deletion window is {days:g} days, not {WINDOW_DAYS}"


CONTROL = Control(
    id="aws-kms-key-deletion-window-prod",
    description="Production KMS keys keep the 30-day deletion window (unset means AWS's "
    "default of 30 days).",
    why="Deleting the stack key makes every object, table, stream and log encrypted under "
    "it unreadable for good; the full window leaves a month to notice and cancel a "
    "scheduled deletion. No anchor rule checks the window itself (prowler "
    "kms_cmk_not_deleted_unintentionally flags keys already scheduled for deletion).",
    severity="medium",
    mirrors=("mlkit",),
    remediation="Set deletion_window_in_days=30 on aws.kms.Key, or leave it unset "
    "(modules.security.StackKey does in prod).",
    resource_types=tuple(WINDOW_INPUTS),
    check=check,
    environments=("prod",),
    tags=("kms", "durability"),
)
