"""What several controls need to read: policy documents, bucket joins, numbers from state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policies.control import Resource

BUCKET = "aws:s3/bucket:Bucket"


def as_list(value: Any) -> list[Any]:
    """A JSON-policy field that may be one value or a list of them."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document given as JSON text or data (none if unreadable)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def principals(statement: dict[str, Any]) -> list[str]:
    """Every principal a statement names (`"*"`, `{"AWS": ...}`, `{"Service": ...}`)."""
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return [str(p) for values in principal.values() for p in as_list(values)]
    return [str(p) for p in as_list(principal)]


def number(value: Any) -> float | None:
    """A numeric input: the recorder gives ints, state files may give floats or strings."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def bucket_key(bucket: Resource) -> str:
    """How a bucket's companion resources (policy, encryption, versioning...) name it: its
    physical name in state files, its logical name offline (the recorder's mock id)."""
    return str(bucket.props.get("bucket") or bucket.name)


def by_bucket(resources: Sequence[Resource], type_: str) -> dict[str, list[Resource]]:
    """Companion resources of `type_`, grouped by the bucket they configure."""
    grouped: dict[str, list[Resource]] = {}
    for resource in resources:
        if resource.type == type_:
            grouped.setdefault(str(resource.props.get("bucket")), []).append(resource)
    return grouped


def buckets(resources: Sequence[Resource]) -> list[Resource]:
    return [r for r in resources if r.type == BUCKET]
