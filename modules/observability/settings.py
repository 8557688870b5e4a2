"""Settings of the observability component (`mlkit:observability`)."""

from __future__ import annotations

from mlkit.settings import Email, LogRetentionDays, Secret, Section


class ObservabilitySettings(Section):
    """Where alarms go and how long logs are kept."""

    tracing: bool = False
    """Trace every Lambda function with X-Ray (active tracing). X-Ray charges per trace
    recorded beyond its free tier; the cost estimate leaves that out."""
    sagemaker_job_log_groups: bool = False
    """Create SageMaker's job log groups (`/aws/sagemaker/ProcessingJobs`, `TrainingJobs`) with
    the stack key and `logRetentionDays`, and let no job role create them: otherwise SageMaker
    creates them on the first job, unencrypted and never expiring. The names are per account
    and region: set it in one stack of each, before any job ran there (or delete, or
    `pulumi import`, the groups SageMaker made)."""
    log_retention_days: LogRetentionDays = 30
    """Retention of every log group of the stack (a value CloudWatch Logs accepts)."""
    alert_emails: tuple[Email, ...] = ()
    """Addresses subscribed to the alert topic; each confirms by email."""
    alert_https_endpoint: Secret | None = None
    """Paging integration URL (PagerDuty, Opsgenie). It carries a token: set it with
    `pulumi config set --secret --path mlkit:observability.alertHttpsEndpoint URL`."""
