"""IAM policies grant no `*` or `service:*` actions."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import as_list, statements
from policies.control import Control, Resource

# Resources carrying an identity policy document, and the input that holds it.
POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}


def check(resource: Resource) -> Iterable[str]:
    for statement in statements(resource.props.get(POLICY_INPUTS[resource.type])):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            if action == "*" or (isinstance(action, str) and action.endswith(":*")):
                yield f"policy allows the wildcard action '{action}'"


CONTROL = Control(
    id="aws-iam-policy-no-wildcard-action",
    description="IAM policies allow no `*` or `service:*` actions.",
    why="Training, serving and pipeline roles touch customer data; a wildcard action turns "
    "one compromised job into full access to a service.",
    severity="critical",
    mirrors=(
        "CKV_AWS_62",
        "CKV_AWS_286",
        "CKV_AWS_288",
        "cfn-nag F4",
        "AWS Config iam-policy-no-statements-with-admin-access",
        "prowler iam_policy_allows_privilege_escalation",
    ),
    remediation="List the actions the workload needs (modules.security.iam.allow refuses "
    "wildcards).",
    resource_types=tuple(POLICY_INPUTS),
    check=check,
    tags=("iam",),
)
