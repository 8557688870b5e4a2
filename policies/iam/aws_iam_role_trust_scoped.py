"""Role trust policies name their principals and pin services to the account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.common import as_list, is_object, object_at
from policies.control import Control, Resource
from policies.iam._documents import is_allow, is_public, label, policy_statements

# Roles and the input holding the trust (assume-role) policy.
TRUST_INPUTS = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws-native:iam:Role": "assumeRolePolicyDocument",
}
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn")


def services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    found = principal.get("Service") if is_object(principal) else None
    return [str(s) for s in as_list(found)]


def pinned_to_source(statement: dict[str, Any]) -> bool:
    """Some condition tests aws:SourceAccount or aws:SourceArn (keys ignore case)."""
    return any(
        key.lower() in SOURCE_KEYS
        for block in object_at(statement, "Condition").values()
        if is_object(block)
        for key in block
    )


def check(role: Resource) -> Iterable[str]:
    statements = policy_statements(role.props.get(TRUST_INPUTS[role.type]))
    if statements is None:
        yield "trust policy is not a readable policy document"
        return
    for index, statement in enumerate(statements):
        if not is_allow(statement):
            continue
        name = label(statement, index)
        if is_public(statement):
            yield f"trust policy statement {name} lets any principal ('*') assume the role"
        elif services(statement) and not pinned_to_source(statement):
            yield (
                f"trust policy statement {name} lets {', '.join(services(statement))} assume "
                "the role without an aws:SourceAccount or aws:SourceArn condition"
            )


CONTROL = Control(
    id="aws-iam-role-trust-scoped",
    description="Role trust policies never trust '*', and every statement trusting a service "
    "principal carries an aws:SourceAccount or aws:SourceArn condition.",
    why="SageMaker, Lambda and EventBridge assume the platform's roles on behalf of callers; "
    "without a source condition another account's job can make the service act with this "
    "account's role (the cross-service confused deputy), and a '*' principal lets anyone "
    "assume it.",
    severity="high",
    mirrors=(
        "CKV_AWS_60",
        "CKV_AWS_61",
        "prowler iam_role_cross_service_confused_deputy_prevention",
    ),
    remediation="Trust named principals only; for services add Condition StringEquals "
    "aws:SourceAccount (or ArnLike aws:SourceArn) "
    "(modules.security.iam.service_trust_policy does).",
    resource_types=tuple(TRUST_INPUTS),
    check=check,
    tags=("iam",),
)
