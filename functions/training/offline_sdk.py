"""Running the sagemaker SDK (v3) offline to generate committed pipeline definitions, shared by
every generator of the kit (`functions.training.build_pipeline`, the fraud model's, and
`functions.recommendations.pipelines.build_pipeline`, the recommender's).

`offline()` gives the SDK dummy credentials, a fixed region, no telemetry and no machine
configuration, and refuses every socket connection while it runs, so a new SDK version that
tries to call AWS fails loudly instead of writing account-specific values into the committed
files. `offline_session()` is the pipeline session to build steps with: it never resolves an
IAM role nor creates a default bucket. `render_json`, `stale_files` and `command_line` write
the generated files or check that the committed ones are current (`--check`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REGION = "eu-west-1"
"""Only used to satisfy the SDK; nothing region-specific ends up in the definitions."""

_OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_SESSION_TOKEN": "offline",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Neither the machine's AWS profiles nor its SageMaker SDK defaults files (which the
    # trainer reads for tags and environment) may change the output.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": os.devnull,
    "SAGEMAKER_USER_CONFIG_OVERRIDE": os.devnull,
    # The trainer otherwise simulates the role's IAM policies (a network call).
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
_UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
"""A config handed to the session, so no config file of the machine running this changes the
output, and no telemetry request is sent."""
ROLE_STAND_IN = "arn:aws:iam::000000000000:role/mlkit-role-placeholder"
"""The trainer resolves a role name through IAM; an ARN-shaped stand-in passes untouched and is
swapped for the role placeholder before the request is built."""

_VALIDATED_CONFIGS: set[str] = set()
"""SageMaker configs already checked against the SDK's schema, for the whole process."""


class NetworkAccessError(RuntimeError):
    """The SDK tried to open a connection while generating a definition."""


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Dummy AWS environment, no sockets, the SDK quiet, and its slow paths cached."""
    saved_env = {key: os.environ.get(key) for key in [*_OFFLINE_ENV, *_UNSET_ENV]}
    original_connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        # Not an OSError, so no client retries or reports it as a flaky connection.
        self.close()
        raise NetworkAccessError(f"pipeline generation must not touch the network ({address})")

    # Importing the SDK calls logging.basicConfig(level=INFO): undo that on the way out.
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    os.environ.update(_OFFLINE_ENV)
    for key in _UNSET_ENV:
        os.environ.pop(key, None)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    # The SDK logs credential lookups and config resolution at INFO and notes that job names
    # are dropped at WARNING: chatter for an offline render, whose failures raise.
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as patches:
            # Deprecation shims inside the SDK (it imports its own moved modules) and the
            # PipelineSession notice are the SDK's business, not the generator's.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sagemaker\.")
            warnings.filterwarnings(
                "ignore", message="Running within a PipelineSession", category=UserWarning
            )
            _cache_slow_sdk_paths(patches)
            yield
    finally:
        logging.disable(disabled)
        root.handlers[:] = root_handlers
        root.setLevel(root_level)
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cache_slow_sdk_paths(patches: contextlib.ExitStack) -> None:
    """Restored on exit. Without them one definition takes seconds more.

    - The SDK validates a session's config against its JSON schema, in two modules, on every
      config lookup (0.2 to 0.9 s each): validate each distinct config once per process.
    - `image_uris.retrieve` re-reads botocore's endpoints file on every call (0.06 s each):
      share one resolver.
    - ProcessingStep and TransformStep construct a `LocalSagemakerClient` (a local-mode
      session with its own boto clients, 0.5 s) only to read one of its method names: hand
      them a class with just those names.
    """
    from sagemaker.core import common_utils
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.helper import session_helper
    from sagemaker.mlops.workflow import steps

    def once(validate: Callable[..., Any]) -> Callable[..., None]:
        def validate_once(sagemaker_config: dict | None = None, *args: Any) -> None:
            key = json.dumps([validate.__module__, sagemaker_config], sort_keys=True, default=str)
            if key not in _VALIDATED_CONFIGS:
                validate(sagemaker_config, *args)
                _VALIDATED_CONFIGS.add(key)

        return validate_once

    resolver = common_utils._botocore_resolver()
    patches.enter_context(
        _patched(
            SageMakerConfig,
            "validate_sagemaker_config",
            staticmethod(once(SageMakerConfig.validate_sagemaker_config)),
        )
    )
    patches.enter_context(
        _patched(
            session_helper,
            "validate_sagemaker_config",
            once(session_helper.validate_sagemaker_config),
        )
    )
    patches.enter_context(_patched(common_utils, "_botocore_resolver", lambda: resolver))
    patches.enter_context(_patched(steps, "LocalSagemakerClient", _LocalClientNames))


class _LocalClientNames:
    """What the workflow steps read from `LocalSagemakerClient()`: method names."""

    def create_processing_job(self) -> None:
        raise NotImplementedError

    def create_transform_job(self) -> None:
        raise NotImplementedError


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def offline_session() -> Any:
    """A `PipelineSession` that records job requests without resolving anything in the
    account; call only inside `offline()`. One per process (building one costs seconds)."""
    return _session()


@functools.cache
def _session() -> Any:
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    class OfflinePipelineSession(PipelineSession):
        """Records job requests without resolving anything in the account."""

        def expand_role(self, role: str) -> str:
            # The role is a placeholder the kit replaces; never look it up in IAM.
            return role

        def default_bucket(self) -> str:
            # Every output has an explicit S3 URI; reaching here means the SDK wants to
            # upload something or invent a path, which the template must not contain.
            raise RuntimeError("pipeline generation must not need the SDK's default bucket")

    return OfflinePipelineSession(
        boto_session=boto3.Session(region_name=REGION), sagemaker_config=SDK_CONFIG
    )


def render_json(document: Any) -> str:
    """Stable text for a committed JSON file: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(generated: dict[Path, str]) -> list[Path]:
    """The committed files that differ from what the generator produces now."""
    return [
        path
        for path, text in generated.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def command_line(
    argv: list[str] | None, module: str, generate: Callable[[], dict[Path, str]]
) -> int:
    """`python -m <module> [--check]`: write the generated files, or with --check report the
    stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed files are stale"
    )
    args = parser.parse_args(argv)
    generated = generate()
    if args.check:
        stale = stale_files(generated)
        for path in stale:
            print(f"stale: {os.path.relpath(path)} (regenerate: python -m {module})")
        return 1 if stale else 0
    for path, text in generated.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0
