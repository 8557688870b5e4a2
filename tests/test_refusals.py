"""Every refusal is tested. The refusals are read from the code with `ast`: each
`raise ValueError(...)`, `raise ConfigError(...)` and `raise <settings>.config_error(...)` in
the settings (mlkit/settings.py, modules/*/settings.py), the blueprints (blueprints/*.py) and
the component constructors (the `__init__` of each ComponentResource under modules/, and the
functions of its own module it calls by name). A refusal counts as tested when a bad stack in
tests/bad_stacks/ expects its message, or when a case below triggers it; the cases below
trigger each refusal for real (settings validated through the blueprint's model, stack files
planned, components built under the recorder) and check the whole message.

A message's constant parts must appear in the expected message, in order, with something in
each formatted place (module-level constants, e.g. NAMESPACE, are substituted): an f-string
made of placeholders only is matched by little, so the cases check whole messages anyway.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from mlkit.settings import ConfigError, blueprint_defaults, settings_from_config
from mlkit.stackfile import PROJECT_ROOT
from modules.serving.api import JwtAuth

BAD_STACKS = sorted((PROJECT_ROOT / "tests" / "bad_stacks").glob("Pulumi.*.yaml"))
SETTINGS_SOURCES = [
    PROJECT_ROOT / "mlkit" / "settings.py",
    *sorted((PROJECT_ROOT / "modules").glob("*/settings.py")),
    *sorted((PROJECT_ROOT / "blueprints").glob("*.py")),
]
CONSTRUCTOR_SOURCES = sorted(
    p for p in (PROJECT_ROOT / "modules").rglob("*.py") if p.name != "settings.py"
)
# Raises that pass on refusals found elsewhere (pydantic's errors, i.e. the validators
# enumerated above, turned into problems): not refusals of their own.
RELAYS = {("mlkit/settings.py", "_problems")}


# --- reading the refusals from the code ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    where: str  # file:line
    text: str  # the message with {...} for what is formatted in
    pattern: re.Pattern[str]

    def matches(self, line: str) -> bool:
        return self.pattern.search(line) is not None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str | int)
            and not isinstance(value.value, bool)
        ):
            constants[target.id] = str(value.value)
    return constants


def _parts(node: ast.AST, constants: dict[str, str]) -> list[str | None] | None:
    """A string's pieces: text, or None where a value is formatted in; None if not a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        parts: list[str | None] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value.value)
            elif (
                isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Name)
                and value.value.id in constants
                and value.conversion == -1
                and value.format_spec is None
            ):
                parts.append(constants[value.value.id])
            else:
                parts.append(None)
        return parts
    return None


def _assigned(function: ast.AST, name: str, before: int) -> list[ast.AST]:
    """What `name` holds at line `before` of a function: its last assignment there, and the
    items appended to it since."""
    last: ast.AST | None = None
    appended: list[ast.AST] = []
    for node in sorted(ast.walk(function), key=lambda n: getattr(n, "lineno", 0)):
        if getattr(node, "lineno", before) >= before:
            continue
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            last, appended = node.value, []
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
            and node.args
        ):
            appended.append(ast.List(elts=[node.args[0]]))
    return ([] if last is None else [last]) + appended


def _expand(node: ast.AST, function: ast.AST, line: int) -> list[ast.AST]:
    """Alternatives of a value at `line`: both branches of `a if c else b`, what a name
    holds."""
    if isinstance(node, ast.IfExp):
        return _expand(node.body, function, line) + _expand(node.orelse, function, line)
    if isinstance(node, ast.Name):
        values = _assigned(function, node.id, line)
        return [alt for value in values for alt in _expand(value, function, line)]
    return [node]


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rel = path.relative_to(PROJECT_ROOT).as_posix()
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.constants = _module_constants(self.tree)
        self.refusals: list[Refusal] = []
        self.unread: list[str] = []

    def message(self, line: int, key: ast.AST | None, message: ast.AST, function: ast.AST) -> None:
        key_parts: list[str | None] = []
        if key is not None:
            for alt in _expand(key, function, line):
                found = _parts(alt, self.constants)
                key_parts = [*found, ": "] if found is not None else []
        for alt in _expand(message, function, line):
            parts = _parts(alt, self.constants)
            if parts is None:
                self.unread.append(f"{self.rel}:{line}: {ast.unparse(alt)}")
                continue
            parts = key_parts + parts
            text = "".join("{...}" if p is None else p for p in parts)
            body = "".join(".+?" if p is None else re.escape(p) for p in parts if p != "")
            self.refusals.append(
                Refusal(f"{self.rel}:{line}", text, re.compile(f"(?:^|:) ?{body}$"))
            )

    def raise_(self, node: ast.Raise, function: ast.AST) -> None:
        call = node.exc
        if not isinstance(call, ast.Call):
            return
        func = ast.unparse(call.func)
        if func == "ValueError" and call.args:
            self.message(node.lineno, None, call.args[0], function)
        elif func.endswith(".config_error") and len(call.args) == 2:
            path = call.args[0]
            if isinstance(path, ast.Constant) and ":" not in path.value:
                path = ast.Constant(f"mlkit:{path.value}")
            self.message(node.lineno, path, call.args[1], function)
        elif func == "ConfigError" and len(call.args) == 2:
            relay = isinstance(call.args[1], ast.Call) and (
                (self.rel, ast.unparse(call.args[1].func)) in RELAYS
            )
            if relay:
                return
            for problems in _expand(call.args[1], function, node.lineno):
                items = problems.elts if isinstance(problems, ast.List) else [problems]
                for item in items:
                    if isinstance(item, ast.Tuple) and len(item.elts) == 2:
                        self.message(node.lineno, item.elts[0], item.elts[1], function)
                    else:
                        self.unread.append(f"{self.rel}:{node.lineno}: {ast.unparse(item)}")
        elif func in ("ConfigError", "ValueError") or func.endswith(".config_error"):
            self.unread.append(f"{self.rel}:{node.lineno}: {ast.unparse(call)}")


def _raises(body: ast.AST) -> list[ast.Raise]:
    """Raises in a function's own body: not in nested functions or lambdas (they run later)."""
    found, todo = [], list(ast.iter_child_nodes(body))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Raise):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def read_refusals() -> tuple[list[Refusal], list[str]]:
    refusals, unread = [], []
    for path in SETTINGS_SOURCES:
        reader = _Reader(path)
        for function in _functions(reader.tree):
            for node in _raises(function):
                reader.raise_(node, function)
        refusals += reader.refusals
        unread += reader.unread
    for path in CONSTRUCTOR_SOURCES:
        reader = _Reader(path)
        for function in _functions(reader.tree):
            for node in _raises(function):
                if ast.unparse(node.exc.func if isinstance(node.exc, ast.Call) else node.exc) == (
                    "ValueError"
                ):
                    reader.raise_(node, function)
        refusals += reader.refusals
        unread += reader.unread
    return refusals, unread


def bad_stack_messages() -> list[str]:
    lines = []
    for path in BAD_STACKS:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        lines.append(first.removeprefix("# expect: "))
    return lines


# --- how the cases trigger refusals -------------------------------------------------------------

TAGS = {"owner": "team", "cost-center": "1"}
BASE_DEV = {
    "aws:region": "eu-west-1",
    "mlkit:blueprint": "platform-base",
    "mlkit:environment": "dev",
    "mlkit:tags": TAGS,
}
FRAUD_DEV = BASE_DEV | {"mlkit:blueprint": "realtime-fraud"}
RECSYS_DEV = BASE_DEV | {"mlkit:blueprint": "batch-recommender"}
FRAUD_PROD = FRAUD_DEV | {
    "mlkit:environment": "prod",
    "mlkit:durability": "retain",
    "mlkit:observability": {"alertEmails": ["oncall@example.com"]},
}


def one_problem(error: ConfigError) -> str:
    assert len(error.problems) == 1, error.problems
    ((path, message),) = error.problems
    return f"{path}: {message}"


def validate(config: dict[str, Any]) -> str:
    """The one problem validating a stack's config finds."""
    with pytest.raises(ConfigError) as raised:
        settings_from_config(config, set(), "stack")
    return one_problem(raised.value)


def plan(config: dict[str, Any], tmp_path: Path) -> str:
    """The one line `mlkit plan` prints for a stack file, which it refuses (exit 2)."""
    from mlkit.cli import EXIT_INVALID, main

    stack = tmp_path / "Pulumi.refused.yaml"
    stack.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["plan", str(stack), "--json", "--out", str(tmp_path / "out")]) == EXIT_INVALID
    (line,) = err.getvalue().splitlines()
    prefix = f"{stack}: "
    assert line.startswith(prefix), line
    assert not (tmp_path / "out").exists()
    return line.removeprefix(prefix)


def fraud_groups() -> list[dict[str, Any]]:
    return copy.deepcopy(blueprint_defaults("realtime-fraud")["featureStore"]["featureGroups"])


def group(**changes: Any) -> dict[str, Any]:
    """A valid online+offline group, changed."""
    return {
        "name": "g",
        "owner": "team",
        "recordIdentifier": "id",
        "eventTime": "ts",
        "features": {"id": "string", "ts": "string", "x": "integral"},
    } | changes


def groups_setting(*groups: dict[str, Any]) -> dict[str, Any]:
    return FRAUD_DEV | {"mlkit:featureStore": {"featureGroups": list(groups)}}


def section(config: dict[str, Any], name: str, **values: Any) -> dict[str, Any]:
    return config | {f"mlkit:{name}": values}


def recsys_groups(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The recommender's feature groups (blueprint defaults), `changes` merged by name."""
    groups = copy.deepcopy(blueprint_defaults("batch-recommender")["featureStore"]["featureGroups"])
    return [g | changes.get(g["name"], {}) for g in groups]


# Settings refusals: (config, the one problem it gives), all written out by hand.
SETTINGS_CASES = {
    # mlkit/settings.py
    "environment-missing": (
        {k: v for k, v in BASE_DEV.items() if k != "mlkit:environment"},
        "mlkit:environment: required",
    ),
    "blueprint-missing": (
        {k: v for k, v in BASE_DEV.items() if k != "mlkit:blueprint"},
        "mlkit:blueprint: required",
    ),
    "backend-not-registered": (
        section(FRAUD_DEV, "metadata", backend="mlflow"),
        "mlkit:metadata.backend: Input should be 'sagemaker'",
    ),
    "secret-in-plain-text": (
        section(BASE_DEV, "observability", alertHttpsEndpoint="https://events.example.com/x"),
        "mlkit:observability.alertHttpsEndpoint: must be a secure value: set it with "
        "`pulumi config set --secret --path ...`",
    ),
    "tag-key-too-long": (
        BASE_DEV | {"mlkit:tags": TAGS | {"k" * 129: "v"}},
        f"mlkit:tags: tag key '{'k' * 129}' is reserved or longer than 128 characters",
    ),
    "tag-key-aws": (
        BASE_DEV | {"mlkit:tags": TAGS | {"aws:team": "v"}},
        "mlkit:tags: tag key 'aws:team' is reserved or longer than 128 characters",
    ),
    # modules/feature_store/settings.py
    "event-time-not-a-feature": (
        groups_setting(group(eventTime="when")),
        "mlkit:featureStore.featureGroups[0]: eventTime 'when' is not in features",
    ),
    "required-twice": (
        groups_setting(group(required=["x", "x"])),
        "mlkit:featureStore.featureGroups[0]: required: a feature is listed twice",
    ),
    "event-time-integral": (
        groups_setting(group(eventTime="x")),
        "mlkit:featureStore.featureGroups[0]: eventTime must be a string or fractional feature",
    ),
    "group-without-store": (
        groups_setting(group(online=False, offline=False)),
        "mlkit:featureStore.featureGroups[0]: a feature group needs an online or an offline store",
    ),
    "ttl-offline-only": (
        groups_setting(group(online=False, ttlDays=7)),
        "mlkit:featureStore.featureGroups[0]: ttlDays applies to the online store only",
    ),
    "no-groups": (
        groups_setting(),
        "mlkit:featureStore: featureGroups: declare at least one group",
    ),
    "groups-share-a-name": (
        groups_setting(group(), group()),
        "mlkit:featureStore: featureGroups: two groups share a name",
    ),
    "no-windows": (
        section(FRAUD_DEV, "streaming", windows={}),
        "mlkit:streaming: windows: declare at least one window",
    ),
    "window-negative": (
        section(FRAUD_DEV, "streaming", windows={"10m": -600}),
        "mlkit:streaming: windows: '10m' must be a positive number of whole minutes",
    ),
    "window-over-7-days": (
        # 10,081 minutes: one bucket more than the 10,080 the aggregator keeps.
        section(FRAUD_DEV, "streaming", windows={"7d": 10_081 * 60}),
        "mlkit:streaming: windows: '7d' is longer than 10080 one-minute buckets (7 days): a "
        "card's window state must fit one DynamoDB item",
    ),
    # modules/monitoring/settings.py
    "schedule-not-an-expression": (
        section(FRAUD_DEV, "monitoring", driftSchedule="every hour"),
        "mlkit:monitoring.driftSchedule: 'every hour' is not rate(value unit) or cron(minutes "
        "hours day-of-month month day-of-week year)",
    ),
    "rate-plural-for-one": (
        section(FRAUD_DEV, "monitoring", driftSchedule="rate(1 hours)"),
        "mlkit:monitoring.driftSchedule: 'rate(1 hours)': the unit is singular for 1 and plural "
        "above (rate(1 hour), rate(2 hours))",
    ),
    "rate-singular-for-two": (
        section(FRAUD_DEV, "monitoring", qualitySchedule="rate(2 day)"),
        "mlkit:monitoring.qualitySchedule: 'rate(2 day)': the unit is singular for 1 and plural "
        "above (rate(1 hour), rate(2 hours))",
    ),
    "rate-zero": (
        section(FRAUD_DEV, "monitoring", driftSchedule="rate(0 hours)"),
        "mlkit:monitoring.driftSchedule: 'rate(0 hours)': the unit is singular for 1 and plural "
        "above (rate(1 hour), rate(2 hours))",
    ),
    "rate-59-minutes": (
        section(FRAUD_DEV, "monitoring", driftSchedule="rate(59 minutes)"),
        "mlkit:monitoring.driftSchedule: 'rate(59 minutes)' runs more often than hourly",
    ),
    "cron-every-5-minutes": (
        section(FRAUD_DEV, "monitoring", driftSchedule="cron(*/5 * ? * * *)"),
        "mlkit:monitoring.driftSchedule: 'cron(*/5 * ? * * *)': minutes must be one number 0-59 "
        "(at most hourly)",
    ),
    "cron-minute-60": (
        section(FRAUD_DEV, "monitoring", driftSchedule="cron(60 * ? * * *)"),
        "mlkit:monitoring.driftSchedule: 'cron(60 * ? * * *)': minutes must be one number 0-59 "
        "(at most hourly)",
    ),
    "cron-without-question-mark": (
        section(FRAUD_DEV, "monitoring", driftSchedule="cron(0 * * * * *)"),
        "mlkit:monitoring.driftSchedule: 'cron(0 * * * * *)': day-of-month or day-of-week must "
        "be '?'",
    ),
    "image-by-tag": (
        section(FRAUD_DEV, "monitoring", jobImage="1.dkr.ecr.eu-west-1.amazonaws.com/m:latest"),
        "mlkit:monitoring.jobImage: '1.dkr.ecr.eu-west-1.amazonaws.com/m:latest' is not an ECR "
        "image pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repository>"
        "@sha256:<64 hex>)",
    ),
    "processing-instance-unknown": (
        section(FRAUD_DEV, "monitoring", instanceType="ml.m5.huge"),
        "mlkit:monitoring.instanceType: 'ml.m5.huge' is not an instance type SageMaker "
        "Processing offers",
    ),
    # modules/network/settings.py
    "cidr-public": (
        section(BASE_DEV, "network", cidrBlock="8.8.0.0/16"),
        "mlkit:network.cidrBlock: must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16",
    ),
    "cidr-too-large": (
        section(BASE_DEV, "network", cidrBlock="10.0.0.0/8"),
        "mlkit:network.cidrBlock: must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16",
    ),
    "cidr-too-small": (
        section(BASE_DEV, "network", cidrBlock="10.0.0.0/25"),
        "mlkit:network.cidrBlock: must be a private IPv4 range from /16 to /24, e.g. 10.20.0.0/16",
    ),
    "endpoint-twice": (
        section(BASE_DEV, "network", interfaceEndpoints=["sts", "logs", "sts"]),
        "mlkit:network: interfaceEndpoints lists an endpoint twice",
    ),
    "endpoints-beyond-network": (
        section(BASE_DEV, "network", azCount=2, endpointAzCount=3),
        "mlkit:network: endpointAzCount (3) is more than azCount (2): endpoints can only be in "
        "the network's AZs",
    ),
    # modules/serving/settings.py
    "max-below-min": (
        section(FRAUD_DEV, "serving", mode="instances", minInstances=3, maxInstances=2),
        "mlkit:serving: maxInstances is below minInstances",
    ),
    "serverless-capture": (
        section(FRAUD_DEV, "serving", mode="serverless", dataCapturePercent=10),
        "mlkit:serving: dataCapturePercent: serverless endpoints cannot capture data",
    ),
    "serverless-shadow": (
        section(FRAUD_DEV, "serving", modelVersion=1, shadowModelVersion=2),
        "mlkit:serving: shadowModelVersion: needs mode 'instances'",
    ),
    "jwt-without-issuer": (
        section(FRAUD_DEV, "serving", apiAuth="jwt", jwtAudience=["scoring"]),
        "mlkit:serving: apiAuth jwt needs jwtIssuer and jwtAudience",
    ),
    "jwt-without-audience": (
        section(FRAUD_DEV, "serving", apiAuth="jwt", jwtIssuer="https://idp.example.com"),
        "mlkit:serving: apiAuth jwt needs jwtIssuer and jwtAudience",
    ),
    "shadow-without-model": (
        section(FRAUD_DEV, "serving", mode="instances", shadowModelVersion=2),
        "mlkit:serving: shadowModelVersion: needs a modelVersion to shadow",
    ),
    # blueprints/_base.py
    "prod-destroy": (
        FRAUD_PROD | {"mlkit:durability": "destroy"},
        "mlkit:durability: prod stacks must use 'retain' so data survives",
    ),
    "prod-without-alerting": (
        BASE_DEV | {"mlkit:environment": "prod", "mlkit:durability": "retain"},
        "mlkit:observability: prod stacks need alertEmails or alertHttpsEndpoint, or alarms "
        "reach nobody",
    ),
    # blueprints/realtime_fraud.py
    "model-feature-unknown": (
        section(FRAUD_DEV, "model", features=["transactions.amount", "nowhere.amount"]),
        "mlkit:model: feature 'nowhere.amount' is not in featureStore",
    ),
    "model-feature-string": (
        section(FRAUD_DEV, "model", features=["transactions.currency"]),
        "mlkit:model: feature 'transactions.currency' is a string; the model takes numbers "
        "(encode it as a feature first)",
    ),
    "aggregate-group-offline": (
        section(FRAUD_DEV, "streaming", aggregateGroup="transactions"),
        "mlkit:streaming: aggregateGroup 'transactions' must be an online feature group",
    ),
    "aggregate-group-unknown": (
        section(FRAUD_DEV, "streaming", aggregateGroup="nowhere"),
        "mlkit:streaming: aggregateGroup 'nowhere' must be an online feature group",
    ),
    "aggregate-window-missing": (
        section(FRAUD_DEV, "streaming", windows={"10m": 600, "2h": 7200}),
        "mlkit:streaming: 'card_aggregates' lacks feature 'txn_count_2h'",
    ),
    "prod-serverless": (
        section(FRAUD_PROD, "serving", mode="serverless", dataCapturePercent=0),
        "mlkit:serving: prod endpoints need mode 'instances' and minInstances >= 2 (one per AZ)",
    ),
    "prod-one-instance": (
        section(FRAUD_PROD, "serving", mode="instances", minInstances=1, dataCapturePercent=5),
        "mlkit:serving: prod endpoints need mode 'instances' and minInstances >= 2 (one per AZ)",
    ),
    "prod-no-capture": (
        section(FRAUD_PROD, "serving", mode="instances", minInstances=2, dataCapturePercent=0),
        "mlkit:serving: prod endpoints need dataCapturePercent > 0 for monitoring",
    ),
    # blueprints/batch_recommender.py and the sections it adds
    "recsys-group-missing": (
        RECSYS_DEV | {"mlkit:featureStore": {"featureGroups": recsys_groups()[:1]}},
        "mlkit:featureStore.featureGroups: the recommender's SQL writes and reads "
        "'item_features'; declare it",
    ),
    "recsys-group-online": (
        RECSYS_DEV
        | {"mlkit:featureStore": {"featureGroups": recsys_groups(user_features={"online": True})}},
        "mlkit:featureStore.featureGroups: 'user_features' is filled by batch SQL on its "
        "offline store: set online: false, offline: true",
    ),
    "recsys-k-above-top-n": (
        RECSYS_DEV | {"mlkit:training": {"k": 30}, "mlkit:serving": {"topN": 20}},
        "mlkit:training.k: the ranking gate's k must be at most serving.topN",
    ),
    "recsys-freshness-beyond-retention": (
        # 2 days of retention are 48 hours: an alarm after 48 hours would come too late.
        RECSYS_DEV
        | {"mlkit:monitoring": {"freshnessHours": 48}, "mlkit:serving": {"retentionDays": 2}},
        "mlkit:monitoring.freshnessHours: must be below serving.retentionDays x 24, or the "
        "served generation's items expire before the freshness alarm fires",
    ),
    "recsys-holdout-as-long-as-window": (
        section(RECSYS_DEV, "training", windowDays=7, holdoutDays=7),
        "mlkit:training: holdoutDays must be shorter than windowDays",
    ),
}


@pytest.mark.parametrize(("config", "expected"), SETTINGS_CASES.values(), ids=SETTINGS_CASES)
def test_settings_refusal(config: dict[str, Any], expected: str) -> None:
    assert validate(config) == expected


def _without_profile_group() -> dict[str, Any]:
    groups = [g for g in fraud_groups() if g["name"] != "customer_profile"]
    features = [
        f
        for f in blueprint_defaults("realtime-fraud")["model"]["features"]
        if not f.startswith("customer_profile.")
    ]
    return FRAUD_DEV | {
        "mlkit:featureStore": {"featureGroups": groups},
        "mlkit:model": {"features": features},
    }


def _online_only_aggregates() -> dict[str, Any]:
    groups = fraud_groups()
    (aggregates,) = (g for g in groups if g["name"] == "card_aggregates")
    aggregates["offline"] = False
    return FRAUD_DEV | {"mlkit:featureStore": {"featureGroups": groups}}


# Refusals found while building (valid settings the blueprint cannot deploy): planned.
PLAN_CASES = {
    "region-without-images": (
        # ap-south-2 has SageMaker (a valid region) but no pinned images in images.json.
        lambda: FRAUD_DEV | {"aws:region": "ap-south-2"},
        "aws:region: no pinned SageMaker images for ap-south-2 (see images.json)",
    ),
    "recsys-region-without-images": (
        # mx-central-1 has SageMaker but no SKLearn images the SDK lists.
        lambda: RECSYS_DEV | {"aws:region": "mx-central-1"},
        "aws:region: no pinned SageMaker images for mx-central-1 (see "
        "functions/recommendations/pipelines/images.json)",
    ),
    "pipeline-group-missing": (
        _without_profile_group,
        "mlkit:featureStore.featureGroups: the training pipeline reads groups "
        "['customer_profile']; declare them",
    ),
    "pipeline-group-online-only": (
        _online_only_aggregates,
        "mlkit:featureStore.featureGroups: the training pipeline reads the offline stores of "
        "['card_aggregates']; set offline: true",
    ),
}


@pytest.mark.parametrize(("config", "expected"), PLAN_CASES.values(), ids=PLAN_CASES)
def test_build_refusal_in_a_plan(config: Callable[[], dict], expected: str, tmp_path) -> None:
    assert plan(config(), tmp_path) == expected


MONITOR_EXPECTED = (
    "mlkit:monitoring.jobImage: the image is in us-east-1, the stack in eu-west-1: push it "
    "to the stack's region (or replicate it there)"
)


def test_monitoring_image_from_another_region(record_program, platform) -> None:
    # Planning a stack with a model version and an image costs seconds: the check is the
    # first thing `monitor` does, so it is called alone, with the settings a stack gives.
    from blueprints.realtime_fraud import monitor

    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/monitoring@sha256:" + "a" * 64
    config = section(FRAUD_DEV, "monitoring", jobImage=image)
    settings = settings_from_config(config, set(), "stack")
    with pytest.raises(ConfigError) as raised:
        record_program(lambda: monitor(settings, platform, None, None, {}, None, None))
    assert one_problem(raised.value) == MONITOR_EXPECTED


# --- component constructors -----------------------------------------------------------------

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/m/1"
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/monitoring@sha256:" + "b" * 64


def network(**changes):
    from modules.network import Network, NetworkArgs

    args = dict(region="eu-west-1", availability_zones=["eu-west-1a", "eu-west-1b"]) | changes
    return lambda platform: Network("n", NetworkArgs(**args))


def observability(**changes):
    from modules.observability import Observability, ObservabilityArgs

    args = dict(account_id="111122223333", kms_key_arn="arn:k") | changes
    return lambda platform: Observability("o", ObservabilityArgs(**args))


def bucket(**changes):
    from modules.common import Durability
    from modules.security import SecureBucket, SecureBucketArgs

    def build(platform):
        args = dict(kms_key_arn="arn:k", durability=Durability.from_setting("destroy")) | changes
        return SecureBucket("b", SecureBucketArgs(**args))

    return build


def key(**changes):
    from modules.common import Durability
    from modules.security import StackKey, StackKeyArgs

    def build(platform):
        args = dict(
            account_id="111122223333",
            region="eu-west-1",
            durability=Durability.from_setting("destroy"),
        )
        return StackKey("k", StackKeyArgs(**(args | changes)))

    return build


SCHEMA = {
    "featureGroups": [{"name": "transactions", "recordIdentifier": "transaction_id"}],
    "label": "is_fraud",
}


def training(**changes):
    from modules.training import Training, TrainingArgs

    args = (
        dict(
            offline_bucket_arn="arn:aws:s3:::offline",
            offline_database="db",
            offline_tables={
                g: f"t_{g}" for g in ("transactions", "card_aggregates", "customer_profile")
            },
            feature_schema=SCHEMA,
            model_package_group_name="models",
            model_package_group_arn="arn:aws:sagemaker:eu-west-1:111122223333:model-package-group/m",
            images={"processing": "p", "training": "t", "monitoring": "m"},
        )
        | changes
    )
    return lambda platform: Training("t", platform, TrainingArgs(**args))


def endpoint(capacity: dict[str, Any], **changes):
    from modules.serving import EndpointCapacity, RealtimeEndpoint, RealtimeEndpointArgs

    def build(platform):
        args = dict(
            endpoint_name="e",
            model_package_arn=ARN,
            image_repository_arns=[],
            capacity=EndpointCapacity(**capacity),
        )
        return RealtimeEndpoint("e", platform, RealtimeEndpointArgs(**(args | changes)))

    return build


def scoring_api(issuer: str, audience: tuple[str, ...]):
    from modules.serving.api import JwtAuth, ScoringApi, ScoringApiArgs

    def build(platform):
        args = ScoringApiArgs(
            endpoint_name="e",
            endpoint_arn="arn:e",
            model_package_arn=ARN,
            model_schema={},
            feature_group_arns=[],
            jwt=JwtAuth(issuer=issuer, audience=audience),
        )
        return ScoringApi("api", platform, args)

    return build


def feature_store(groups: list[dict[str, Any]], consumers=None):
    from modules.feature_store import FeatureGroupSpec, FeatureStore, FeatureStoreArgs

    def build(platform):
        specs = [
            FeatureGroupSpec(
                **{
                    "record_identifier": "id",
                    "event_time": "ts",
                    "features": {"id": "string", "ts": "string"},
                    "owner": "team",
                }
                | g
            )
            for g in groups
        ]
        return FeatureStore("fs", platform, FeatureStoreArgs(specs, consumers or {}))

    return build


def ingestion(**changes):
    from modules.feature_store import StreamingIngestion, StreamingIngestionArgs

    args = (
        dict(
            aggregate_group_name="agg",
            aggregate_group_arn="arn:agg",
            transactions_group_name="txn",
            transactions_group_arn="arn:txn",
            windows={"10m": 600},
        )
        | changes
    )
    return lambda platform: StreamingIngestion("i", platform, StreamingIngestionArgs(**args))


def metadata(mlflow: str):
    from modules.metadata import Metadata, MetadataArgs

    return lambda platform: Metadata("m", platform, MetadataArgs(mlflow=mlflow))


def endpoint_alarms(**changes):
    from modules.monitoring import EndpointAlarms, EndpointAlarmsArgs

    args = dict(endpoint_name="e", variant_name="primary") | changes
    return lambda platform: EndpointAlarms("a", platform, EndpointAlarmsArgs(**args))


def pipeline_alarms(**changes):
    from modules.monitoring import FeaturePipelineAlarms, PipelineAlarmsArgs

    args = (
        dict(aggregator_function_name="f", aggregate_group_name="g", dead_letter_queue_name="q")
        | changes
    )
    return lambda platform: FeaturePipelineAlarms("p", platform, PipelineAlarmsArgs(**args))


def retraining(**changes):
    from modules.monitoring import RetrainingTrigger, RetrainingTriggerArgs

    args = dict(alarm_names=["drift"], pipeline_name="p", min_interval_hours=24) | changes
    return lambda platform: RetrainingTrigger("r", platform, RetrainingTriggerArgs(**args))


def monitoring_jobs(name: str = "jobs", **changes):
    from modules.monitoring.kit_jobs import MonitoringJobs, MonitoringJobsArgs

    args = (
        dict(
            endpoint_name="e",
            variant_name="primary",
            capture_uri="s3://artifacts/data-capture",
            labels_uri="s3://artifacts/labels",
            baseline_uri="s3://artifacts/baseline",
            model_package_arn=ARN,
            features=["amount", "txn_count_1h"],
            min_auc=0.8,
            job_image=IMAGE,
        )
        | changes
    )
    return lambda platform: MonitoringJobs(name, platform, MonitoringJobsArgs(**args))


def python_function_in_vpc(platform):
    """A component whose function should run in the VPC of a platform that has none."""
    from modules.python_function import PythonFunctionArgs, python_function

    component = pulumi.ComponentResource("test:index:Component", "component")
    return python_function(
        "fn",
        platform,
        PythonFunctionArgs(code_dir="functions/scoring", environment={}, statements=[]),
        component,
    )


def materialization(**changes):
    from modules.feature_store.materialization import (
        AthenaMaterialization,
        AthenaMaterializationArgs,
        LakeTable,
        MaterializationQuery,
    )

    args = (
        dict(
            sources=[LakeTable("interactions", {"user_id": "string"})],
            queries=[MaterializationQuery("user-features", "INSERT INTO t SELECT 1", "t")],
            feature_database="features",
            offline_bucket_name="offline",
        )
        | changes
    )
    name = args.pop("name", "recsys-dev-materialization")
    return lambda platform: AthenaMaterialization(name, platform, AthenaMaterializationArgs(**args))


def lake_table(name: str, columns: dict[str, str]):
    from modules.feature_store.materialization import LakeTable

    return LakeTable(name, columns)


def query(name: str):
    from modules.feature_store.materialization import MaterializationQuery

    return MaterializationQuery(name, "INSERT INTO t SELECT 1", "t")


def batch_lookup(**changes):
    from modules.serving.batch import BatchLookup, BatchLookupArgs

    return lambda platform: BatchLookup("b", platform, BatchLookupArgs(**changes))


def batch_alarms(**changes):
    from modules.monitoring import BatchServingAlarms, BatchServingAlarmsArgs

    args = dict(table_name="t", api_id="api", pipeline_arns=["arn:p"]) | changes
    return lambda platform: BatchServingAlarms("a", platform, BatchServingAlarmsArgs(**args))


def dashboard(panels):
    from modules.monitoring import DashboardArgs, ServiceDashboard

    return lambda platform: ServiceDashboard("d", platform, DashboardArgs(panels))


def alarm(**changes):
    from modules.monitoring.alarms import metric_alarm

    args = (
        dict(
            alarm_name="a",
            purpose="p",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions={"FunctionName": "f"},
            threshold=1,
            topic_arn="arn:t",
            tags={},
        )
        | changes
    )

    def build(platform):
        parent = pulumi.ComponentResource("test:alarm:Parent", "parent")
        return metric_alarm("a", parent=parent, **args)

    return build


def statement(actions, resources):
    from modules.security.iam import allow

    return lambda platform: allow(actions, resources)


def input_schema(groups, references):
    from modules.feature_store import FeatureGroupSpec, model_input_schema

    specs = [FeatureGroupSpec(owner="team", **g) for g in groups]
    return lambda platform: model_input_schema(specs, references, {g.name: g.name for g in specs})


def register_twice():
    from modules.registry import Backends

    def build(platform):
        registry = Backends("serving", "endpoint")
        registry.register("x", "one")(object)
        registry.register("x", "two")(object)

    return build


def s3_uri(uri: str):
    from modules.monitoring.kit_jobs import s3_parts

    return lambda platform: s3_parts(uri)


SKLEARN = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def without_vpc_of(step: str):
    from modules.pipelines import without_vpc

    definition = {"Steps": [{"Name": "Train", "Type": "Training", "Arguments": {}}]}
    return lambda platform: without_vpc(definition, [step])


def code_upload(key_prefix: str):
    from modules.pipelines import upload_code

    def build(platform):
        parent = pulumi.ComponentResource("test:code:Parent", "parent")
        upload_code("c", platform, paths=[], key_prefix=key_prefix, tags={}, parent=parent)

    return build


def ranking(**changes):
    from modules.training import RankingTraining, RankingTrainingArgs

    args = (
        dict(
            lake_bucket_arn="arn:aws:s3:::lake",
            lake_database="lake",
            interactions_table="interactions",
            offline_bucket_arn="arn:aws:s3:::offline",
            feature_database="features",
            user_features_table="users",
            model_package_group_name="g",
            model_package_group_arn="arn:g",
            images={"processing": SKLEARN, "training": SKLEARN},
        )
        | changes
    )
    return lambda platform: RankingTraining("t", platform, RankingTrainingArgs(**args))


def batch_scoring(**changes):
    from modules.serving import BatchLookup, BatchLookupArgs, BatchScoringArgs

    args = (
        dict(
            model_package_arn="arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/1",
            model_package_group_name="g",
            images={"processing": SKLEARN, "training": SKLEARN},
            feature_database="features",
            user_features_table="users",
            item_features_table="items",
            offline_bucket_arn="arn:aws:s3:::offline",
        )
        | changes
    )
    return lambda platform: BatchLookup(
        "b", platform, BatchLookupArgs(scoring=BatchScoringArgs(**args))
    )


ON_INSTANCES = {"serverless": False, "min_instances": 2, "max_instances": 4}
# Component refusals: (build on the platform, the whole message), written out by hand.
CONSTRUCTOR_CASES = {
    "network-one-zone": (
        network(availability_zones=["eu-west-1a"]),
        "a network needs at least 2 availability zones",
    ),
    "network-zone-twice": (
        network(availability_zones=["eu-west-1a", "eu-west-1a"]),
        "availability_zones lists a zone twice",
    ),
    "network-endpoint-twice": (
        network(interface_endpoints=("sts", "sts")),
        "interface_endpoints lists a service twice",
    ),
    "network-endpoints-in-one-zone": (
        network(endpoint_az_count=1),
        "endpoint_az_count must be from 2 to the number of availability zones",
    ),
    "observability-email-twice": (
        observability(alert_emails=("a@example.com", "a@example.com")),
        "alert_emails lists an address twice",
    ),
    "bucket-versions-0-days": (
        bucket(noncurrent_version_retention_days=0),
        "bucket lifecycle days must be at least 1",
    ),
    "bucket-uploads-0-days": (
        bucket(abort_incomplete_upload_days=0),
        "bucket lifecycle days must be at least 1",
    ),
    "bucket-prefix-0-days": (
        bucket(expire_prefixes={"tmp/": 0}),
        "bucket lifecycle days must be at least 1",
    ),
    "bucket-prefix-without-slash": (
        bucket(expire_prefixes={"tmp": 1, "/abs/": 1, "ok/": 1}),
        "expire_prefixes must be key prefixes ending in '/': ['/abs/', 'tmp']",
    ),
    "bucket-without-key": (
        bucket(kms_key_arn=None),
        "a bucket takes a KMS key unless it receives access logs (SSE-S3)",
    ),
    "log-bucket-with-key": (
        bucket(receives_access_logs_from="1"),
        "a bucket takes a KMS key unless it receives access logs (SSE-S3)",
    ),
    "log-bucket-logging-itself": (
        bucket(kms_key_arn=None, receives_access_logs_from="1", access_log_bucket="other"),
        "an access-log bucket must not log its own access (S3 advises)",
    ),
    "key-window-6": (key(deletion_window_days=6), "deletion_window_days must be between 7 and 30"),
    "key-window-31": (
        key(deletion_window_days=31),
        "deletion_window_days must be between 7 and 30",
    ),
    "training-auc-chance": (
        training(auc_threshold=0.5),
        "auc_threshold must be above 0.5 (chance) and at most 1",
    ),
    "training-auc-above-1": (
        training(auc_threshold=1.01),
        "auc_threshold must be above 0.5 (chance) and at most 1",
    ),
    "training-image-missing": (
        training(images={"processing": "p", "training": "t"}),
        "images needs exactly ['monitoring', 'processing', 'training']",
    ),
    "training-table-missing": (
        training(offline_tables={"transactions": "t"}),
        "offline_tables needs exactly the groups "
        "['card_aggregates', 'customer_profile', 'transactions']",
    ),
    "training-scan-limit-0": (
        training(athena_scan_limit_gb=0),
        "athena_scan_limit_gb must be at least 1",
    ),
    "training-schema-without-base-group": (
        training(feature_schema={"featureGroups": [], "label": "is_fraud"}),
        "feature_schema needs the transactions group with its recordIdentifier, and a label",
    ),
    "training-schema-without-label": (
        training(feature_schema={"featureGroups": SCHEMA["featureGroups"]}),
        "feature_schema needs the transactions group with its recordIdentifier, and a label",
    ),
    "training-label-is-the-identifier": (
        training(feature_schema=SCHEMA | {"label": "transaction_id"}),
        "feature_schema's label must differ from the record identifier",
    ),
    "endpoint-serverless-capture": (
        endpoint({"serverless": True}, data_capture_percent=5),
        "serverless endpoints support neither data capture nor shadows",
    ),
    "endpoint-serverless-shadow": (
        endpoint({"serverless": True}, shadow_model_package_arn=ARN),
        "serverless endpoints support neither data capture nor shadows",
    ),
    "endpoint-max-below-min": (
        endpoint(ON_INSTANCES | {"min_instances": 3, "max_instances": 2}),
        "max_instances is below min_instances",
    ),
    "api-jwt-without-issuer": (
        scoring_api("", ("scoring",)),
        "JWT authorization needs an issuer and at least one audience",
    ),
    "api-jwt-without-audience": (
        scoring_api("https://idp.example.com", ()),
        "JWT authorization needs an issuer and at least one audience",
    ),
    "store-no-groups": (feature_store([]), "feature groups must be non-empty and uniquely named"),
    "store-groups-share-a-name": (
        feature_store([{"name": "a"}, {"name": "a"}]),
        "feature groups must be non-empty and uniquely named",
    ),
    "store-unknown-consumer": (
        feature_store([{"name": "a"}], consumers={"b": ["m"], "c": ["m"], "a": ["m"]}),
        "consumers name unknown feature groups ['b', 'c']",
    ),
    "store-identifier-not-a-feature": (
        feature_store([{"name": "a", "record_identifier": "card"}]),
        "a: record identifier and event time must be features",
    ),
    "store-event-time-not-a-feature": (
        feature_store([{"name": "a", "event_time": "when"}]),
        "a: record identifier and event time must be features",
    ),
    "store-unknown-type": (
        feature_store([{"name": "a", "features": {"id": "string", "ts": "text", "n": "int"}}]),
        "a: unknown feature types ['int', 'text']",
    ),
    "ingestion-no-windows": (
        ingestion(windows={}),
        "windows must be non-empty with positive whole-minute durations",
    ),
    "ingestion-window-90-seconds": (
        ingestion(windows={"10m": 600, "90s": 90}),
        "windows must be non-empty with positive whole-minute durations",
    ),
    "ingestion-window-zero": (
        ingestion(windows={"0m": 0}),
        "windows must be non-empty with positive whole-minute durations",
    ),
    "ingestion-window-too-long": (
        ingestion(windows={"long": 10_081 * 60}),  # one minute over 10,080
        "windows must be at most 10080 minutes long",
    ),
    "ingestion-shards-on-demand": (
        ingestion(on_demand=True, shard_count=2),
        "shard_count applies to provisioned streams only",
    ),
    "ingestion-parallelization-0": (
        ingestion(parallelization_factor=0),
        "parallelization_factor must be 1 to 10",
    ),
    "ingestion-parallelization-11": (
        ingestion(parallelization_factor=11),
        "parallelization_factor must be 1 to 10",
    ),
    "ingestion-memory-127": (ingestion(memory_mb=127), "memory_mb must be 128 to 10240"),
    "ingestion-memory-10241": (ingestion(memory_mb=10241), "memory_mb must be 128 to 10240"),
    "ingestion-concurrency-0": (
        ingestion(write_concurrency=0),
        "write_concurrency must be 1 to 32",
    ),
    "ingestion-concurrency-33": (
        ingestion(write_concurrency=33),
        "write_concurrency must be 1 to 32",
    ),
    "metadata-mlflow-unknown": (
        metadata("huge"),
        "mlflow must be one of none, serverless, small, medium, large",
    ),
    "endpoint-alarms-latency-0": (
        endpoint_alarms(latency_p99_ms=0),
        "latency_p99_ms must be positive and max_5xx_per_5_minutes >= 0",
    ),
    "endpoint-alarms-5xx-negative": (
        endpoint_alarms(max_5xx_per_5_minutes=-1),
        "latency_p99_ms must be positive and max_5xx_per_5_minutes >= 0",
    ),
    "endpoint-alarms-4xx-negative": (
        endpoint_alarms(max_4xx_per_5_minutes=-1),
        "max_4xx_per_5_minutes must be >= 0",
    ),
    "pipeline-alarms-age-0": (
        pipeline_alarms(max_iterator_age_seconds=0),
        "max_iterator_age_seconds must be positive",
    ),
    "retraining-no-alarms": (
        retraining(alarm_names=[]),
        "a retraining trigger needs at least one alarm",
    ),
    "retraining-interval-0": (
        retraining(min_interval_hours=0),
        "min_interval_hours must be positive",
    ),
    "jobs-no-features": (monitoring_jobs(features=[]), "features must be non-empty and unique"),
    "function-in-vpc-without-network": (
        lambda platform: python_function_in_vpc(
            dataclasses.replace(platform, functions_in_vpc=True)
        ),
        "fn: functions run in the VPC, but the platform has none",
    ),
    "jobs-endpoint-without-labels": (
        monitoring_jobs(labels_uri=None),
        "give variant_name, capture_uri, labels_uri and min_auc (an endpoint), or "
        "population_uri alone (a batch scorer)",
    ),
    "jobs-population-and-capture": (
        monitoring_jobs(population_uri="s3://artifacts/monitoring/populations/p"),
        "give variant_name, capture_uri, labels_uri and min_auc (an endpoint), or "
        "population_uri alone (a batch scorer)",
    ),
    "jobs-feature-twice": (
        monitoring_jobs(features=["amount", "amount"]),
        "features must be non-empty and unique",
    ),
    "jobs-feature-name": (
        monitoring_jobs(features=["amount", "Amount", "txn-count"]),
        "feature names must be lower_snake_case identifiers: ['Amount', 'txn-count']",
    ),
    "jobs-auc-chance": (
        monitoring_jobs(min_auc=0.5),
        "min_auc must be above 0.5 (chance) and at most 1",
    ),
    "jobs-threshold-above-1": (
        monitoring_jobs(decision_threshold=1.5),
        "decision_threshold must be between 0 and 1",
    ),
    "jobs-threshold-negative": (
        monitoring_jobs(decision_threshold=-0.1),
        "decision_threshold must be between 0 and 1",
    ),
    "jobs-drift-window-0": (
        monitoring_jobs(drift_window_hours=0),
        "drift_window_hours and label_lookback_hours must be positive",
    ),
    "jobs-lookback-0": (
        monitoring_jobs(label_lookback_hours=0),
        "drift_window_hours and label_lookback_hours must be positive",
    ),
    "jobs-image-by-tag": (
        monitoring_jobs(job_image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/m:1"),
        "job_image '111122223333.dkr.ecr.eu-west-1.amazonaws.com/m:1' is not an ECR image "
        "pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repository>"
        "@sha256:<64 hex>)",
    ),
    "jobs-name-underscore": (
        monitoring_jobs(name="fraud_dev"),
        # At most 63 - len("quality-") - len("20260504T1000") - 1 = 63 - 8 - 13 - 1 = 41.
        "'fraud_dev' cannot prefix processing job names: letters, digits and hyphens only, at "
        "most 41 characters",
    ),
    "jobs-name-too-long": (
        # 42 characters: the prefix `<name>-` plus `quality-` and the time is 64 > 63.
        monitoring_jobs(name="a" * 42),
        f"'{'a' * 42}' cannot prefix processing job names: letters, digits and hyphens only, at "
        "most 41 characters",
    ),
    "materialization-nothing": (
        materialization(queries=[]),
        "materialization needs at least one source and one query",
    ),
    "materialization-query-twice": (
        materialization(queries=[query("user-features"), query("user-features")]),
        "two materialization queries share a name",
    ),
    "materialization-source-with-dt": (
        materialization(sources=[lake_table("interactions", {"dt": "string"})]),
        "source interactions: list its columns, without dt",
    ),
    "materialization-token-too-short": (
        # "m-" + "q-" + the 20-character scheduled time: 24, under Athena's 32.
        materialization(name="m", queries=[query("q")]),
        "query q: idempotency token of 24 characters; Athena takes 32-128 (lengthen or "
        "shorten the names)",
    ),
    "batch-top-n-0": (batch_lookup(top_n=0), "top_n must be 1 to 1000"),
    "batch-prefix-absolute": (
        batch_lookup(source_prefix="/scoring/"),
        "source_prefix must be a key prefix ending in '/'",
    ),
    "batch-jwt-without-audience": (
        batch_lookup(jwt=JwtAuth("https://issuer.example.com", [])),
        "JWT authorization needs an issuer and at least one audience",
    ),
    "batch-alarms-freshness-169": (
        batch_alarms(freshness_hours=169),
        "freshness_hours must be 1 to 168",
    ),
    "batch-alarms-coverage-0": (
        batch_alarms(min_coverage=0),
        "min_coverage must be above 0 and at most 1",
    ),
    "batch-alarms-no-pipelines": (
        batch_alarms(pipeline_arns=[]),
        "name the pipelines whose failures alert",
    ),
    "dashboard-empty": (dashboard([]), "a dashboard needs at least one panel"),
    "alarm-comparison": (alarm(comparison="Above"), "unknown comparison 'Above'"),
    "alarm-missing-data": (
        alarm(treat_missing_data="zero"),
        "unknown missing-data treatment 'zero'",
    ),
    "alarm-datapoints": (
        alarm(evaluation_periods=2, datapoints_to_alarm=3),
        "datapoints_to_alarm must be between 1 and evaluation_periods",
    ),
    "alarm-period": (alarm(period=90), "period must be a multiple of 60 seconds"),
    "alarm-day-of-minutes": (
        # 25 hours of 5-minute periods: CloudWatch evaluates at most a day under an hour.
        alarm(period=300, evaluation_periods=300),
        "period x evaluation_periods is 90000 s; CloudWatch evaluates at most 86400 s with a "
        "period of 300 s",
    ),
    "alarm-over-a-week": (
        alarm(period=3600, evaluation_periods=169),
        "period x evaluation_periods is 608400 s; CloudWatch evaluates at most 604800 s with "
        "a period of 3600 s",
    ),
    "iam-no-actions": (
        statement([], ["arn:x"]),
        "an IAM statement needs at least one action and one resource",
    ),
    "iam-wildcard": (
        statement(["s3:*"], ["arn:x"]),
        "IAM action 's3:*' is a wildcard or malformed",
    ),
    "iam-star-resource": (
        statement(["s3:GetObject"], ["*"]),
        "IAM actions ['s3:GetObject'] must name resources, not '*'",
    ),
    "schema-required-unknown": (
        input_schema(
            [
                {
                    "name": "g",
                    "record_identifier": "id",
                    "event_time": "ts",
                    "features": {"id": "string", "ts": "string"},
                    "required": ["x"],
                }
            ],
            [],
        ),
        "g: required names unknown features ['x']",
    ),
    "schema-feature-in-two-groups": (
        input_schema(
            [
                {
                    "name": name,
                    "record_identifier": "id",
                    "event_time": "ts",
                    "features": {"id": "string", "ts": "string", "x": "integral"},
                }
                for name in ("a", "b")
            ],
            ["a.x", "b.x"],
        ),
        "model feature name 'x' appears in two groups",
    ),
    "backend-registered-twice": (
        register_twice(),
        "serving: backend 'x' is registered twice",
    ),
    "s3-uri": (s3_uri("https://b/k"), "'https://b/k' is not an s3:// URI"),
    "vpc-exception-for-an-unknown-step": (
        without_vpc_of("Train"),
        "no processing steps ['Train'] in the pipeline definition",
    ),
    "code-prefix-without-slash": (
        code_upload("training/code"),
        "key_prefix must end in '/'",
    ),
    "ranking-k-above-top-n": (
        ranking(k=25, top_n=20),
        "k must be at most top_n (the model ranks top_n items)",
    ),
    "ranking-holdout-as-long-as-window": (
        ranking(holdout_days=7, window_days=7),
        "holdout_days must be shorter than window_days",
    ),
    "ranking-images": (
        ranking(images={"processing": SKLEARN}),
        "images needs exactly ['processing', 'training']",
    ),
    "scoring-images": (
        batch_scoring(images={"training": SKLEARN}),
        "scoring images needs exactly ['processing', 'training']",
    ),
    "scoring-instance-type-undeclared": (
        batch_scoring(transform_instance_type="ml.m5.4xlarge"),
        "transform_instance_type 'ml.m5.4xlarge': the registered model declares "
        "['ml.c5.xlarge', 'ml.m5.2xlarge', 'ml.m5.large', 'ml.m5.xlarge'] for batch transform",
    ),
}


@pytest.mark.parametrize(("build", "expected"), CONSTRUCTOR_CASES.values(), ids=CONSTRUCTOR_CASES)
def test_constructor_refusal(build, expected: str, record_program, platform) -> None:
    with pytest.raises(ValueError) as raised:
        record_program(lambda: build(platform))
    assert str(raised.value) == expected


def test_the_longest_job_name_prefix_is_accepted(record_program, platform) -> None:
    # 41 characters is the limit the message states: a name of 41 builds, and its jobs are
    # named `<name>-quality-<13-character time>`, 41 + 1 + 8 + 13 = 63 characters at most.
    built = []
    record_program(lambda: built.append(monitoring_jobs(name="a" * 41)(platform)))
    (jobs,) = built
    assert jobs.job_name_prefix == "a" * 41 + "-"


# --- the coverage check -------------------------------------------------------------------------

CASE_MESSAGES = [
    *(expected for _, expected in SETTINGS_CASES.values()),
    *(expected for _, expected in PLAN_CASES.values()),
    MONITOR_EXPECTED,
    *(expected for _, expected in CONSTRUCTOR_CASES.values()),
]


def test_refusals_are_read_from_the_code() -> None:
    refusals, unread = read_refusals()
    assert not unread, "refusals whose message this test cannot read:\n" + "\n".join(unread)
    # The reader finds refusals of each kind, in each place (a reader that finds nothing
    # would pass the coverage check below).
    files = {r.where.split(":")[0] for r in refusals}
    assert {
        "mlkit/settings.py",
        "modules/serving/settings.py",
        "blueprints/_base.py",
        "blueprints/realtime_fraud.py",
        "modules/feature_store/ingestion.py",
        "modules/feature_store/__init__.py",  # _check_groups, called by FeatureStore
        "modules/monitoring/kit_jobs.py",
    } <= files
    texts = {r.text for r in refusals}
    assert "mlkit:environment: required" in texts  # a ConfigError, through its variable
    # Through `problems.append` (its key is a loop variable: the message alone).
    assert "the region is the provider's key: use 'aws:region'" in texts
    assert "aws:region: no pinned SageMaker images for {...} (see images.json)" in texts


def test_every_refusal_has_a_case() -> None:
    refusals, _ = read_refusals()
    covered_by = bad_stack_messages() + CASE_MESSAGES
    missing = [f"{r.where}: {r.text}" for r in refusals if not any(map(r.matches, covered_by))]
    assert not missing, "refusals without a case (a bad stack or a case here):\n" + "\n".join(
        missing
    )


def test_every_case_is_a_refusal_of_the_code() -> None:
    # A case whose message no refusal gives tests a message the code no longer has.
    refusals, _ = read_refusals()
    stale = [m for m in CASE_MESSAGES if not any(r.matches(m) for r in refusals)]
    assert not stale, stale
