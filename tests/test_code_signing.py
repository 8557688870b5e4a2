"""Lambda code signing (`security.codeSigning`, the prod profile): every prod function deploys
the object an AWS Signer job signed with the stack's profile, under a code signing
configuration that enforces it (the policy that flags a prod function or configuration
letting unsigned code deploy: tests/policies/test_code_signing_policy.py). Dev and staging
deploy the code folder as it is."""

from __future__ import annotations

import re

import pytest

from mlkit.deploy_time import create_minutes
from modules.security.code_signing import VERSIONING_PROPAGATION, profile_name_prefix

FUNCTION = "aws:lambda/function:Function"
PROFILE = "aws:signer/signingProfile:SigningProfile"
CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
JOB = "aws:signer/signingJob:SigningJob"


@pytest.mark.parametrize("stack", ["fraud-prod", "recsys-prod"])
def test_prod_functions_deploy_only_what_the_stacks_profile_signed(plan_of, stack) -> None:
    recording = plan_of(stack).recording
    [profile] = recording.of_type(PROFILE)
    assert profile.inputs["platformId"] == "AWSLambda-SHA384-ECDSA"  # Signer's Lambda platform
    assert profile.inputs["namePrefix"] == stack.replace("-", "_") + "_"
    assert profile.inputs["signatureValidityPeriod"] == {"type": "MONTHS", "value": 135}
    [config] = recording.of_type(CONFIG)
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    profile_name = profile.inputs["namePrefix"]
    [version_arn] = config.inputs["allowedPublishers"]["signingProfileVersionArns"]
    assert re.fullmatch(
        rf"arn:aws:signer:eu-west-1:\d{{12}}:/signing-profiles/{profile_name}\w+/v1", version_arn
    )
    artifacts = f"{stack}-artifacts-bucket"
    [versioning] = [
        r
        for r in recording.of_type("aws:s3/bucketVersioning:BucketVersioning")
        if r.name == f"{stack}-artifacts-versioning"
    ]
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}  # Signer needs it
    [wait] = recording.of_type("time:index/sleep:Sleep")
    assert wait.inputs["createDuration"] == "15m"  # what S3 asks for after enabling versioning
    assert versioning.urn in wait.depends_on
    functions = recording.of_type(FUNCTION)
    assert len(functions) >= 2
    config_arn = re.compile(
        rf"arn:aws:lambda:eu-west-1:\d{{12}}:code-signing-config:csc-{config.name}-id"
    )
    for function in functions:
        name = function.name
        assert "code" not in function.inputs  # the folder itself would deploy unsigned
        assert config_arn.fullmatch(function.inputs["codeSigningConfigArn"])
        code = recording.named(f"{name}-code")
        assert code.inputs["source"] == {"fileArchive": function.inputs["tags"]["mlkit:code"]}
        assert code.inputs["bucket"] == artifacts
        assert code.inputs["key"] == f"functions/{name}/code.zip"
        assert code.inputs["serverSideEncryption"] == "aws:kms"
        # A write before versioning takes effect may get no version: the upload waits for
        # the wait, which starts once versioning is enabled.
        assert wait.urn in code.depends_on
        job = recording.named(f"{name}-signing")
        assert job.inputs["profileName"].startswith(profile_name)
        assert job.inputs["source"]["s3"]["bucket"] == artifacts
        assert job.inputs["source"]["s3"]["key"] == f"functions/{name}/code.zip"
        assert job.inputs["source"]["s3"]["version"]  # one version: the code just uploaded
        assert code.urn in job.depends_on
        assert job.inputs["destination"] == {
            "s3": {"bucket": artifacts, "prefix": f"functions/{name}/signed/"}
        }
        # The function deploys the job's signed object, nothing else in the bucket.
        assert function.inputs["s3Bucket"] == artifacts
        assert re.fullmatch(rf"functions/{name}/signed/\w+\.zip", function.inputs["s3Key"])
        assert job.urn in function.depends_on
    assert len({recording.named(f"{f.name}-signing").inputs["profileName"] for f in functions}) == 1


@pytest.mark.parametrize("stack", ["fraud-dev", "fraud-staging", "recsys-dev", "recsys-staging"])
def test_other_environments_deploy_the_code_folder(plan_of, stack) -> None:
    recording = plan_of(stack).recording
    assert not recording.of_type(PROFILE) and not recording.of_type(JOB)
    for function in recording.of_type(FUNCTION):
        assert function.inputs["code"] == {"fileArchive": function.inputs["tags"]["mlkit:code"]}
        assert "codeSigningConfigArn" not in function.inputs


@pytest.mark.parametrize(
    ("stack", "prefix"),
    [
        ("fraud-prod", "fraud_prod_"),
        ("team.fraud-prod2", "team_fraud_prod2_"),
        ("a" * 60, "a" * 37 + "_"),
    ],
)
def test_the_profile_name_prefix_is_one_signer_accepts(stack: str, prefix: str) -> None:
    assert profile_name_prefix(stack) == prefix
    # Signer's profile names: [a-zA-Z0-9_]{2,64}; the provider appends a 26-character suffix.
    assert re.fullmatch(r"[A-Za-z0-9_]{2,38}", prefix)


def test_the_deploy_time_estimate_waits_as_long_as_the_stack_does() -> None:
    assert VERSIONING_PROPAGATION == "15m"
    assert create_minutes("time:index/sleep:Sleep") == 15.0
