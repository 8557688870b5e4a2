"""Settings of the security component (`mlkit:security`)."""

from __future__ import annotations

from pydantic import Field

from mlkit.settings import Section


class SecuritySettings(Section):
    """The stack's KMS key and the lifecycle of its buckets."""

    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Days a scheduled deletion of the stack key waits (7-30)."""
    noncurrent_version_retention_days: int = Field(30, ge=1, le=3650)
    """Days replaced or deleted object versions are kept in the stack's buckets."""
    access_logs: bool = False
    """S3 server access logs of every data bucket go to a dedicated `<stack>-access-logs`
    bucket (SSE-S3: S3 does not deliver these logs to SSE-KMS buckets)."""
    code_signing: bool = False
    """Lambda functions deploy only code signed by the stack's AWS Signer profile (a Lambda
    code signing configuration that enforces it): `pulumi up` uploads each function's code to
    the artifacts bucket and signs it with a Signer job."""
