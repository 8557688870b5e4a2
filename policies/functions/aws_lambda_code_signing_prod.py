"""Production functions deploy only signed code."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import object_at, text
from policies.control import Control, Resource

FUNCTION = "aws:lambda/function:Function"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"


def check(resource: Resource) -> Iterable[str]:
    if resource.type == CODE_SIGNING_CONFIG:
        policy = object_at(resource.props, "policies").get("untrustedArtifactOnDeployment")
        if policy != "Enforce":
            yield (
                "code signing configuration deploys unsigned code with a warning "
                "(policies.untrustedArtifactOnDeployment is not Enforce)"
            )
        return
    if resource.props.get("packageType") == "Image":  # Lambda cannot sign images
        return
    if not text(resource.props.get("codeSigningConfigArn")):
        yield "function has no code signing configuration: any code deploys"


CONTROL = Control(
    id="aws-lambda-code-signing-prod",
    description="Production Lambda functions (.zip packages) have a code signing "
    "configuration, and every code signing configuration enforces it.",
    why="The scoring API and the stream aggregator hold the stack's data and model: with a "
    "code signing configuration that enforces, Lambda refuses code that an allowed AWS Signer "
    "profile did not sign, so stolen deploy credentials cannot replace it. `Warn` only logs "
    "the mismatch and deploys. Functions defined as container images do not support code "
    "signing (Lambda developer guide) and are not checked.",
    severity="high",
    mirrors=("CKV_AWS_272",),
    remediation="Set security.codeSigning (prod does): modules.python_function then signs each "
    "function's code with the stack's Signer profile (modules.security.code_signing) and sets "
    "code_signing_config_arn; set policies.untrusted_artifact_on_deployment='Enforce' on "
    "aws.lambda_.CodeSigningConfig.",
    resource_types=(FUNCTION, CODE_SIGNING_CONFIG),
    check=check,
    environments=("prod",),
    tags=("functions", "supply-chain"),
)
