"""Shared fixtures: plans of the shipped stacks (once per session) and a recorder for
single components."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from blueprints.plan import Plan, plan_stack
from blueprints.recording import Recording, record
from blueprints.stackfile import shipped_stacks

REGION = "eu-west-1"


@cache
def _plan(stack: str) -> Plan:
    return plan_stack(stack)


@pytest.fixture
def plan_of() -> Callable[[str], Plan]:
    """Plan a shipped stack (cached: plans are deterministic, see test_recording)."""
    return _plan


@pytest.fixture
def record_program() -> Callable[[Callable[[], object]], Recording]:
    """Record what a small program (e.g. one component) registers."""

    def run(program: Callable[[], object]) -> Recording:
        return record(program, stack_name="test", config={"aws:region": REGION})

    return run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "shipped_stack" in metafunc.fixturenames:
        metafunc.parametrize("shipped_stack", shipped_stacks())
