"""Athena workgroups: where the kit's SQL runs (training sets, feature materialization).

A workgroup of the kit enforces its configuration on every query (callers cannot pick
another results location or turn encryption off), uses engine version 3, writes results to
a scratch prefix of the artifacts bucket encrypted with the stack key, and cancels a query
that scans more than its limit.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.platform import Platform

ATHENA_ENGINE_VERSION = "Athena engine version 3"
BYTES_PER_GB = 10**9
ATHENA_MIN_CUTOFF_BYTES = 10_485_760
"""The provider's minimum per-query cutoff (10 MiB; the Athena API's is 10,000,000 bytes)."""
ATHENA_QUERY_ACTIONS = [
    "athena:GetQueryExecution",
    "athena:GetWorkGroup",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
]


def athena_workgroup(
    name: str,
    platform: Platform,
    *,
    description: str,
    results_prefix: str,
    scan_limit_gb: int,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.athena.Workgroup:
    """Workgroup `<name>` (physical name too) with results under
    `s3://<artifacts>/<results_prefix>`, which the platform base expires (see
    blueprints/_base.py). Raises ValueError for a scan limit under Athena's minimum."""
    if scan_limit_gb * BYTES_PER_GB < ATHENA_MIN_CUTOFF_BYTES:
        raise ValueError("athena_scan_limit_gb must be at least 1")
    return aws.athena.Workgroup(
        f"{name}-athena",
        name=name,
        description=description,
        state="ENABLED",
        configuration={
            "enforce_workgroup_configuration": True,
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": scan_limit_gb * BYTES_PER_GB,
            "engine_version": {"selected_engine_version": ATHENA_ENGINE_VERSION},
            "result_configuration": {
                "output_location": pulumi.Output.concat(
                    "s3://", platform.artifacts_bucket_name, "/", results_prefix
                ),
                "encryption_configuration": {
                    "encryption_option": "SSE_KMS",
                    "kms_key_arn": platform.kms_key_arn,
                },
                "expected_bucket_owner": platform.account_id,
            },
        },
        force_destroy=platform.durability.force_destroy,
        tags=resource_tags(f"{name}-athena", tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def workgroup_arn(platform: Platform, workgroup: aws.athena.Workgroup) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "arn:aws:athena:", platform.region, ":", platform.account_id, ":workgroup/", workgroup.name
    )
