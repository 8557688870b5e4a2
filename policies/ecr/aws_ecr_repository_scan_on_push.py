"""ECR repositories scan images on push."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import is_on, value_at
from policies.control import Control, Resource


def check(repository: Resource) -> Iterable[str]:
    if not is_on(value_at(repository.props, "imageScanningConfiguration", "scanOnPush")):
        yield "images are not scanned on push (imageScanningConfiguration.scanOnPush)"


CONTROL = Control(
    id="aws-ecr-repository-scan-on-push",
    description="ECR repositories scan every image for vulnerabilities on push.",
    why="Training and serving images bundle large ML dependency trees (CUDA, numpy, "
    "tokenizers, pickle loaders) with frequent CVEs; scanning on push reports them before an "
    "image reaches a training job or an endpoint.",
    severity="high",
    mirrors=("CKV_AWS_163", "AWS Config ecr-private-image-scanning-enabled"),
    remediation="Set image_scanning_configuration={'scan_on_push': True} on aws.ecr.Repository "
    "(modules.training.Training does).",
    resource_types=("aws:ecr/repository:Repository",),
    check=check,
    tags=("ecr",),
)
