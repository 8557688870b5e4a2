"""Stack settings core: the typed view of a stack file (`stacks/Pulumi.<stack>.yaml`).

Keys live under the `mlkit:` namespace, except the region, which is the AWS provider's own
`aws:region`. Each blueprint declares its settings model (a `StackSettings` subclass composed
of the sections of its components, which live with the components in
`modules/<component>/settings.py`). The environment profile (`mlkit/profiles/<env>.yaml`)
supplies defaults, the blueprint's defaults (`blueprints/defaults/<blueprint>.yaml`) come
next, the stack file overrides both. Both `pulumi up` and the offline plan turn config into
settings through `settings_from_config`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

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

if TYPE_CHECKING:
    from modules.registry import Backends

NAMESPACE = "mlkit"
REGION_KEY = "aws:region"
# Namespaces whose keys belong to providers; mlkit passes them through untouched.
PROVIDER_NAMESPACES = ("aws", "aws-native", "kubernetes", "pulumi")
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "blueprints" / "defaults"

Durability = Literal["retain", "destroy"]
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
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")


def _schedule(value: str) -> str:
    """An EventBridge Scheduler recurring expression, `rate(value unit)` or
    `cron(minutes hours day-of-month month day-of-week year)`, that runs at most hourly: a
    monitoring job takes minutes to start and reads a day of data or more."""
    rate, cron = _RATE.match(value), _CRON.match(value)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ValueError(
                f"'{value}': the unit is singular for 1 and plural above (rate(1 hour), "
                "rate(2 hours))"
            )
        if unit.startswith("minute") and count < 60:
            raise ValueError(f"'{value}' runs more often than hourly")
        return value
    if cron:
        minutes, _, day_of_month, _, day_of_week, _ = cron.groups()
        if not minutes.isdigit() or not 0 <= int(minutes) <= 59:
            raise ValueError(f"'{value}': minutes must be one number 0-59 (at most hourly)")
        if "?" not in (day_of_month, day_of_week):
            raise ValueError(f"'{value}': day-of-month or day-of-week must be '?'")
        return value
    raise ValueError(
        f"'{value}' is not rate(value unit) or cron(minutes hours day-of-month month "
        "day-of-week year)"
    )


ScheduleExpression = Annotated[
    str, AfterValidator(_schedule), Field(json_schema_extra={"pattern": r"^(rate|cron)\(.+\)$"})
]


# A SageMaker schedule expression, e.g. cron(0 * ? * * *) for hourly.
Cron = Annotated[str, Field(pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")]


def one_of(values: tuple[object, ...]) -> str:
    """`'a', 'b' or 'c'`, as pydantic words a choice."""
    quoted = [repr(value) if isinstance(value, str) else str(value) for value in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def backend_setting(registry: Backends[Any]) -> Any:
    """The type of a component's `backend` setting: a name registered in `registry` (read
    when validating and when generating the schema, so a new backend needs no edit here)."""

    def registered(value: str) -> str:
        if value not in registry.names():
            raise ValueError(f"Input should be {one_of(registry.names())}")
        return value

    return Annotated[
        str,
        AfterValidator(registered),
        Field(json_schema_extra=lambda schema: schema.update(enum=list(registry.names()))),
    ]


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


class LoadSettings(Section):
    """The load the cost estimate prices usage at (`plan`'s `cost.atLoadMonthlyUsd`)."""

    requests_per_second: float = Field(1.0, ge=0)
    """Scoring (or recommendation lookup) requests per second, averaged over the month."""
    events_per_second: float = Field(1.0, ge=0)
    """Events (transactions) per second on the stream, averaged over the month."""
    event_kb: float = Field(1.0, gt=0, le=1024)
    """Average event size in KB."""
    training_runs_per_month: int = Field(4, ge=0)
    """Training pipeline runs per month."""
    training_hours_per_run: float = Field(1.0, ge=0)
    """Hours of the training job in each run."""
    stored_gb: float = Field(10.0, ge=0)
    """Data kept in the stack's buckets and offline store."""
    log_gb_per_month: float = Field(1.0, ge=0)
    """Logs ingested per month (flow logs, function logs)."""
    scored_users: int = Field(1000, ge=0)
    """Users scored per batch generation (batch serving: one table write each)."""
    scoring_runs_per_month: int = Field(30, ge=0)
    """Batch scoring runs per month (nightly: 30)."""
    scoring_hours_per_run: float = Field(0.5, ge=0)
    """Hours of the batch transform in each scoring run."""


class StackSettings(Section):
    """What every stack declares; each blueprint's settings model extends it with the
    sections of its components."""

    blueprint: Annotated[str, Field(json_schema_extra=lambda s: s.update(enum=_blueprints()))]
    """Which reference blueprint the stack deploys."""
    environment: Annotated[
        str, Field(json_schema_extra=lambda s: s.update(enum=list(environments())))
    ]
    """Environment profile that supplies the defaults (`mlkit/profiles/<env>.yaml`)."""
    region: Region
    """AWS region (the provider's own `aws:region` key)."""
    tags: Tags
    """Tags on every taggable resource."""
    durability: Durability
    """`retain`: stateful resources protected and kept on destroy (required in prod);
    `destroy`: `pulumi destroy` removes everything, buckets included."""
    load: LoadSettings = LoadSettings()
    """Expected load, for the cost estimate only."""
    _source: str = PrivateAttr("stack config")

    def config_error(self, path: str, message: str) -> ConfigError:
        """An error about a setting that is valid on its own but not in this account or
        region (found while building), naming the stack file like validation errors do.
        `path` is under `mlkit:` unless it names its namespace (`aws:region`)."""
        key = path if ":" in path else f"{NAMESPACE}:{path}"
        return ConfigError(self._source, [(key, message)])

    def stack_tags(self) -> dict[str, str]:
        """Tags every resource of the stack carries."""
        return self.tags.as_dict() | {
            f"{NAMESPACE}:blueprint": self.blueprint,
            f"{NAMESPACE}:environment": self.environment,
        }


def _blueprints() -> list[str]:
    from mlkit.blueprint import blueprint_keys

    return list(blueprint_keys())


@cache
def environments() -> tuple[str, ...]:
    """The environment profiles, in promotion order."""
    order = {"dev": 0, "staging": 1, "prod": 2}
    names = [path.stem for path in PROFILES_DIR.glob("*.yaml")]
    return tuple(sorted(names, key=lambda name: (order.get(name, 3), name)))


@cache
def profile(environment: str) -> dict[str, Any]:
    """Defaults of one environment, in stack-file form (camelCase keys)."""
    import yaml

    path = PROFILES_DIR / f"{environment}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@cache
def blueprint_defaults(blueprint: str) -> dict[str, Any]:
    """A blueprint's reference settings (`blueprints/defaults/<blueprint>.yaml`), between
    the environment profile and the stack file; none for blueprints without the file."""
    import yaml

    path = DEFAULTS_DIR / f"{blueprint}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def section_keys(model: type[BaseModel]) -> dict[str, str]:
    """Stack-file key (camelCase alias) -> field name of a settings model."""
    return {field.alias or name: name for name, field in model.model_fields.items()}


def profile_defaults(model: type[BaseModel], environment: str) -> dict[str, Any]:
    """The environment's profile as it applies to `model`: profiles hold the sections of
    every blueprint, and blueprints may shape a section alike named differently (the
    recommender's `serving` is not the fraud endpoint's), so only the sections the model has
    are kept, and in each only the keys its section has. `test_settings` checks that every
    profile key is some blueprint's, so a misspelled profile key cannot hide."""
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    kept: dict[str, Any] = {}
    for key, value in profile(environment).items():
        field = fields.get(key)
        if field is None:
            continue
        section = next(
            (c for c in (field.annotation, *get_args(field.annotation))
             if isinstance(c, type) and issubclass(c, BaseModel)),
            None,
        )  # fmt: skip
        if section is not None and isinstance(value, Mapping) and section is not Tags:
            value = {k: v for k, v in value.items() if k in section_keys(section)}
        kept[key] = value
    return kept


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


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the settings block at `loc` accepts, for 'unknown key' messages."""
    current: type[BaseModel] | None = model
    for part in loc:
        fields = {f.alias or n: f for n, f in current.model_fields.items()} if current else {}
        field = fields.get(str(part))
        candidates = [field.annotation, *get_args(field.annotation)] if field else []
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if current is None or current is Tags:
        return []
    return sorted(key for key in section_keys(current) if key != "region")


def _problems(
    model: type[StackSettings], blueprint: str, error: pydantic.ValidationError
) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and len(loc) == 1:
            message = f"not used by blueprint {blueprint}"
        elif item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
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
    them) into the settings of its blueprint. Raises ConfigError naming `source` and each
    bad field."""
    from mlkit.blueprint import blueprint_keys, load_blueprint

    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in config.items():
        namespace, sep, name = key.partition(":")
        if key == REGION_KEY:
            values["region"] = value
        elif namespace == NAMESPACE and sep and name == "region":
            problems.append((key, f"the region is the provider's key: use '{REGION_KEY}'"))
        elif namespace == NAMESPACE and sep and name:
            values[name] = _decode(value, key in secret_keys)
        elif namespace not in PROVIDER_NAMESPACES or not sep:
            problems.append((key, f"unknown config key (expected '{NAMESPACE}:<name>')"))
    if problems:
        raise ConfigError(source, problems)

    environment = values.get("environment")
    if not isinstance(environment, str) or environment not in environments():
        allowed = ", ".join(f"'{name}'" for name in environments())
        found = "required" if environment is None else f"'{environment}' is not one of {allowed}"
        raise ConfigError(source, [(f"{NAMESPACE}:environment", found)])
    blueprint = values.get("blueprint")
    if not isinstance(blueprint, str) or blueprint not in blueprint_keys():
        found = "required" if blueprint is None else f"Input should be {one_of(blueprint_keys())}"
        raise ConfigError(source, [(f"{NAMESPACE}:blueprint", found)])
    model = load_blueprint(blueprint).settings
    defaults = profile_defaults(model, environment)
    try:
        merged = deep_merge(deep_merge(defaults, blueprint_defaults(blueprint)), values)
        settings = model.model_validate(merged)
    except pydantic.ValidationError as error:
        raise ConfigError(source, _problems(model, blueprint, error)) from None
    settings._source = source
    return settings
