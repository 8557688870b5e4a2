"""Every taggable resource carries the kit's ownership and cost tags."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache

from policies.control import Control, Resource

REQUIRED_TAGS = ("owner", "cost-center", "mlkit:blueprint", "mlkit:environment")
SDKS = {"aws": "pulumi_aws", "aws-native": "pulumi_aws_native"}


@cache
def taggable(type_: str) -> bool:
    """Whether the SDK resource class of `type_` takes `tags`: pulumi-aws tokens are
    `aws:<module>/<member>:<Class>`, aws-native tokens `aws-native:<module>:<Class>`."""
    package, _, rest = type_.partition(":")
    module_token, _, class_name = rest.rpartition(":")
    module = module_token.split("/")[0]
    if package not in SDKS or not module or not class_name:
        return False
    if module == "lambda":
        module += "_"  # Python keywords: `pulumi_aws.lambda_`
    try:
        args = getattr(importlib.import_module(f"{SDKS[package]}.{module}"), f"{class_name}Args")
    except (ImportError, AttributeError):
        return package == "aws-native"  # every aws-native resource the kit uses takes tags
    return isinstance(getattr(args, "tags", None), property)


def check(resource: Resource) -> Iterable[str]:
    if not taggable(resource.type):
        return
    tags = resource.tags()
    missing = [key for key in REQUIRED_TAGS if not str(tags.get(key) or "").strip()]
    if missing:
        yield f"missing required tags: {', '.join(missing)}"


CONTROL = Control(
    id="aws-tags-required",
    description="Every resource whose type takes tags carries non-empty owner, cost-center, "
    "mlkit:blueprint and mlkit:environment tags.",
    why="GPU endpoints and training jobs dominate an ML platform's bill: cost allocation, "
    "the on-call owner and the environment (which picks the other controls' rules) are "
    "read from these tags. Tags must be on the resource's own inputs: provider default "
    "tags are not visible to the pack.",
    severity="medium",
    mirrors=("AWS Config required-tags",),
    remediation="Pass the stack tags to every resource (modules.common.resource_tags; the "
    "blueprints set owner, cost-center, mlkit:blueprint and mlkit:environment).",
    check=check,
    tags=("tagging", "cost"),
)
