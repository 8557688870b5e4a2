"""Platform base: only the shared foundation (network, security, observability).

For teams adopting the kit one piece at a time: the landing zone the other blueprints
build on, with nothing ML-specific yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blueprints._base import BASE_COMPONENTS, PlatformSettings, build_platform_base
from mlkit.blueprint import Blueprint


def build(settings: PlatformSettings, stack: str) -> Mapping[str, Any]:
    return build_platform_base(settings, stack).outputs()


BLUEPRINT = Blueprint(
    key="platform-base",
    settings=PlatformSettings,
    summary="the shared foundation alone: private network, stack KMS key, secure "
    "artifacts bucket, alert topic",
    components=BASE_COMPONENTS,
    build=build,
)
