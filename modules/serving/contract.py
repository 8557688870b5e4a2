"""The serving role `endpoint`: what its backends give the rest of the platform, and their
registry. A backend is `(name, platform, RealtimeEndpointArgs, opts) -> ServingEndpoint`.

The serving role `batch` (`BATCH_BACKENDS`): precomputed predictions loaded generation by
generation and read through an API. A backend is `(name, platform, BatchLookupArgs, opts) ->
BatchPredictions`."""

from __future__ import annotations

from typing import Protocol

import pulumi

from modules.registry import Backends


class ServingEndpoint(Protocol):
    """What a serving backend gives: an endpoint the scoring API invokes, and where its
    requests are captured for monitoring."""

    endpoint_name: pulumi.Output[str]
    """Endpoint the scoring API invokes and monitoring watches."""
    endpoint_arn: pulumi.Output[str]
    """Its ARN (what the scoring API is granted)."""
    data_capture_uri: pulumi.Output[str] | None
    """Where captured requests and responses land; None when nothing is captured."""


class BatchPredictions(Protocol):
    """What a batch serving backend gives: where scored generations are loaded and read."""

    table_name: pulumi.Output[str]
    """Table holding the generations (watched for errors)."""
    loader_function_arn: pulumi.Output[str]
    """Function the scoring pipeline invokes to publish a generation."""
    loader_function_name: pulumi.Output[str]
    """Its name (what a starter is granted, and the logs)."""
    api_id: pulumi.Output[str]
    """HTTP API readers call (watched for latency and errors)."""
    lookup_url: pulumi.Output[str]
    """`GET` URL of a user's recommendations (`{user_id}` to fill in)."""


BACKENDS = Backends("serving", "endpoint")
BATCH_BACKENDS = Backends("serving", "batch")
