"""IAM policies let no one pass every role."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.control import Control, Resource
from policies.iam._documents import (
    IDENTITY_POLICY_TYPES,
    identity_documents,
    is_allow,
    label,
    matches,
    policy_statements,
    strings,
)

PASS_ROLE = "iam:PassRole"


def grant(statement: dict[str, Any]) -> str | None:
    """How the statement allows iam:PassRole (`'iam:*'`, `NotAction`...), None if it does not."""
    if "NotAction" in statement:
        excluded = any(matches(a, PASS_ROLE) for a in strings(statement.get("NotAction")))
        return None if excluded else "NotAction"
    return next((f"'{a}'" for a in strings(statement.get("Action")) if matches(a, PASS_ROLE)), None)


def check(resource: Resource) -> Iterable[str]:
    for name, document in identity_documents(resource):
        statements = policy_statements(document)
        if statements is None:
            yield f"{name} is not a readable policy document"
            continue
        for index, statement in enumerate(statements):
            if not is_allow(statement) or "*" not in strings(statement.get("Resource")):
                continue
            via = grant(statement)
            if via:
                yield (
                    f"{name} statement {label(statement, index)} allows iam:PassRole "
                    f"(via {via}) on resource '*'"
                )


CONTROL = Control(
    id="aws-iam-policy-no-passrole-wildcard",
    description="IAM policies allow iam:PassRole (directly, through iam:* or *, or through "
    "NotAction) only on named roles, never on resource '*'.",
    why="A pipeline or training role that may pass any role can start a job under the most "
    "privileged role in the account: the classic privilege escalation of ML platforms, "
    "where jobs are launched with a role passed by their caller.",
    severity="critical",
    mirrors=(
        "cfn-nag F38",
        "cfn-nag F39",
        "cfn-nag F40",
        "prowler iam_policy_allows_privilege_escalation",
    ),
    remediation="List the role ARNs the workload passes in the statement's Resource (and "
    "scope it with an iam:PassedToService condition).",
    resource_types=IDENTITY_POLICY_TYPES,
    check=check,
    tags=("iam",),
)
