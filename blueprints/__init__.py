"""Reference blueprints: compositions of the kit's components, one per ML use case."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from blueprints.settings import StackSettings


@dataclass(frozen=True)
class Blueprint:
    key: str
    """Value of `mlkit:blueprint` in a stack file."""
    summary: str
    """What the blueprint runs, in one line."""
    components: Mapping[str, str]
    """Component -> what it provisions in this blueprint, for `python -m blueprints list`."""
    build: Callable[[StackSettings, str], Mapping[str, Any]]
    """Builds the components for (settings, stack name); returns the stack outputs."""


# Imported only when asked for, so `list` and config errors stay fast.
_MODULES = {
    "platform-base": "blueprints.platform_base",
    "realtime-fraud": "blueprints.realtime_fraud",
}


def blueprint_keys() -> tuple[str, ...]:
    from blueprints.settings import BlueprintKey

    return get_args(BlueprintKey)


def load_blueprint(key: str) -> Blueprint:
    """The blueprint registered under `key` (a validated `mlkit:blueprint`)."""
    blueprint: Blueprint = importlib.import_module(_MODULES[key]).BLUEPRINT
    return blueprint
