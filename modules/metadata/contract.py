"""The metadata role `registry`: what its backends give the rest of the platform, and their
registry. A backend is `(name, platform, MetadataArgs, opts) -> ModelRegistry`."""

from __future__ import annotations

from typing import Protocol

import pulumi

from modules.registry import Backends


class ModelRegistry(Protocol):
    """What a metadata backend gives: where candidates are registered and tracked."""

    model_package_group_name: pulumi.Output[str]
    """Model group the training pipeline registers candidates into."""
    model_package_group_arn: pulumi.Output[str]
    """Its ARN."""
    mlflow_arn: pulumi.Output[str] | None
    """Experiment tracking (MLflow), if the stack runs it."""


BACKENDS = Backends("metadata", "registry")
