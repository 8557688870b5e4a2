"""Production functions deploy only signed code."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import object_at, text
from policies.control import Control, Resource

# pulumi-aws's and aws-native's: a user's own stack may use either.
FUNCTIONS = ("aws:lambda/function:Function", "aws-native:lambda:Function")
CODE_SIGNING_CONFIGS = (
    "aws:lambda/codeSigningConfig:CodeSigningConfig",
    "aws-native:lambda:CodeSigningConfig",
)
# Where each names its policy for unsigned code (CloudFormation's `CodeSigningPolicies`).
POLICIES_INPUT = {
    CODE_SIGNING_CONFIGS[0]: "policies",
    CODE_SIGNING_CONFIGS[1]: "codeSigningPolicies",
}


def check(resource: Resource) -> Iterable[str]:
    if resource.type in CODE_SIGNING_CONFIGS:
        policies = POLICIES_INPUT[resource.type]
        policy = object_at(resource.props, policies).get("untrustedArtifactOnDeployment")
        if policy != "Enforce":
            yield (
                "code signing configuration deploys unsigned code with a warning "
                f"({policies}.untrustedArtifactOnDeployment is not Enforce)"
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
    "code signing configuration that enforces, Lambda deploys only code an allowed AWS Signer "
    "profile signed, unaltered since, so an artifact changed after the build, or code from "
    "an identity that may update functions but not sign, is refused. `Warn` only logs the "
    "mismatch and deploys. It does not stop an identity holding both rights (keep signing "
    "in the release pipeline's role), nor a redeploy of older signed code. Functions defined "
    "as container images do not support code signing (Lambda developer guide) and are not "
    "checked.",
    severity="high",
    mirrors=("CKV_AWS_272",),
    remediation="Set security.codeSigning (prod does): modules.python_function then signs each "
    "function's code with the stack's Signer profile (modules.security.code_signing) and sets "
    "code_signing_config_arn; set policies.untrusted_artifact_on_deployment='Enforce' on "
    "aws.lambda_.CodeSigningConfig.",
    resource_types=(*FUNCTIONS, *CODE_SIGNING_CONFIGS),
    check=check,
    environments=("prod",),
    tags=("functions", "supply-chain"),
)
