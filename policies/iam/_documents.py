"""Reading IAM policy documents: identity policies of every IAM resource type, statements of
text or object documents (None when unreadable), principals, actions and wildcards."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from policies.baseline._props import plain
from policies.common import as_list, items, object_at, principals
from policies.control import Resource

# Identity policies: resource type -> the input holding its one policy document.
DOCUMENT_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws-native:iam:RolePolicy": "policyDocument",
    "aws-native:iam:ManagedPolicy": "policyDocument",
    "aws-native:iam:UserPolicy": "policyDocument",
    "aws-native:iam:GroupPolicy": "policyDocument",
}
# Roles carrying inline policies: resource type -> (list input, name key, document key).
INLINE_INPUTS = {
    "aws:iam/role:Role": ("inlinePolicies", "name", "policy"),
    "aws-native:iam:Role": ("policies", "policyName", "policyDocument"),
}
IDENTITY_POLICY_TYPES = (*DOCUMENT_INPUTS, *INLINE_INPUTS)


def policy_statements(document: Any) -> list[dict[str, Any]] | None:
    """The statements of a policy document given as JSON text or an object; None when it
    cannot be read (not JSON, not an object, no `Statement` of objects)."""
    data = plain(document)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            return None
    if not isinstance(data, dict):
        return None
    found = data.get("Statement")
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list) and all(isinstance(s, dict) for s in found):
        return found
    return None


def identity_documents(resource: Resource) -> list[tuple[str, Any]]:
    """(`policy` or `inline policy 'name'`, document) for each identity policy it holds."""
    if resource.type in DOCUMENT_INPUTS:
        return [("policy", resource.props.get(DOCUMENT_INPUTS[resource.type]))]
    if resource.type in INLINE_INPUTS:
        list_input, name_key, document_key = INLINE_INPUTS[resource.type]
        found = []
        for inline in items(resource.props.get(list_input)):
            inline = object_at(inline)
            found.append((f"inline policy '{inline.get(name_key, '')}'", inline.get(document_key)))
        return found
    return []


def label(statement: dict[str, Any], index: int) -> str:
    """How a message names a statement: its Sid, else its 1-based position."""
    sid = statement.get("Sid")
    return f"'{sid}'" if isinstance(sid, str) and sid else str(index + 1)


def is_allow(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def is_public(statement: dict[str, Any]) -> bool:
    """The statement names every principal: `"*"`, `{"AWS": "*"}` (or `*` in a list)."""
    return "*" in principals(statement)


def strings(value: Any) -> list[str]:
    """An Action / Resource element as a list of strings (other entries dropped)."""
    return [v for v in as_list(value) if isinstance(v, str)]


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters, `?` one character."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def matches(glob: str, value: str, *, ignore_case: bool = True) -> bool:
    """Whether the IAM pattern `glob` covers `value`: actions ignore case, ARNs do not."""
    return _pattern(glob, ignore_case).fullmatch(value) is not None
