"""Run the pack's CrossGuard policies in-process over a stack's resources, the way
`pulumi preview --policy-pack policies` would, and read deployment files for `check`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi_policy as pp

from policies import controls
from policies.control import Control, RecordedOptions, Resource


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str
    enforcement: str
    severity: str

    def as_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "urn": self.urn,
            "message": self.message,
            "enforcement": self.enforcement,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class PolicyReport:
    environment: str
    checked: int
    violations: tuple[Violation, ...]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    def as_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "environment": self.environment,
            "violations": [v.as_json() for v in self.violations],
        }


def _options(resource: Resource) -> RecordedOptions:
    options = RecordedOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=pp.PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )
    options.retain_on_delete = resource.retain_on_delete
    return options


def _reporter(
    sink: list[Violation], control: Control, enforcement: str, default_urn: str
) -> Callable[..., None]:
    """CrossGuard's `report(message, urn=None)` callback, collecting violations."""

    def report(message: str, urn: str | None = None) -> None:
        sink.append(
            Violation(control.id, urn or default_urn, message, enforcement, control.severity)
        )

    return report


def evaluate(
    resources: Sequence[Resource],
    environment: str,
    selected: Sequence[Control] | None = None,
) -> PolicyReport:
    """Every control's CrossGuard policy over `resources`, enforcement as configured for
    `environment`. Resource policies get ResourceValidationArgs, stack policies one
    StackValidationArgs, as the Pulumi engine would pass them."""
    violations: list[Violation] = []
    chosen = tuple(selected) if selected is not None else controls()
    policy_resources = [
        pp.PolicyResource(r.type, r.props, r.urn, r.name, _options(r), None, None, [], {})
        for r in resources
    ]
    for control in chosen:
        policy = control.to_policy()
        enforcement = control.enforcement(environment)
        if isinstance(policy, pp.ResourceValidationPolicy):
            for resource in resources:
                args = pp.ResourceValidationArgs(
                    resource.type,
                    resource.props,
                    resource.urn,
                    resource.name,
                    _options(resource),
                    None,
                )
                policy.validate(args, _reporter(violations, control, enforcement, resource.urn))
        else:
            args_stack = pp.StackValidationArgs(policy_resources)
            policy.validate(args_stack, _reporter(violations, control, enforcement, ""))
    ordered = sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn))
    return PolicyReport(environment, len(chosen), tuple(ordered))


class StateFileError(ValueError):
    """A file that is neither a `pulumi stack export` nor a `pulumi preview --json`."""


def resources_from_state(document: Any) -> list[Resource]:
    """Resources of a `pulumi stack export` (`deployment.resources[]`, inputs as deployed) or
    a `pulumi preview --json` (`steps[].newState`, inputs as they would be). Providers,
    components and the stack itself are left out; so are resources a preview deletes."""
    if isinstance(document, dict) and isinstance(document.get("deployment"), dict):
        states = document["deployment"].get("resources") or []
    elif isinstance(document, dict) and isinstance(document.get("steps"), list):
        states = [
            step["newState"]
            for step in document["steps"]
            if isinstance(step, dict)
            and isinstance(step.get("newState"), dict)
            and step.get("op") not in ("delete", "discard", "delete-replaced")
        ]
    else:
        raise StateFileError(
            "expected `pulumi stack export` output (a `deployment` object) or "
            "`pulumi preview --json` output (a `steps` list)"
        )
    if not isinstance(states, list) or not all(isinstance(s, dict) for s in states):
        raise StateFileError("resources must be a list of objects")
    resources = []
    for state in states:
        if not isinstance(state.get("inputs") or {}, dict):
            raise StateFileError(f"{state.get('urn', 'a resource')}: inputs must be an object")
        type_ = str(state.get("type", ""))
        if not state.get("custom") or type_.startswith("pulumi:providers:"):
            continue
        urn = str(state.get("urn", ""))
        resources.append(
            Resource(
                type=type_,
                name=urn.rsplit("::", 1)[-1],
                urn=urn,
                props=state.get("inputs") or {},
                protect=bool(state.get("protect", False)),
                retain_on_delete=bool(state.get("retainOnDelete", False)),
                parent=state.get("parent"),
                ignore_changes=tuple(state.get("ignoreChanges") or ()),
            )
        )
    return resources


def load_state_file(path: Path) -> list[Resource]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise StateFileError(f"cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise StateFileError(f"invalid JSON at line {error.lineno}: {error.msg}") from None
    return resources_from_state(document)


def infer_environment(resources: Sequence[Resource]) -> str:
    """The `mlkit:environment` the resources are tagged with; prod (the strictest) when they
    carry none or disagree."""
    found = {r.environment for r in resources if isinstance(r.environment, str)}
    return found.pop() if len(found) == 1 else "prod"
