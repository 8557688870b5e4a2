"""A control of the kit's policy pack, and how it becomes a CrossGuard policy.

Each control is one file `policies/<area>/<id>.py` defining `CONTROL`. The same CrossGuard
policy objects run three ways: in `pulumi preview --policy-pack policies` (the CLI calls
`validate`), in `mlkit plan` (on the recording) and in `check` (on a
`pulumi stack export` or `pulumi preview --json` file); the last two build the same
`ResourceValidationArgs` / `StackValidationArgs` the CLI would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi_policy as pp

Severity = Literal["low", "medium", "high", "critical"]
Environment = Literal["dev", "staging", "prod"]
Enforcement = Literal["advisory", "mandatory"]


@dataclass(frozen=True)
class Resource:
    """What a check sees of one resource: its inputs in Pulumi's wire names (camelCase)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool | None = None
    """None where it is unknown: CrossGuard does not expose it."""
    parent: str | None = None
    ignore_changes: Sequence[str] = ()
    """Input paths whose changes Pulumi ignores (the `ignore_changes` option)."""

    def tags(self) -> dict[str, str]:
        """Tags as a mapping (aws-native resources list them as key/value pairs)."""
        tags = self.props.get("tags") or {}
        # CrossGuard hands over read-only Mapping/Sequence proxies, not dicts and lists.
        if isinstance(tags, Mapping):
            return dict(tags)
        if isinstance(tags, Sequence) and not isinstance(tags, str):
            return {t.get("key", ""): t.get("value", "") for t in tags if isinstance(t, Mapping)}
        return {}

    @property
    def environment(self) -> str | None:
        environment = self.tags().get("mlkit:environment")
        return environment if isinstance(environment, str) else None


ResourceCheck = Callable[[Resource], Iterable[str]]
StackCheck = Callable[[Sequence[Resource]], Iterable[tuple[Resource, str]]]


@dataclass(frozen=True)
class Control:
    """One rule: a resource check (one resource at a time, of the listed types) or a stack
    check (across resources, e.g. a bucket and its separate encryption resource)."""

    id: str
    """`aws-<service>-<resource>-<rule>` or `k8s-...`; also the file name."""
    description: str
    """What it requires, one sentence."""
    severity: Severity
    """How bad a violation is; selects enforcement per environment."""
    mirrors: tuple[str, ...]
    """Anchor rules it mirrors: checkov ids, AWS Config rules, prowler checks, cfn-nag..."""
    remediation: str
    """How to fix a violation."""
    why: str = ""
    """Why it matters for an ML platform."""
    resource_types: tuple[str, ...] = ()
    """Types a resource check applies to (empty: all)."""
    check: ResourceCheck | None = None
    """Messages for one resource (none: compliant)."""
    stack_check: StackCheck | None = None
    """(resource, message) pairs across the stack."""
    environments: tuple[Environment, ...] = ("dev", "staging", "prod")
    """Environments the control applies to (e.g. prod-only durability)."""
    mandatory_in: tuple[Environment, ...] | None = None
    """Override of the severity-based enforcement (ENFORCEMENT)."""
    tags: tuple[str, ...] = field(default=())
    """Areas, e.g. `feature-store`, `serving`."""

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise ValueError(f"{self.id}: define exactly one of check and stack_check")

    def enforcement(self, environment: str) -> Enforcement:
        mandatory = self.mandatory_in
        if mandatory is None:
            mandatory = ENFORCEMENT[self.severity]
        return "mandatory" if environment in mandatory else "advisory"

    def applies(self, resource: Resource) -> bool:
        env = resource.environment
        in_scope = env is None or env in self.environments
        return in_scope and (not self.resource_types or resource.type in self.resource_types)

    def to_policy(self) -> pp.ResourceValidationPolicy | pp.StackValidationPolicy:
        """The CrossGuard policy (enforcement comes from the pack's config per environment)."""
        common: dict[str, Any] = {
            "name": self.id,
            "description": self.description,
            "severity": getattr(pp.Severity, self.severity.upper()),
            "remediation_steps": self.remediation,
            "tags": list(self.tags),
        }
        if self.check is not None:
            check = self.check

            def validate(args: pp.ResourceValidationArgs, report: Callable[..., None]) -> None:
                resource = resource_from_args(args)
                if self.applies(resource):
                    for message in check(resource):
                        report(message)

            return pp.ResourceValidationPolicy(validate=validate, **common)

        stack_check = self.stack_check
        assert stack_check is not None

        def validate_stack(args: pp.StackValidationArgs, report: Callable[..., None]) -> None:
            resources = [resource_from_policy_resource(r) for r in args.resources]
            in_scope = [r for r in resources if self.applies(r)]
            for resource, message in stack_check(in_scope):
                report(message, resource.urn)

        return pp.StackValidationPolicy(validate=validate_stack, **common)


# Severity -> environments where it blocks a deployment: dev stays fast to iterate on and
# is protected from what is never acceptable; prod enforces everything.
ENFORCEMENT: dict[str, tuple[str, ...]] = {
    "critical": ("dev", "staging", "prod"),
    "high": ("staging", "prod"),
    "medium": ("prod",),
    "low": ("prod",),
}


class RecordedOptions(pp.PolicyResourceOptions):
    """CrossGuard's options plus what the kit's recorder and state files know besides."""

    retain_on_delete: bool | None = None


def resource_from_args(args: pp.ResourceValidationArgs) -> Resource:
    opts = args.opts
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=args.props,
        protect=bool(getattr(opts, "protect", False)),
        retain_on_delete=getattr(opts, "retain_on_delete", None),
        parent=getattr(opts, "parent", None),
        ignore_changes=tuple(getattr(opts, "ignore_changes", None) or ()),
    )


def resource_from_policy_resource(resource: pp.PolicyResource) -> Resource:
    opts = resource.opts
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=resource.props,
        protect=bool(getattr(opts, "protect", False)),
        retain_on_delete=getattr(opts, "retain_on_delete", None),
        # The engine links the parent resource; a state file or the recorder only knows
        # its URN (in the options), often a component that is not a policy resource itself.
        parent=resource.parent.urn if resource.parent else getattr(opts, "parent", None),
        ignore_changes=tuple(getattr(opts, "ignore_changes", None) or ()),
    )
