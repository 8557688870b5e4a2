"""ECR repository policies grant nothing to everyone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.common import as_list, principals, statements
from policies.control import Control, Resource

# Condition keys that pin a `"Principal": "*"` grant to named accounts or an organization.
SCOPING_KEYS = ("aws:principalorgid", "aws:principalaccount", "aws:principalorgpaths")


def scoped(statement: Mapping[str, Any]) -> bool:
    """Whether a condition restricts the grant to named accounts or an organization."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return False
    for operator, tests in conditions.items():
        if not str(operator).startswith(("StringEquals", "StringLike", "ForAnyValue:String")):
            continue
        if not isinstance(tests, Mapping):
            continue
        for key, values in tests.items():
            wanted = [str(v) for v in as_list(values)]
            if str(key).lower() in SCOPING_KEYS and wanted and "*" not in wanted:
                return True
    return False


def check(policy: Resource) -> Iterable[str]:
    found = statements(policy.props.get("policy"))
    if not found:
        yield "repository policy is unreadable"
        return
    for statement in found:
        if statement.get("Effect") != "Allow" or "*" not in principals(statement):
            continue
        if not scoped(statement):
            actions = ", ".join(str(a) for a in as_list(statement.get("Action"))) or "actions"
            yield f"repository policy allows {actions} to any principal ('*')"


CONTROL = Control(
    id="aws-ecr-repository-policy-not-public",
    description="ECR repository policies have no Allow statement for principal `*` (unless a "
    "condition pins it to named accounts or the organization).",
    why="A public repository policy lets anyone pull the training and serving images (model "
    "code, baked-in weights, credentials left in layers) or, with push actions, replace "
    "them. Sharing with the organization uses `*` with an aws:PrincipalOrgID condition, which "
    "the control accepts.",
    severity="critical",
    mirrors=("CKV_AWS_32", "prowler ecr_repositories_not_publicly_accessible"),
    remediation="Name the account or role ARNs in Principal, or keep `*` only with a "
    "StringEquals condition on aws:PrincipalOrgID / aws:PrincipalAccount.",
    resource_types=("aws:ecr/repositoryPolicy:RepositoryPolicy",),
    check=check,
    tags=("ecr",),
)
