"""Helpers for policy tests: build resources as the recorder or a state file gives them, and
run one control's CrossGuard policy over them (through policies.evaluate, the same path as
`plan` and `check`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from policies import controls
from policies.control import Control, Resource
from policies.evaluate import evaluate

STACK = "urn:pulumi:fraud-prod::mlkit::"


def make(
    type_: str,
    name: str,
    props: Mapping[str, Any] | None = None,
    *,
    environment: str | None = "prod",
    protect: bool = False,
    retain_on_delete: bool | None = False,
) -> Resource:
    """A resource of `type_` named `name`; tagged with `environment` unless None."""
    props = dict(props or {})
    if environment is not None and "tags" not in props:
        props["tags"] = {"mlkit:environment": environment}
    return Resource(
        type=type_,
        name=name,
        urn=f"{STACK}{type_}::{name}",
        props=props,
        protect=protect,
        retain_on_delete=retain_on_delete,
    )


def control(policy_id: str) -> Control:
    return next(c for c in controls() if c.id == policy_id)


def messages(policy_id: str, *resources: Resource, environment: str = "prod") -> list[str]:
    """The control's violation messages, as `name: message`, in report order."""
    report = evaluate(list(resources), environment, [control(policy_id)])
    return [f"{v.urn.rsplit('::', 1)[-1]}: {v.message}" for v in report.violations]


@pytest.fixture
def violations():
    return messages
