"""Security module: stack key, secure bucket, IAM helpers. Exact inputs."""

from __future__ import annotations

import json

import pulumi
import pytest

from modules.common import Durability
from modules.security import SecureBucket, SecureBucketArgs, StackKey, StackKeyArgs
from modules.security.iam import allow, service_trust_policy

RETAIN, DESTROY = Durability.from_setting("retain"), Durability.from_setting("destroy")
TAGS = {"owner": "team", "cost-center": "1"}
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/k"


def test_stack_key_rotates_and_scopes_service_use_to_the_account(record_program) -> None:
    def program() -> None:
        args = StackKeyArgs(
            account_id="111122223333",
            region="eu-west-1",
            durability=RETAIN,
            deletion_window_days=30,
            tags=TAGS,
        )
        pulumi.export("keyId", StackKey("s-kms", args).key_id)

    recording = record_program(program)
    key = recording.named("s-kms-key")
    assert (key.protect, key.retain_on_delete) == (True, True)
    policy = json.loads(key.inputs["policy"])
    assert {k: v for k, v in key.inputs.items() if k != "policy"} == {
        "deletionWindowInDays": 30,
        "description": "mlkit s-kms: data, logs and topics of the stack",
        "enableKeyRotation": True,
        "tags": {"Name": "s-kms-key", "mlkit:component": "security"} | TAGS,
    }
    root, logs, alarms = policy["Statement"]
    assert root["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"
        }
    }
    assert alarms["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # Their key requests carry no source account: a condition would drop every alert.
    assert "Condition" not in alarms
    assert recording.named("s-kms-alias").inputs == {
        "name": "alias/s-kms",
        "targetKeyId": recording.outputs["keyId"],
    }


def test_stack_key_rejects_a_deletion_window_kms_does_not_allow(record_program) -> None:
    args = StackKeyArgs(
        account_id="1", region="eu-west-1", durability=DESTROY, deletion_window_days=3
    )
    with pytest.raises(ValueError, match="deletion_window_days must be between 7 and 30"):
        record_program(lambda: StackKey("k", args))


def bucket(record_program, durability: Durability):
    args = SecureBucketArgs(
        kms_key_arn=KEY_ARN, durability=durability, noncurrent_version_retention_days=9, tags=TAGS
    )
    return record_program(lambda: SecureBucket("b", args))


def test_secure_bucket_children_have_the_secure_defaults(record_program) -> None:
    recording = bucket(record_program, DESTROY)
    by_name = {r.name: r.inputs for r in recording.resources}
    assert by_name["b-bucket"] == {
        "forceDestroy": True,
        "tags": {"Name": "b-bucket", "mlkit:component": "security"} | TAGS,
    }
    assert by_name["b-public-access-block"] == {
        "bucket": "b-bucket",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert by_name["b-ownership"] == {
        "bucket": "b-bucket",
        "rule": {"objectOwnership": "BucketOwnerEnforced"},
    }
    assert by_name["b-encryption"]["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "kmsMasterKeyId": KEY_ARN,
                "sseAlgorithm": "aws:kms",
            },
            "bucketKeyEnabled": True,
        }
    ]
    assert by_name["b-versioning"]["versioningConfiguration"] == {"status": "Enabled"}
    assert by_name["b-lifecycle"]["rules"] == [
        {
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
            "filter": {},
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
        },
        {
            "filter": {},
            "id": "expire-noncurrent-versions",
            "noncurrentVersionExpiration": {"noncurrentDays": 9},
            "status": "Enabled",
        },
    ]
    assert json.loads(by_name["b-policy"]["policy"])["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b-bucket", "arn:aws:s3:::b-bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_an_access_log_bucket_takes_sse_s3_and_only_the_accounts_log_delivery(
    record_program,
) -> None:
    logs = SecureBucketArgs(
        kms_key_arn=None,
        durability=DESTROY,
        receives_access_logs_from="1",
        logging_bucket_prefix="stack-",
    )

    def program() -> None:
        target = SecureBucket("logs", logs)
        SecureBucket(
            "data",
            SecureBucketArgs(
                kms_key_arn=KEY_ARN, durability=DESTROY, access_log_bucket=target.bucket_name
            ),
        )

    by_name = {r.name: r for r in record_program(program).resources}
    # S3 does not deliver server access logs to a bucket whose default encryption is SSE-KMS.
    assert by_name["logs-encryption"].inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    statements = json.loads(by_name["logs-policy"].inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport", "ServerAccessLogs"]
    assert statements[1] == {
        "Sid": "ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs-bucket/*",
        # S3's guide: the source account and the source buckets' ARNs.
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "1"},
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::stack-*"},
        },
    }
    assert by_name["data-access-logging"].inputs == {
        "bucket": "data-bucket",
        "targetBucket": "logs-bucket",
        "targetPrefix": "data-bucket/",
    }
    assert "logs-access-logging" not in by_name  # a log bucket does not log itself
    assert (
        "data-encryption" in by_name
        and "ServerAccessLogs" not in by_name["data-policy"].inputs["policy"]
    )


@pytest.mark.parametrize(
    ("kms_key_arn", "receives_from", "access_log_bucket", "message"),
    [
        (None, None, None, "a bucket takes a KMS key unless it receives access logs"),
        (KEY_ARN, "1", None, "a bucket takes a KMS key unless it receives access logs"),
        (None, "1", "other", "an access-log bucket must not log its own access"),
    ],
)
def test_secure_bucket_refuses_inconsistent_access_log_roles(
    record_program, kms_key_arn, receives_from, access_log_bucket, message
) -> None:
    args = SecureBucketArgs(
        kms_key_arn=kms_key_arn,
        durability=DESTROY,
        receives_access_logs_from=receives_from,
        access_log_bucket=access_log_bucket,
    )
    with pytest.raises(ValueError, match=message):
        record_program(lambda: SecureBucket("b", args))


def test_prod_buckets_log_access_to_the_stacks_log_bucket_and_dev_has_none(plan_of) -> None:
    for stack, logged in (("fraud-prod", True), ("base-prod", True), ("fraud-dev", False)):
        recording = plan_of(stack).recording
        buckets = {r.name for r in recording.of_type("aws:s3/bucket:Bucket")}
        targets = {
            r.inputs["bucket"]: r.inputs["targetBucket"]
            for r in recording.of_type("aws:s3/bucketLogging:BucketLogging")
        }
        if logged:
            log_bucket = f"{stack}-access-logs-bucket"
            assert targets == dict.fromkeys(buckets - {log_bucket}, log_bucket)
            # Only the stack's buckets (their autonames start with the stack) may deliver.
            policy = json.loads(recording.named(f"{stack}-access-logs-policy").inputs["policy"])
            (delivery,) = [s for s in policy["Statement"] if s["Sid"] == "ServerAccessLogs"]
            pattern = delivery["Condition"]["ArnLike"]["aws:SourceArn"]
            assert pattern == f"arn:aws:s3:::{stack}-*"
            assert all(f"arn:aws:s3:::{b}".startswith(pattern[:-1]) for b in targets)
        else:
            assert targets == {} and not any("access-logs" in b for b in buckets)


def test_secure_bucket_orders_lifecycle_after_versioning(record_program) -> None:
    recording = bucket(record_program, DESTROY)
    lifecycle, versioning = recording.named("b-lifecycle"), recording.named("b-versioning")
    assert versioning.urn in lifecycle.depends_on
    assert recording.named("b-public-access-block").urn in recording.named("b-policy").depends_on


def test_secure_bucket_expires_the_prefixes_asked_for(record_program) -> None:
    args = SecureBucketArgs(
        kms_key_arn=KEY_ARN,
        durability=DESTROY,
        expire_prefixes={"training/athena-results/": 7, "tmp/scratch/": 1},
        tags=TAGS,
    )
    rules = record_program(lambda: SecureBucket("b", args)).named("b-lifecycle").inputs["rules"]
    assert [r["id"] for r in rules[:2]] == [
        "abort-incomplete-uploads",
        "expire-noncurrent-versions",
    ]
    assert rules[2:] == [
        {
            "expiration": {"days": 1},
            "filter": {"prefix": "tmp/scratch/"},
            "id": "expire-tmp-scratch",
            "status": "Enabled",
        },
        {
            "expiration": {"days": 7},
            "filter": {"prefix": "training/athena-results/"},
            "id": "expire-training-athena-results",
            "status": "Enabled",
        },
    ]


@pytest.mark.parametrize(
    ("expire", "message"),
    [
        ({"tmp/": 0}, "bucket lifecycle days must be at least 1"),
        ({"tmp": 3}, r"expire_prefixes must be key prefixes ending in '/': \['tmp'\]"),
        ({"/tmp/": 3}, r"expire_prefixes must be key prefixes ending in '/': \['/tmp/'\]"),
    ],
)
def test_secure_bucket_rejects_bad_expirations(record_program, expire, message) -> None:
    args = SecureBucketArgs(kms_key_arn=KEY_ARN, durability=DESTROY, expire_prefixes=expire)
    with pytest.raises(ValueError, match=message):
        record_program(lambda: SecureBucket("b", args))


@pytest.mark.parametrize(("durability", "kept"), [(RETAIN, True), (DESTROY, False)])
def test_bucket_durability(record_program, durability: Durability, kept: bool) -> None:
    data = bucket(record_program, durability).named("b-bucket")
    assert (data.protect, data.retain_on_delete, data.inputs["forceDestroy"]) == (
        kept,
        kept,
        not kept,
    )


def test_allow_builds_a_sorted_scoped_statement() -> None:
    statement = allow(["s3:PutObject", "s3:GetObject"], ["arn:aws:s3:::b/*"], sid="Data")
    assert statement == {
        "Sid": "Data",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": ["arn:aws:s3:::b/*"],
    }


@pytest.mark.parametrize(
    ("actions", "resources", "message"),
    [
        (["*"], ["arn:aws:s3:::b"], "IAM action '*' is a wildcard or malformed"),
        (["s3:*"], ["arn:aws:s3:::b"], "IAM action 's3:*' is a wildcard or malformed"),
        (["GetObject"], ["arn:aws:s3:::b"], "IAM action 'GetObject' is a wildcard or malformed"),
        (["s3:GetObject"], ["*"], "IAM actions ['s3:GetObject'] must name resources, not '*'"),
        ([], ["arn:aws:s3:::b"], "an IAM statement needs at least one action and one resource"),
    ],
)
def test_allow_refuses_wildcards(actions, resources, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        allow(actions, resources)
    assert str(raised.value) == message


def test_allow_accepts_star_only_for_actions_aws_cannot_scope() -> None:
    assert allow(["ecr:GetAuthorizationToken"], ["*"])["Resource"] == ["*"]


def test_trust_policy_is_limited_to_the_account(record_program) -> None:
    documents = []

    def program() -> None:
        service_trust_policy("sagemaker.amazonaws.com", "111122223333").apply(documents.append)
        pulumi.export("unused", 1)

    record_program(program)
    assert json.loads(documents[0]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
            }
        ],
    }
