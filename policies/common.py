"""What several controls need to read: policy documents, bucket joins, numbers from state.

Shapes: `plan` and `check` pass plain dicts and lists; `pulumi preview --policy-pack` passes
pulumi_policy proxies (a `Mapping` for objects, a `Sequence` for arrays) that raise
UnknownValueError on values not known during preview, which CrossGuard turns into a skipped
policy. Test for the abstract types (`is_object`, `is_array`), never for dict or list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from policies.control import Resource

BUCKET = "aws:s3/bucket:Bucket"
# The kit makes feature groups with aws-native (features are added in place); a user's own
# stack may use pulumi-aws's. Their inputs have the same wire names.
FEATURE_GROUP_TYPES = (
    "aws-native:sagemaker:FeatureGroup",
    "aws:sagemaker/featureGroup:FeatureGroup",
)
EMPTY: Mapping[str, Any] = {}


def is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_array(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def value_at(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing or not an object."""
    for key in path:
        if not is_object(value):
            return None
        value = value.get(key)
    return value


def object_at(value: Any, *path: str) -> Mapping[str, Any]:
    """The object at `path` under `value` (empty where absent or not an object)."""
    found = value_at(value, *path)
    return found if is_object(found) else EMPTY


def items(value: Any) -> list[Any]:
    """The elements of an array input (none when absent or not an array)."""
    return list(value) if is_array(value) else []


def non_empty_array(value: Any) -> bool:
    return is_array(value) and len(value) > 0


def is_on(value: Any) -> bool:
    """A boolean input set to true (older state files may hold `"true"`)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def text(value: Any) -> str | None:
    """A non-empty string input, else None."""
    return value if isinstance(value, str) and value.strip() else None


def as_list(value: Any) -> list[Any]:
    """A JSON-policy field that may be one value or a list of them."""
    if value is None:
        return []
    return list(value) if is_array(value) else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document given as JSON text or data (none if unreadable)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    found = document.get("Statement", []) if is_object(document) else []
    if is_object(found):
        return [dict(found)]
    return [dict(s) for s in found if is_object(s)] if is_array(found) else []


def principals(statement: dict[str, Any]) -> list[str]:
    """Every principal a statement names (`"*"`, `{"AWS": ...}`, `{"Service": ...}`)."""
    principal = statement.get("Principal")
    if is_object(principal):
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
