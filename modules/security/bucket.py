"""An S3 bucket with the kit's secure defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from modules.common import Durability, resource_tags
from modules.security.iam import policy_document


@dataclass
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str] | None
    """Customer-managed key for SSE-KMS (with S3 bucket keys, which cut KMS requests); None
    only for an access-log target (`receives_access_logs_from`)."""
    durability: Durability
    """`retain`: protected and kept on destroy; `destroy`: emptied and deleted."""
    noncurrent_version_retention_days: int = 30
    """Days a replaced or deleted object version is kept before expiry."""
    abort_incomplete_upload_days: int = 7
    """Days before unfinished multipart uploads are cleaned up."""
    expire_prefixes: Mapping[str, int] = field(default_factory=dict)
    """Key prefix (ending in `/`) -> days after which objects under it expire (scratch data
    such as query results); default none. S3 keeps one lifecycle configuration per bucket,
    so components ask for these here rather than adding their own."""
    component: str = "security"
    """Value of the `mlkit:component` tag: the component whose data the bucket holds."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Bucket that receives this bucket's S3 server access logs, under `<this bucket>/`;
    default none (no access logs)."""
    receives_access_logs_from: pulumi.Input[str] | None = None
    """Account whose buckets deliver their server access logs here: the bucket then encrypts
    with SSE-S3, because S3 does not deliver server access logs to a bucket whose default
    encryption is SSE-KMS, and its policy lets the logging service write for that account
    only; default None (an ordinary data bucket)."""
    logging_bucket_prefix: str | None = None
    """With `receives_access_logs_from`: the name prefix of the buckets that log here, for
    the `aws:SourceArn` condition S3's guide gives the logging service (Pulumi's default
    autonames start with the logical name); None: any bucket of the account."""


class SecureBucket(pulumi.ComponentResource):
    """A versioned bucket encrypted with the stack key, all public access blocked, ACLs
    disabled, TLS-only access, and lifecycle rules for old versions and stale uploads."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:security:SecureBucket", name, None, opts)
        days = [args.noncurrent_version_retention_days, args.abort_incomplete_upload_days]
        if min(days + list(args.expire_prefixes.values())) < 1:
            raise ValueError("bucket lifecycle days must be at least 1")
        bad = sorted(p for p in args.expire_prefixes if not p.endswith("/") or p.startswith("/"))
        if bad:
            raise ValueError(f"expire_prefixes must be key prefixes ending in '/': {bad}")
        log_target = args.receives_access_logs_from is not None
        if (args.kms_key_arn is None) is not log_target:
            raise ValueError("a bucket takes a KMS key unless it receives access logs (SSE-S3)")
        if log_target and args.access_log_bucket is not None:
            raise ValueError("an access-log bucket must not log its own access (S3 advises)")
        tags = dict(args.tags) | {"mlkit:component": args.component}
        child = pulumi.ResourceOptions(parent=self)

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=args.durability.force_destroy,
            tags=resource_tags(f"{name}-bucket", tags),
            opts=args.durability.options(self),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
                if log_target
                else {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": args.abort_incomplete_upload_days
                    },
                },
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": args.noncurrent_version_retention_days
                    },
                },
                *(
                    {
                        "id": f"expire-{prefix.strip('/').replace('/', '-')}",
                        "status": "Enabled",
                        "filter": {"prefix": prefix},
                        "expiration": {"days": days},
                    }
                    for prefix, days in sorted(args.expire_prefixes.items())
                ),
            ],
            # S3 rejects lifecycle rules on versions before versioning is configured.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        statements: list[dict[str, Any]] = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if log_target:
            # The grant S3's documentation gives the logging service (ACLs are disabled).
            statements.append(
                {
                    "Sid": "ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": args.receives_access_logs_from}
                    }
                    | (
                        {
                            "ArnLike": {
                                "aws:SourceArn": f"arn:aws:s3:::{args.logging_bucket_prefix}*"
                            }
                        }
                        if args.logging_bucket_prefix
                        else {}
                    ),
                }
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(*statements),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=pulumi.Output.concat(bucket.id, "/"),
                opts=child,
            )
        # The name as versioning's output: whoever writes objects waits for versioning (an
        # object written before it has version "null", which Signer, for one, refuses).
        self.bucket_name = versioning.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
