"""Stack settings: the one typed view of a stack file (`stacks/Pulumi.<stack>.yaml`).

Keys live under the `mlkit:` namespace, except the region, which is the AWS provider's own
`aws:region`. Environment profiles (`PROFILES`) supply defaults; the stack file overrides them.
Both `pulumi up` and the offline plan turn config into settings through `settings_from_config`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Mapping
from functools import cache
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic
from pulumi import RunError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "mlkit"
REGION_KEY = "aws:region"
# Namespaces whose keys belong to providers; mlkit passes them through untouched.
PROVIDER_NAMESPACES = ("aws", "kubernetes", "pulumi")

Environment = Literal["dev", "staging", "prod"]
BlueprintKey = Literal["platform-base"]
Durability = Literal["retain", "destroy"]
InterfaceEndpoint = Literal[
    "sagemaker.api", "sagemaker.runtime", "sts", "logs", "ecr.api", "ecr.dkr", "kinesis-streams"
]
# The only values CloudWatch Logs accepts for a log group's retention.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
]  # fmt: skip

SECRET_PLACEHOLDER = "[secret]"


class ConfigError(RunError):
    """Invalid stack config. Each problem names the file and the field path; `pulumi up`
    prints a RunError without a traceback, and the command line exits 2 with it."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {message}" for path, message in problems))


class SecretValue(str):
    """A config string that came from a Pulumi `secure:` value."""


def _require_secret(value: Any) -> Any:
    if value is not None and not isinstance(value, SecretValue):
        raise ValueError(
            "must be a secure value: set it with `pulumi config set --secret --path ...`"
        )
    return value


# A setting that must never be written to a stack file in plain text.
Secret = Annotated[SecretStr, BeforeValidator(_require_secret)]


@cache
def aws_regions() -> frozenset[str]:
    """Regions of the standard `aws` partition where SageMaker exists, from the endpoint data
    botocore ships (read directly: creating a botocore session costs 0.1 s of every plan)."""
    botocore_dir = importlib.util.find_spec("botocore").submodule_search_locations[0]  # type: ignore[union-attr]
    endpoints = json.loads((Path(botocore_dir) / "data" / "endpoints.json").read_text())
    aws = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    return frozenset(aws["regions"]) & frozenset(aws["services"]["api.sagemaker"]["endpoints"])


def _known_region(value: str) -> str:
    if value not in aws_regions():
        raise ValueError(f"'{value}' is not an AWS region with SageMaker (e.g. eu-west-1)")
    return value


Region = Annotated[
    str, AfterValidator(_known_region), Field(json_schema_extra={"format": "aws-region"})
]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Section(BaseModel):
    """A block of settings: camelCase keys in the stack file, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class Tags(BaseModel):
    """Tags on every taggable resource. `owner` and `cost-center` are required; other keys are
    the team's own. The kit adds `mlkit:blueprint`, `mlkit:environment`, `mlkit:component`."""

    __pydantic_extra__: dict[str, TagValue]

    model_config = ConfigDict(
        extra="allow", coerce_numbers_to_str=True, frozen=True, use_attribute_docstrings=True
    )
    owner: TagValue
    """Team that owns the stack; alarms and costs are routed by it."""
    cost_center: TagValue = Field(alias="cost-center")
    """Cost center the stack is billed to."""

    @model_validator(mode="after")
    def _no_reserved_keys(self) -> Tags:
        for key in self.__pydantic_extra__ or {}:
            if key.startswith(("aws:", f"{NAMESPACE}:")) or not 0 < len(key) <= 128:
                raise ValueError(f"tag key '{key}' is reserved or longer than 128 characters")
        return self

    def as_dict(self) -> dict[str, str]:
        return {"owner": self.owner, "cost-center": self.cost_center} | dict(
            self.__pydantic_extra__ or {}
        )


def _private_cidr(value: IPv4Network) -> IPv4Network:
    if not value.is_private or not 16 <= value.prefixlen <= 24:
        raise ValueError("must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16")
    return value


class NetworkSettings(Section):
    """The VPC: private subnets only, no NAT gateway, no internet gateway."""

    cidr_block: Annotated[IPv4Network, AfterValidator(_private_cidr)] = IPv4Network("10.0.0.0/16")
    """Private IPv4 range of the VPC (/16 to /24); each AZ gets a sixteenth of it."""
    az_count: int = Field(2, ge=2, le=6)
    """Availability zones to spread private subnets over (2-6)."""
    interface_endpoints: tuple[InterfaceEndpoint, ...] = ()
    """Private paths to AWS APIs for workloads in the VPC; each costs about $7/month per AZ
    (S3 and DynamoDB gateway endpoints are always there, and free)."""
    flow_logs: bool = False
    """Record all VPC traffic to an encrypted log group."""

    @model_validator(mode="after")
    def _unique_endpoints(self) -> NetworkSettings:
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise ValueError("interfaceEndpoints lists an endpoint twice")
        return self


class SecuritySettings(Section):
    """The stack's KMS key and the lifecycle of its buckets."""

    key_deletion_window_days: int = Field(30, ge=7, le=30)
    """Days a scheduled deletion of the stack key waits (7-30)."""
    noncurrent_version_retention_days: int = Field(30, ge=1, le=3650)
    """Days replaced or deleted object versions are kept in the stack's buckets."""


class ObservabilitySettings(Section):
    """Where alarms go and how long logs are kept."""

    log_retention_days: LogRetentionDays = 30
    """Retention of every log group of the stack (a value CloudWatch Logs accepts)."""
    alert_emails: tuple[Email, ...] = ()
    """Addresses subscribed to the alert topic; each confirms by email."""
    alert_https_endpoint: Secret | None = None
    """Paging integration URL (PagerDuty, Opsgenie). It carries a token: set it with
    `pulumi config set --secret --path mlkit:observability.alertHttpsEndpoint URL`."""


class StackSettings(Section):
    """Everything a blueprint needs to know about one stack."""

    blueprint: BlueprintKey
    """Which reference blueprint the stack deploys."""
    environment: Environment
    """Environment profile that supplies the defaults."""
    region: Region
    """AWS region (the provider's own `aws:region` key)."""
    tags: Tags
    """Tags on every taggable resource."""
    durability: Durability
    """`retain`: stateful resources protected and kept on destroy (required in prod);
    `destroy`: `pulumi destroy` removes everything, buckets included."""
    network: NetworkSettings = NetworkSettings()
    """The VPC."""
    security: SecuritySettings = SecuritySettings()
    """The stack key and bucket lifecycle."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Alerting and log retention."""
    _source: str = PrivateAttr("stack config")

    def config_error(self, path: str, message: str) -> ConfigError:
        """An error about a setting that is valid on its own but not in this account or
        region (found while building), naming the stack file like validation errors do."""
        return ConfigError(self._source, [(f"{NAMESPACE}:{path}", message)])

    @model_validator(mode="after")
    def _prod_invariants(self) -> StackSettings:
        if self.environment != "prod":
            return self
        if self.durability != "retain":
            raise ValueError("durability: prod stacks must use 'retain' so data survives")
        alerting = self.observability
        if not alerting.alert_emails and alerting.alert_https_endpoint is None:
            raise ValueError(
                "observability: prod stacks need alertEmails or alertHttpsEndpoint,"
                " or alarms reach nobody"
            )
        return self

    def stack_tags(self) -> dict[str, str]:
        """Tags every resource of the stack carries."""
        return self.tags.as_dict() | {
            f"{NAMESPACE}:blueprint": self.blueprint,
            f"{NAMESPACE}:environment": self.environment,
        }


# Defaults per environment, in stack-file form; the stack file is merged over them.
PROFILES: dict[str, dict[str, Any]] = {
    "dev": {
        "durability": "destroy",
        "network": {"azCount": 2, "interfaceEndpoints": [], "flowLogs": False},
        "security": {"keyDeletionWindowDays": 7, "noncurrentVersionRetentionDays": 7},
        "observability": {"logRetentionDays": 14},
    },
    "staging": {
        "durability": "destroy",
        "network": {
            "azCount": 2,
            "interfaceEndpoints": ["sagemaker.api", "sagemaker.runtime", "sts", "logs"],
            "flowLogs": True,
        },
        "security": {"keyDeletionWindowDays": 14, "noncurrentVersionRetentionDays": 30},
        "observability": {"logRetentionDays": 30},
    },
    "prod": {
        "durability": "retain",
        "network": {
            "azCount": 3,
            "interfaceEndpoints": [
                "sagemaker.api", "sagemaker.runtime", "sts", "logs", "ecr.api", "ecr.dkr",
            ],
            "flowLogs": True,
        },
        "security": {"keyDeletionWindowDays": 30, "noncurrentVersionRetentionDays": 90},
        "observability": {"logRetentionDays": 365},
    },
}  # fmt: skip


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursing into mappings; lists are replaced, not appended."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any, secret: bool) -> Any:
    """A config value as Pulumi passes it (objects as JSON text) back to Python data; every
    string under a secret key becomes a SecretValue."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):  # plain text that starts with a brace
            value = json.loads(value)
    if not secret:
        return value
    if isinstance(value, str):
        return SecretValue(value)
    if isinstance(value, Mapping):
        return {key: _decode(item, True) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, True) for item in value]
    return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    head, *rest = loc
    path = REGION_KEY if head == "region" else f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the settings block at `loc` accepts, for 'unknown key' messages."""
    model: type[BaseModel] | None = StackSettings
    for part in loc:
        fields = {f.alias or n: f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(str(part))
        candidates = [field.annotation, *get_args(field.annotation)] if field else []
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if model is None or model is Tags:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _problems(error: pydantic.ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            message = "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif item["type"] == "missing":
            message = "required"
        if not loc:  # a whole-stack check names its own field first
            field, _, message = message.partition(": ")
            loc = (field,)
        problems.append((_field_path(loc), message))
    return problems


def settings_from_config(
    config: Mapping[str, Any], secret_keys: set[str], source: str
) -> StackSettings:
    """Validate a stack's config (full keys such as `mlkit:network`, values as Pulumi passes
    them) into settings. Raises ConfigError naming `source` and each bad field."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in config.items():
        namespace, sep, name = key.partition(":")
        if key == REGION_KEY:
            values["region"] = value
        elif namespace == NAMESPACE and sep and name:
            values[name] = _decode(value, key in secret_keys)
        elif namespace not in PROVIDER_NAMESPACES or not sep:
            problems.append((key, f"unknown config key (expected '{NAMESPACE}:<name>')"))
    if problems:
        raise ConfigError(source, problems)

    environment = values.get("environment")
    if environment not in PROFILES:
        allowed = ", ".join(f"'{name}'" for name in PROFILES)
        found = "required" if environment is None else f"'{environment}' is not one of {allowed}"
        raise ConfigError(source, [(f"{NAMESPACE}:environment", found)])
    try:
        settings = StackSettings.model_validate(deep_merge(PROFILES[environment], values))
    except pydantic.ValidationError as error:
        raise ConfigError(source, _problems(error)) from None
    settings._source = source
    return settings
