"""The program `pulumi up` runs: config -> settings -> blueprint -> stack outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config

from mlkit.blueprint import load_blueprint
from mlkit.settings import settings_from_config


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """Every config key of the stack, as the Pulumi engine passed them, and which are secret."""
    values = {**config.get_config_env(), **config.CONFIG.get()}
    secret_keys = set(config.get_config_secret_keys_env())
    secret_keys |= {key for key in values if config.is_config_secret(key)}
    return values, secret_keys


def main(source: str | None = None) -> None:
    """Build the stack's blueprint. `source` names the stack file in error messages."""
    stack = pulumi.get_stack()
    values, secret_keys = read_stack_config()
    settings = settings_from_config(values, secret_keys, source or f"stacks/Pulumi.{stack}.yaml")
    outputs = load_blueprint(settings.blueprint).build(settings, stack)
    for name, value in outputs.items():
        pulumi.export(name, value)
