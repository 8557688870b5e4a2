"""Reading resource inputs the same way offline and under the Pulumi CLI.

The CLI hands a policy its inputs wrapped in pulumi_policy's unknown-checking proxies
(`Mapping` / `Sequence`, not `dict` / `list`); the recorder and state files hand plain JSON
data. `plain` turns either into plain data (an unknown value still raises pulumi_policy's
UnknownValueError, which the CLI reports as "can't run policy during preview").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policies.control import Resource


def plain(value: Any) -> Any:
    """`value` with every nested mapping as a dict and every sequence (but text) as a list."""
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(item) for item in value]
    return value


def mapping(value: Any) -> dict[str, Any]:
    """An object input as a dict; anything else (absent, text, a list) as `{}`."""
    found = plain(value)
    return found if isinstance(found, dict) else {}


def items(value: Any) -> list[Any]:
    """A list input as a list; absent as `[]`; a single value as a one-item list."""
    found = plain(value)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def text(value: Any) -> str:
    """A string input, stripped; anything else as `""`."""
    return value.strip() if isinstance(value, str) else ""


def tags_of(resource: Resource) -> dict[str, str]:
    """A resource's tags: aws-native lists `{key, value}` pairs, pulumi-aws a map."""
    tags = plain(resource.props.get("tags"))
    if isinstance(tags, list):
        return {
            str(tag.get("key", "")): str(tag.get("value", ""))
            for tag in tags
            if isinstance(tag, dict)
        }
    if isinstance(tags, dict):
        return {str(key): str(value) for key, value in tags.items() if value is not None}
    return {}


def aws_managed_key(key_id: str, service: str) -> bool:
    """Whether a key id names the AWS managed key of `service` (`alias/aws/<service>`)."""
    return key_id == f"alias/aws/{service}" or key_id.endswith(f":alias/aws/{service}")
