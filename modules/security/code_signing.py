"""Lambda code signing: an AWS Signer profile and a code signing configuration enforcing it.

Lambda then refuses any code the profile did not sign (Lambda developer guide, "Using code
signing to verify code integrity with Lambda"); `modules.python_function` uploads each
function's code to the artifacts bucket, signs it there with a Signer job and deploys the
signed object. Signer and Lambda code signing are free of charge. Functions defined as
container images cannot be signed (none of the kit's are).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.common import resource_tags
from modules.platform import CodeSigning

LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"  # Signer's only platform for Lambda
SIGNATURE_VALIDITY_MONTHS = 135  # Signer's default and maximum
# Profile names: letters, digits and underscores, at most 64 (the provider adds 26 to a prefix).
PROFILE_PREFIX_LENGTH = 38


@dataclass
class LambdaCodeSigningArgs:
    stack: str
    """Stack name: the Signer profile's name starts with it (hyphens as underscores)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""


def profile_name_prefix(stack: str) -> str:
    """`<stack>_`, made of the characters Signer accepts in a profile name and short enough
    for the provider's unique suffix. A prefix, not a name: Signer never reuses the name of a
    cancelled profile, so a stack destroyed and made again needs a new one."""
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", stack)[: PROFILE_PREFIX_LENGTH - 1]
    return f"{prefix}_"


class LambdaCodeSigning(pulumi.ComponentResource):
    """`<name>-profile` (Signer profile for Lambda, signatures valid 135 months) and
    `<name>-config` (Lambda code signing configuration: that profile only, `Enforce`)."""

    signing: CodeSigning

    def __init__(
        self, name: str, args: LambdaCodeSigningArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:security:LambdaCodeSigning", name, None, opts)
        tags = dict(args.tags) | {"mlkit:component": "security"}
        child = pulumi.ResourceOptions(parent=self)
        profile = aws.signer.SigningProfile(
            f"{name}-profile",
            name_prefix=profile_name_prefix(args.stack),
            platform_id=LAMBDA_SIGNING_PLATFORM,
            signature_validity_period={"type": "MONTHS", "value": SIGNATURE_VALIDITY_MONTHS},
            tags=resource_tags(f"{name}-profile", tags),
            opts=child,
        )
        config = aws.lambda_.CodeSigningConfig(
            f"{name}-config",
            description=f"{args.stack}: only code signed by the stack's Signer profile deploys",
            allowed_publishers={"signing_profile_version_arns": [profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": "Enforce"},
            tags=resource_tags(f"{name}-config", tags),
            opts=child,
        )
        self.signing = CodeSigning(profile_name=profile.name, config_arn=config.arn)
        self.register_outputs({"profile_name": profile.name, "config_arn": config.arn})
