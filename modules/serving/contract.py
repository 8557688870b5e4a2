"""The serving role `endpoint`: what its backends give the rest of the platform, and their
registry. A backend is `(name, platform, RealtimeEndpointArgs, opts) -> ServingEndpoint`."""

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


BACKENDS = Backends("serving", "endpoint")
