"""Backend registries: what each component package registers, and the registry's rules."""

from __future__ import annotations

import pytest

from modules import feature_store, metadata, monitoring, serving, training
from modules.feature_store import FeatureStore, StreamingIngestion
from modules.metadata import Metadata
from modules.monitoring.kit_jobs import monitoring_jobs
from modules.registry import Backends
from modules.serving import RealtimeEndpoint
from modules.training import Training


def test_every_component_registers_its_backends_by_role() -> None:
    registries = [
        feature_store.BACKENDS,
        feature_store.INGESTION_BACKENDS,
        metadata.BACKENDS,
        training.BACKENDS,
        serving.BACKENDS,
        monitoring.BACKENDS,
    ]
    assert [(r.component, r.role, r.names()) for r in registries] == [
        ("feature_store", "store", ("sagemaker",)),
        ("feature_store", "ingestion", ("kinesis-lambda",)),
        ("metadata", "registry", ("sagemaker",)),
        ("training", "pipeline", ("sagemaker",)),
        ("serving", "endpoint", ("sagemaker",)),
        ("monitoring", "signal", ("kit-jobs",)),
    ]
    assert [r.get(r.names()[0]) for r in registries] == [
        FeatureStore,
        StreamingIngestion,
        Metadata,
        Training,
        RealtimeEndpoint,
        monitoring_jobs,
    ]
    for registry in registries:
        for backend in registry.backends():
            assert backend.summary, f"{registry.component}/{backend.name} has no summary"


def test_registering_returns_the_builder_and_a_name_twice_is_an_error() -> None:
    registry = Backends("thing", "role")

    class Builder:
        pass

    assert registry.register("one", "the first")(Builder) is Builder
    with pytest.raises(ValueError, match="thing: backend 'one' is registered twice"):
        registry.register("one", "again")(Builder)
    assert [(b.name, b.summary, b.build) for b in registry.backends()] == [
        ("one", "the first", Builder)
    ]
    registry.unregister("one")
    assert registry.names() == ()
