"""Shared fixtures: plans of the shipped stacks (once per session), a recorder for single
components, and the platform context module tests build components on."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from mlkit.plan import Plan, plan_stack
from mlkit.recording import Recording, record
from mlkit.stackfile import shipped_stacks
from modules.common import Durability
from modules.platform import Platform

REGION = "eu-west-1"


@cache
def _plan(stack: str) -> Plan:
    return plan_stack(stack)


@pytest.fixture
def plan_of() -> Callable[[str], Plan]:
    """Plan a shipped stack (cached: plans are deterministic, see test_recording)."""
    return _plan


@pytest.fixture
def cached_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line plans shipped stacks from the session's cache (plans of unchanged
    files are deterministic): for tests of what the CLI does with plans, not of planning."""
    import mlkit.plan

    real = mlkit.plan.plan_stack
    shipped = set(shipped_stacks())
    monkeypatch.setattr(
        mlkit.plan, "plan_stack", lambda stack: _plan(stack) if stack in shipped else real(stack)
    )


@pytest.fixture
def record_program() -> Callable[[Callable[[], object]], Recording]:
    """Record what a small program (e.g. one component) registers."""

    def run(program: Callable[[], object]) -> Recording:
        return record(program, stack_name="test", config={"aws:region": REGION})

    return run


@pytest.fixture
def platform() -> Platform:
    """A platform context with fixed values (a dev-like `destroy` durability); tests that
    need another value use `dataclasses.replace(platform, ...)`."""
    return Platform(
        stack="test",
        region=REGION,
        account_id="111122223333",
        durability=Durability.from_setting("destroy"),
        kms_key_arn="arn:aws:kms:eu-west-1:111122223333:key/k",
        artifacts_bucket_name="artifacts",
        artifacts_bucket_arn="arn:aws:s3:::artifacts",
        alert_topic_arn="arn:aws:sns:eu-west-1:111122223333:alerts",
        subnet_ids=["subnet-a", "subnet-b"],
        security_group_ids=["sg-1"],
        log_retention_days=30,
        noncurrent_version_retention_days=30,
        tags={"owner": "team", "cost-center": "1"},
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "shipped_stack" in metafunc.fixturenames:
        metafunc.parametrize("shipped_stack", shipped_stacks())
