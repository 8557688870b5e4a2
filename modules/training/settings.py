"""Settings of the training component (`mlkit:training`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from mlkit.settings import InstanceType, ScheduleExpression, Section, backend_setting
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


class RankingTrainingSettings(Section):
    """The recommender's training pipeline (implicit-feedback matrix factorization) and its
    evaluation gate on ranking quality."""

    backend: Backend = "sagemaker"
    """Training implementation."""
    schedule: ScheduleExpression = "cron(0 4 ? * SUN *)"
    """When the training pipeline starts (UTC); default weekly, Sunday 04:00."""
    k: int = Field(10, ge=1, le=1000)
    """Cut-off of the ranking metrics (recall@k, NDCG@k) on the held-out interactions."""
    min_recall_at_k: float = Field(0.05, gt=0.0, le=1.0)
    """A model registers only if its recall@k on held-out interactions reaches this."""
    min_ndcg_at_k: float = Field(0.03, gt=0.0, le=1.0)
    """... and its NDCG@k reaches this."""
    window_days: int = Field(90, ge=1, le=3650)
    """Days of interactions the model learns from."""
    holdout_days: int = Field(7, ge=1, le=90)
    """The newest days, after the training window, held out to evaluate on."""
    factors: int = Field(64, ge=2, le=1024)
    """Latent factors of the factorization."""
    min_users: int = Field(100, ge=1)
    """The data set is refused (the run fails) with fewer users."""
    min_items: int = Field(20, ge=1)
    """... or fewer items."""
    training_instance_type: InstanceType = "ml.m5.xlarge"
    """Instance type of the training job."""
    processing_instance_type: InstanceType = "ml.m5.large"
    """Instance type of data preparation and evaluation jobs."""
    spot_training: bool = False
    """Managed spot training (up to ~70 % cheaper, may wait for capacity): dev and staging
    profiles set it; prod trains on demand."""
    athena_scan_limit_gb: int = Field(1000, ge=1, le=100_000)
    """Athena cancels a training-set query that scans more than this many GB."""

    @model_validator(mode="after")
    def _windows(self) -> RankingTrainingSettings:
        if self.holdout_days >= self.window_days:
            raise ValueError("holdoutDays must be shorter than windowDays")
        return self
