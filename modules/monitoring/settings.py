"""Settings of the monitoring component (`mlkit:monitoring`)."""

from __future__ import annotations

from pydantic import Field

from mlkit.settings import Cron, Section, backend_setting
from modules.monitoring import BACKENDS

Backend = backend_setting(BACKENDS)


class MonitoringSettings(Section):
    """Drift and quality monitoring, alarms, and the retraining trigger."""

    backend: Backend = "sagemaker"
    """Monitoring implementation."""
    data_quality_schedule: Cron = "cron(0 * ? * * *)"
    """When captured inputs are compared with the training baseline."""
    model_quality_schedule: Cron = "cron(0 0 ? * * *)"
    """When predictions are compared with delayed ground-truth labels."""
    latency_p99_ms: int = Field(100, ge=1)
    """Alarm when p99 model latency exceeds this."""
    max_5xx_per_5_minutes: int = Field(5, ge=1)
    """Alarm when the endpoint returns more 5xx errors than this in 5 minutes."""
    max_iterator_age_seconds: int = Field(60, ge=1)
    """Alarm when the aggregator falls this far behind the stream."""
    drift_threshold: float = Field(0.1, gt=0, le=1)
    """Baseline drift distance of a feature above which its drift alarm fires."""
    dashboard: bool = True
    """A CloudWatch dashboard for the service ($3/month each beyond an account's first three)."""
    retrain_on_drift: bool = True
    """A drift alarm starts the training pipeline (still behind the evaluation gate)."""
    retrain_min_interval_hours: float = Field(24, gt=0)
    """Minimum time between two retraining runs started by alarms."""
