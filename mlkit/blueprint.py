"""What the engine needs of a blueprint, and how it finds one.

A blueprint is a module `blueprints/<key with underscores>.py` defining `BLUEPRINT`; modules
named `_*.py` are shared helpers. Adding a blueprint is adding its composition file, its
defaults (`blueprints/defaults/<key>.yaml`), its stack files and its docs page.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlkit.settings import StackSettings

BLUEPRINTS_DIR = Path(__file__).resolve().parent.parent / "blueprints"


@dataclass(frozen=True)
class Targets:
    """What a blueprint's stacks should cost and how fast they should first deploy, per
    environment (the estimates page reports each as met or MISSED)."""

    idle_usd: Mapping[str, float] = field(default_factory=lambda: {"dev": 15.0})
    """Environment -> monthly cost with nothing running; default dev under $15."""
    at_load_usd: Mapping[str, float] = field(default_factory=dict)
    """Environment -> monthly cost at the declared load; default none."""
    deploy_minutes: Mapping[str, float] = field(default_factory=lambda: {"prod": 20.0})
    """Environment -> critical path of a first `pulumi up`; default prod under 20 minutes."""


@dataclass(frozen=True)
class Blueprint:
    key: str
    """Value of `mlkit:blueprint` in a stack file."""
    summary: str
    """What the blueprint runs, in one line."""
    settings: type[StackSettings]
    """Its settings model: the sections of its components."""
    components: Mapping[str, str]
    """Component -> what it provisions in this blueprint, for `mlkit list` and the docs."""
    build: Callable[[Any, str], Mapping[str, Any]]
    """Builds the components for (settings, stack name); returns the stack outputs."""
    targets: Targets = Targets()
    """Cost and deploy-time targets of its stacks."""


@cache
def blueprint_keys() -> tuple[str, ...]:
    """Keys of the blueprints in `blueprints/`, sorted."""
    modules = (p.stem for p in BLUEPRINTS_DIR.glob("*.py") if not p.name.startswith("_"))
    return tuple(sorted(name.replace("_", "-") for name in modules))


def load_blueprint(key: str) -> Blueprint:
    """The blueprint registered under `key` (one of `blueprint_keys()`)."""
    blueprint: Blueprint = importlib.import_module(f"blueprints.{key.replace('-', '_')}").BLUEPRINT
    return blueprint
