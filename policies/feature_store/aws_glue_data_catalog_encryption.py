"""A stack with offline feature stores runs where the Glue Data Catalog is SSE-KMS encrypted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.common import FEATURE_GROUP_TYPES, value_at
from policies.control import Control, Resource

SETTINGS = "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"
SSE_KMS = ("SSE-KMS", "SSE-KMS-WITH-SERVICE-ROLE")
MODE = ("dataCatalogEncryptionSettings", "encryptionAtRest", "catalogEncryptionMode")


def check(resources: Sequence[Resource]) -> Iterable[tuple[Resource, str]]:
    offline = sorted(
        (
            r
            for r in resources
            if r.type in FEATURE_GROUP_TYPES and r.props.get("offlineStoreConfig")
        ),
        key=lambda r: r.urn,
    )
    if not offline:
        return
    settings = [r for r in resources if r.type == SETTINGS]
    if not settings:
        yield (
            offline[0],
            "offline feature stores are catalogued in Glue, but no Glue Data Catalog "
            "encryption settings with SSE-KMS at rest are in this stack (one account-level "
            "setting per region, managed outside the stacks)",
        )
    for setting in settings:
        mode = value_at(setting.props, *MODE)
        if mode not in SSE_KMS:
            yield (
                setting,
                f"Glue Data Catalog encryption at rest is {mode or 'not set'}, not SSE-KMS",
            )


CONTROL = Control(
    id="aws-glue-data-catalog-encryption",
    description="Stacks with offline feature stores run where the Glue Data Catalog is "
    "encrypted at rest with SSE-KMS.",
    why="The offline store's tables (names, schemas, S3 locations of training data) live in "
    "the Glue Data Catalog. Its encryption is one account-level setting per region "
    "(aws.glue.DataCatalogEncryptionSettings) that the platform team manages outside the "
    "ML stacks, so the control is advisory everywhere: it reminds, it cannot block a stack "
    "for a setting the stack does not own.",
    severity="medium",
    mirrors=(
        "CKV_AWS_94",
        "prowler glue_data_catalogs_metadata_encryption_enabled",
    ),
    remediation="Set data_catalog_encryption_settings.encryption_at_rest.catalog_encryption_mode "
    "to SSE-KMS (with sse_aws_kms_key_id) in the account baseline's "
    "aws.glue.DataCatalogEncryptionSettings for the region.",
    stack_check=check,
    mandatory_in=(),
    tags=("feature-store",),
)
