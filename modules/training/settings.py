"""Settings of the training component (`mlkit:training`)."""

from __future__ import annotations

from pydantic import Field

from mlkit.settings import InstanceType, Section, backend_setting
from modules.training import BACKENDS

Backend = backend_setting(BACKENDS)


class TrainingSettings(Section):
    """The training pipeline and its evaluation gate."""

    backend: Backend = "sagemaker"
    """Training implementation."""
    auc_threshold: float = Field(0.85, gt=0.5, le=1.0)
    """A model registers only if its validation AUC reaches this."""
    training_instance_type: InstanceType = "ml.m5.xlarge"
    """Instance type of the training job."""
    processing_instance_type: InstanceType = "ml.m5.large"
    """Instance type of data preparation and evaluation jobs."""
    training_window_days: int = Field(90, ge=1, le=3650)
    """Days of labelled transactions in a training set."""
    athena_scan_limit_gb: int = Field(1000, ge=1, le=100_000)
    """Athena cancels a training-set query that scans more than this many GB (10^9 bytes):
    the workgroup's per-query data usage control, a cap on the cost of one run ($5 per TB
    scanned: 1000 GB is at most about $5). Whole GB, so always above Athena's 10 MB minimum.
    Default 1000 in dev, staging and prod (no profile sets it)."""
