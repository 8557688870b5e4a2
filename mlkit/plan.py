"""The offline plan: run a stack's program under the recorder and describe what it creates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit import change_safety, stackfile
from mlkit.change_safety import ChangeSafety
from mlkit.cost import CostEstimate, estimate_cost
from mlkit.deploy_time import DeployTime, estimate_deploy_time
from mlkit.program import main as program
from mlkit.recording import PROJECT, RecordedResource, Recording, record
from mlkit.settings import ConfigError, StackSettings, settings_from_config
from mlkit.stackfile import PROJECT_ROOT
from mlkit.strict_inputs import InputFinding, check_inputs
from policies.control import Resource
from policies.evaluate import PolicyReport, evaluate

PLAN_FORMAT_VERSION = 1
OUTPUT_WIDTH = 120  # longer output values are cut in the text plan


def policy_resources(recording: Recording) -> list[Resource]:
    """The recorded cloud resources as the policy pack sees them (no components or
    providers, as in a `pulumi stack export`)."""
    return [
        Resource(
            r.type,
            r.name,
            r.urn,
            r.inputs,
            r.protect,
            r.retain_on_delete,
            r.parent,
            ignore_changes=r.ignore_changes,
        )
        for r in recording.resources
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]


@dataclass
class Plan:
    stack: stackfile.StackFile
    settings: StackSettings
    recording: Recording
    policies: PolicyReport
    cost: CostEstimate
    change_safety: ChangeSafety
    deploy_time: DeployTime
    strict_inputs: list[InputFinding]
    """Inputs the provider would reject or silently drop (the plan fails on any)."""

    def blocking_replacements(self) -> bool:
        """Replacing a stateful resource of a prod stack destroys production data: the plan
        fails until the change is acknowledged."""
        return self.settings.environment == "prod" and bool(self.change_safety.replacements)

    def components(self) -> Counter[str]:
        """Cloud resources per platform component; components and providers are not cloud
        resources."""
        counts: Counter[str] = Counter()
        for resource in self.recording.resources:
            if resource.custom and not resource.type.startswith("pulumi:providers:"):
                counts[top_component(self.recording, resource)] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "formatVersion": PLAN_FORMAT_VERSION,
            "stack": self.stack.name,
            "project": PROJECT,
            "blueprint": self.settings.blueprint,
            "environment": self.settings.environment,
            "region": self.settings.region,
            "resources": [r.as_plan() for r in self.recording.resources],
            "outputs": self.recording.outputs,
            "policies": self.policies.as_json(),
            "cost": self.cost.as_json(),
            "deployTime": self.deploy_time.as_json(),
            "changeSafety": self.change_safety.as_json(),
            "strictInputs": [finding.as_json() for finding in self.strict_inputs],
        }


def component_of(resource: RecordedResource) -> str:
    parts = resource.type.split(":")
    return parts[1] if parts[0] == "mlkit" else "other"


def top_component(recording: Recording, resource: RecordedResource) -> str:
    """The platform component (middle of the top-level `mlkit:` token) a resource is in."""
    by_urn = {r.urn: r for r in recording.resources}
    top = resource
    while top.parent in by_urn:
        top = by_urn[top.parent]
    return component_of(top)


def refused_by(error: BaseException) -> str:
    """Who raised `error`: the kit's own code (a component or a blueprint, by the file of
    the innermost frame), or the provider SDK."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    if traceback is None:
        return "the provider SDK"
    path = Path(traceback.tb_frame.f_code.co_filename).resolve()
    for folder, who in (("modules", "a component"), ("blueprints", "the blueprint")):
        if path.is_relative_to(PROJECT_ROOT / folder):
            return f"{who} ({path.relative_to(PROJECT_ROOT).as_posix()})"
    return "the provider SDK"


def plan_stack(stack_or_file: str) -> Plan:
    """Plan one stack. Raises ConfigError (naming the file and field) on bad input, before
    anything is recorded."""
    stack = stackfile.load(stack_or_file)
    settings = settings_from_config(stack.config, set(stack.secret_keys), stack.source)
    try:
        recording = record(
            lambda: program(stack.source),
            stack_name=stack.name,
            config=stack.config,
            secret_keys=stack.secret_keys,
        )
    except (TypeError, ValueError) as error:
        # A component refuses arguments the settings let through, or the provider SDK an
        # argument (an unknown keyword, a value outside an enum) while the program
        # registers a resource: one line, as for bad settings.
        detail = " ".join(str(error).split())
        raise ConfigError(
            stack.source, [("program", f"{refused_by(error)} refused: {detail}")]
        ) from None
    policies = evaluate(policy_resources(recording), settings.environment)
    cost = estimate_cost(
        recording.resources,
        region=settings.region,
        load=settings.load,
        component_of=lambda r: top_component(recording, r),
    )
    try:
        safety = change_safety.check(stack.name, recording)
    except ValueError as error:  # an unreadable record: say which file, no traceback
        path = f"stacks/identity/{stack.name}.json"
        raise ConfigError(path, [("file", str(error))]) from None
    deploy_time = estimate_deploy_time(recording.resources)
    strict = check_inputs(recording.resources)
    return Plan(stack, settings, recording, policies, cost, safety, deploy_time, strict)


def render_cost(cost: CostEstimate) -> list[str]:
    verified = "" if cost.prices.verified else ", unverified list prices"
    lines = [
        "",
        f"Cost per month in USD ({cost.region}, prices of {cost.prices.as_of}{verified}): "
        f"{cost.fixed_monthly:,.2f} idle, {cost.at_load_monthly:,.2f} at the declared load",
    ]
    for name, totals in cost.by_component().items():
        idle, at_load = totals["fixedMonthlyUsd"], totals["atLoadMonthlyUsd"]
        lines.append(f"  {name:<14} {idle:>10,.2f} idle {at_load:>10,.2f} at load")
    if cost.unpriced:
        types = sorted({type_ for _, type_, _ in cost.unpriced})
        lines.append(f"  not priced ({len(cost.unpriced)}): {', '.join(types)}")
    return lines


def render_deploy_time(estimate: DeployTime) -> list[str]:
    chain = " -> ".join(
        f"{step.name} ({step.minutes:g})" for step in estimate.chain if step.minutes
    )
    lines = [
        "",
        f"Deploy time (first pulumi up): about {estimate.critical_path_minutes:.1f} min "
        f"along the critical path: {chain}",
    ]
    if estimate.unknown_types:
        lines.append(f"  no typical create time for: {', '.join(estimate.unknown_types)}")
    return lines


def render_text(plan: Plan) -> str:
    """The resource tree, components first, then counts and outputs."""
    settings = plan.settings
    lines = [
        f"Stack {plan.stack.name} ({plan.stack.source}): blueprint {settings.blueprint}, "
        f"environment {settings.environment}, region {settings.region}",
        "",
    ]
    resources = plan.recording.resources
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    rows: list[tuple[str, str]] = []

    def walk(resource: RecordedResource, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        flags = [
            flag
            for flag, on in (("protect", resource.protect), ("retain", resource.retain_on_delete))
            if on
        ]
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        rows.append((f"{prefix}{branch}{resource.name}", f"{resource.type}{suffix}"))
        kids = sorted(children.get(resource.urn, []), key=lambda r: r.name)
        deeper = prefix if top else prefix + ("   " if last else "│  ")
        for index, kid in enumerate(kids):
            walk(kid, deeper, index == len(kids) - 1, False)

    for resource in sorted(children.get(None, []), key=lambda r: (component_of(r), r.name)):
        walk(resource, "", True, True)
    width = max((len(label) for label, _ in rows), default=0)
    lines += [f"{label:<{width}}  {type_}" for label, type_ in rows]
    counts = plan.components()
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    lines += ["", f"{sum(counts.values())} cloud resources: {summary}"]
    lines += render_cost(plan.cost)
    lines += render_deploy_time(plan.deploy_time)
    lines += ["", *plan.change_safety.render_text(plan.stack.name)]
    lines += ["", f"Strict inputs: {len(plan.strict_inputs)} findings"]
    lines += [
        f"  {f.urn.rsplit('::', 1)[-1]} ({f.type}): {f.path}: {f.message}"
        for f in plan.strict_inputs
    ]
    report = plan.policies
    lines += [
        "",
        f"Policies: {report.checked} checked for {report.environment}, "
        f"{len(report.mandatory)} mandatory and "
        f"{len(report.violations) - len(report.mandatory)} advisory violations",
    ]
    lines += [
        f"  {v.enforcement:<9} {v.policy}  {v.urn.rsplit('::', 1)[-1]}: {v.message}"
        for v in report.violations
    ]
    if plan.recording.outputs:
        lines += ["", "Outputs:"]
        key_width = max(len(key) for key in plan.recording.outputs)
        for key, value in plan.recording.outputs.items():
            text = str(value)
            if len(text) > OUTPUT_WIDTH:  # documents such as the feature registry
                text = text[: OUTPUT_WIDTH - 25] + f"... ({len(text)} chars, see --json)"
            lines.append(f"  {key:<{key_width}}  {text}")
    return "\n".join(lines)
