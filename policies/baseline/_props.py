"""What several of the baseline, S3, KMS and IAM controls share beyond policies.common."""

from __future__ import annotations

from typing import Any

from policies.common import is_array, is_object


def plain(value: Any) -> Any:
    """`value` with every object as a dict and every array as a list: the CLI's proxies become
    plain data (an unknown value still raises pulumi_policy's UnknownValueError)."""
    if is_object(value):
        return {str(key): plain(value[key]) for key in value}
    if is_array(value):
        return [plain(item) for item in value]
    return value


def aws_managed_key(key_id: str, service: str) -> bool:
    """Whether a key id or ARN names the AWS managed key of `service` (`alias/aws/<service>`)."""
    return key_id == f"alias/aws/{service}" or key_id.endswith(f":alias/aws/{service}")
