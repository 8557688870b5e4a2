"""aws-lambda-code-signing-prod: a prod function without a code signing configuration, or a
configuration that only warns, fails; images (which Lambda cannot sign) and other
environments pass; both providers' resource shapes are read."""

from __future__ import annotations

import pytest

from tests.policies.conftest import make, messages

FUNCTION = "aws:lambda/function:Function"
CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
SIGNED = {"codeSigningConfigArn": "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-1"}
ENFORCING = {
    "allowedPublishers": {"signingProfileVersionArns": ["arn:aws:signer:::/p/v1"]},
    "policies": {"untrustedArtifactOnDeployment": "Enforce"},
}


def test_the_policy_passes_signed_functions_and_enforcing_configurations() -> None:
    assert (
        messages(
            "aws-lambda-code-signing-prod",
            make(FUNCTION, "fn", SIGNED),
            make(CONFIG, "csc", ENFORCING),
        )
        == []
    )


def test_the_policy_flags_unsigned_prod_functions_only() -> None:
    unsigned = make(FUNCTION, "fn", {"code": {"fileArchive": "functions/scoring"}})
    assert messages("aws-lambda-code-signing-prod", unsigned) == [
        "fn: function has no code signing configuration: any code deploys"
    ]
    # Lambda cannot sign container images: not flagged.
    image = make(FUNCTION, "img", {"packageType": "Image", "imageUri": "repo@sha256:1"})
    assert messages("aws-lambda-code-signing-prod", image) == []
    dev = make(FUNCTION, "fn", {"code": {"fileArchive": "functions/scoring"}}, environment="dev")
    assert messages("aws-lambda-code-signing-prod", dev, environment="dev") == []


@pytest.mark.parametrize("policies", [{}, {"untrustedArtifactOnDeployment": "Warn"}])
def test_the_policy_flags_a_configuration_that_only_warns(policies: dict) -> None:
    warns = make(CONFIG, "csc", ENFORCING | {"policies": policies})
    assert messages("aws-lambda-code-signing-prod", make(FUNCTION, "fn", SIGNED), warns) == [
        "csc: code signing configuration deploys unsigned code with a warning "
        "(policies.untrustedArtifactOnDeployment is not Enforce)"
    ]


@pytest.mark.parametrize(
    ("function_type", "config_type", "policies"),
    [
        ("aws:lambda/function:Function", CONFIG, "policies"),
        (
            "aws-native:lambda:Function",
            "aws-native:lambda:CodeSigningConfig",
            "codeSigningPolicies",
        ),
    ],
)
def test_the_policy_reads_either_providers_functions(function_type, config_type, policies) -> None:
    unsigned = make(function_type, "fn", {"runtime": "python3.12"})
    warns = make(config_type, "csc", {policies: {"untrustedArtifactOnDeployment": "Warn"}})
    enforces = make(config_type, "ok", {policies: {"untrustedArtifactOnDeployment": "Enforce"}})
    assert messages("aws-lambda-code-signing-prod", unsigned, warns, enforces) == [
        "csc: code signing configuration deploys unsigned code with a warning "
        f"({policies}.untrustedArtifactOnDeployment is not Enforce)",
        "fn: function has no code signing configuration: any code deploys",
    ]
