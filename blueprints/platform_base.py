"""Platform base: only the shared foundation (network, security, observability).

For teams adopting the kit one piece at a time: the landing zone the other blueprints
build on, with nothing ML-specific yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blueprints import Blueprint
from blueprints.base import BASE_COMPONENTS, build_platform_base
from blueprints.settings import StackSettings


def build(settings: StackSettings, stack: str) -> Mapping[str, Any]:
    return build_platform_base(settings, stack).outputs()


BLUEPRINT = Blueprint(
    key="platform-base",
    summary="the shared foundation alone: private network, stack KMS key, secure "
    "artifacts bucket, alert topic",
    components=BASE_COMPONENTS,
    build=build,
)
