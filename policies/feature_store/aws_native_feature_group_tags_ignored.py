"""aws-native feature groups ignore changes to their tags."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    if "tags" not in group.ignore_changes:
        yield "a tag change would replace the group and delete its data (ignore_changes: tags)"


CONTROL = Control(
    id="aws-native-feature-group-tags-ignored",
    description="Feature groups made with aws-native ignore changes to their tags.",
    why="CloudFormation's AWS::SageMaker::FeatureGroup marks Tags create-only, so Cloud Control "
    "replaces a group whose tags change: a new cost-center tag would delete every online and "
    "offline record. Tags are then set when the group is created.",
    severity="high",
    mirrors=("mlkit",),
    remediation="Pass ignore_changes=['tags'] in the feature group's resource options "
    "(modules.feature_store.FeatureStore does).",
    resource_types=("aws-native:sagemaker:FeatureGroup",),
    check=check,
    tags=("feature-store", "change-safety"),
)
