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
import pulumiverse_time as time

from modules.common import resource_tags
from modules.platform import CodeSigning

LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"  # Signer's only platform for Lambda
SIGNATURE_VALIDITY_MONTHS = 135  # Signer's default and maximum
# Profile names: letters, digits and underscores, at most 64 (the provider adds 26 to a prefix).
PROFILE_PREFIX_LENGTH = 38
# S3: "it might take up to 15 minutes for the change to be fully propagated. We recommend
# that you wait for 15 minutes after enabling versioning before issuing write operations";
# a write before then may get no version, and Signer signs only a version.
VERSIONING_PROPAGATION = "15m"


@dataclass
class LambdaCodeSigningArgs:
    stack: str
    """Stack name: the Signer profile's name starts with it (hyphens as underscores)."""
    code_bucket_name: pulumi.Input[str]
    """Versioned bucket the functions' code is uploaded to and signed in (its name as an
    output of its versioning configuration)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""


def profile_name_prefix(stack: str) -> str:
    """`<stack>_`, made of the characters Signer accepts in a profile name and short enough
    for the provider's unique suffix. A prefix, not a name: Signer never reuses the name of a
    cancelled profile, so a stack destroyed and made again needs a new one."""
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", stack)[: PROFILE_PREFIX_LENGTH - 1]
    return f"{prefix}_"


class LambdaCodeSigning(pulumi.ComponentResource):
    """`<name>-profile` (Signer profile for Lambda, signatures valid 135 months),
    `<name>-config` (Lambda code signing configuration: that profile only, `Enforce`) and
    `<name>-versioning-wait` (15 minutes once, at creation, before the first code upload)."""

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
        # Starts once versioning is enabled (the name is its output) and is made once: a later
        # `pulumi up` waits again only for a new bucket.
        wait = time.Sleep(
            f"{name}-versioning-wait",
            create_duration=VERSIONING_PROPAGATION,
            triggers={"bucket": args.code_bucket_name},
            opts=child,
        )
        code_bucket = pulumi.Output.all(wait.id, args.code_bucket_name).apply(lambda v: v[1])
        self.signing = CodeSigning(
            profile_name=profile.name, config_arn=config.arn, code_bucket_name=code_bucket
        )
        self.register_outputs({"profile_name": profile.name, "config_arn": config.arn})
