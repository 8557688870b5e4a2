"""Settings of the metadata component (`mlkit:metadata`)."""

from __future__ import annotations

from typing import Literal

from mlkit.settings import Section, backend_setting
from modules.metadata import BACKENDS

Backend = backend_setting(BACKENDS)


class MetadataSettings(Section):
    """Model registry and experiment tracking."""

    backend: Backend = "sagemaker"
    """Registry implementation."""
    mlflow: Literal["none", "serverless", "small", "medium", "large"] = "serverless"
    """Experiment tracking: none, the pay-per-use MLflow app, or a dedicated tracking server
    of that size (about $0.7-2.9 an hour, and some 25 minutes to create)."""
