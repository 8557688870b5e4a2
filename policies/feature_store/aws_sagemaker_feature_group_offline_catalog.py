"""Offline feature stores are catalogued in Glue."""

from __future__ import annotations

from collections.abc import Iterable

from policies.common import FEATURE_GROUP_TYPES, is_on, value_at
from policies.control import Control, Resource


def check(group: Resource) -> Iterable[str]:
    offline = group.props.get("offlineStoreConfig")
    if offline is None:
        return
    if is_on(value_at(offline, "disableGlueTableCreation")) and not value_at(
        offline, "dataCatalogConfig"
    ):
        yield "offline store is not catalogued (Glue table creation disabled, no dataCatalogConfig)"


CONTROL = Control(
    id="aws-sagemaker-feature-group-offline-catalog",
    description="SageMaker offline feature stores are catalogued: Glue table creation stays on "
    "or a dataCatalogConfig names the table.",
    why="Training jobs and point-in-time joins read the offline store through its Glue table "
    "(Athena, Spark); an uncatalogued store is raw S3 objects nobody can query consistently. No "
    "anchor rule covers this, hence mirrors 'mlkit'.",
    severity="medium",
    mirrors=("mlkit",),
    remediation="Leave offline_store_config.disable_glue_table_creation unset, or set "
    "offline_store_config.data_catalog_config to the table that catalogues the store "
    "(modules.feature_store.FeatureStore does).",
    resource_types=FEATURE_GROUP_TYPES,
    check=check,
    tags=("feature-store",),
)
