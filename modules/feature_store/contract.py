"""The feature store's two roles, what their backends give the rest of the platform, and
their registries.

- `store` (`BACKENDS`): feature groups with their online and offline locations. A backend is
  `(name, platform, FeatureStoreArgs, opts) -> FeatureGroups`.
- `ingestion` (`INGESTION_BACKENDS`): the stream producers write to, aggregated into the
  store. A backend is `(name, platform, StreamingIngestionArgs, opts) -> StreamIngestion`.
"""

from __future__ import annotations

from typing import Any, Protocol

import pulumi

from modules.registry import Backends


class FeatureGroups(Protocol):
    """What a feature store backend gives: its groups and where training reads them."""

    group_names: dict[str, pulumi.Output[str]]
    """Logical group name -> deployed group name (what the scoring API reads online)."""
    group_arns: dict[str, pulumi.Output[str]]
    """Logical group name -> group ARN (what writers and readers are granted)."""
    offline_bucket_name: pulumi.Output[str]
    """Bucket of the offline store."""
    offline_s3_uri: pulumi.Output[str]
    """Prefix of the offline store's data, as training reads it."""
    catalog_database: pulumi.Output[str]
    """Catalog database the offline tables are registered in (queried with Athena)."""
    registry: dict[str, Any]
    """The feature registry: groups, features, owners, consumers."""


class StreamIngestion(Protocol):
    """What a streaming ingestion backend gives: where producers write and what to watch."""

    stream_name: pulumi.Output[str]
    """Stream producers write events to."""
    stream_arn: pulumi.Output[str]
    """Its ARN (what producers are granted)."""
    function_name: pulumi.Output[str]
    """The aggregator (watched for errors and lag)."""
    dead_letter_queue_url: pulumi.Output[str]
    """Where records that could not be aggregated wait for replay."""
    dead_letter_queue_name: pulumi.Output[str]
    """Its name (watched: any message is an alarm)."""


BACKENDS = Backends("feature_store", "store")
INGESTION_BACKENDS = Backends("feature_store", "ingestion")
