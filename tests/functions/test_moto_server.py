"""The moto fixture itself: boto3 reaches the local server, and state is reset per test."""

from __future__ import annotations

import boto3


def test_boto3_reaches_the_local_server(aws: str) -> None:
    assert aws.startswith("http://127.0.0.1:")
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="mlkit-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mlkit-test"]


def test_state_is_reset_between_tests(aws: str) -> None:
    assert boto3.client("s3").list_buckets()["Buckets"] == []
