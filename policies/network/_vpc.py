"""Joining network resources to the VPC (or security group) they configure.

Companions hold the provider id of what they configure (`vpcId`, `securityGroupId`). Offline
that is the recorder's mock id `<logical name>-id`; a stack policy under the CLI may see the
target's own `id`. A state file's inputs carry no id, so there a companion holding a physical
id (`vpc-0a1b...`) that matches nothing is joined to the one target whose id is unknown: the
one under the companion's parent component where parents are known (the kit creates a VPC,
its default group and flow log as siblings), else the only such target in the stack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from policies.control import Resource

VPC = "aws:ec2/vpc:Vpc"
PHYSICAL_ID = re.compile(r"(vpc|sg)-[0-9a-f]{8,17}")


def keys(target: Resource) -> set[str]:
    """The values a companion may hold to reference `target`."""
    found = {f"{target.name}-id"}
    own = target.props.get("id")
    if isinstance(own, str) and own:
        found.add(own)
    return found


def _unresolved(targets: Sequence[Resource], companion: Resource) -> Resource | None:
    """The one target, with no id of its own, that a physical id can only mean."""
    unknown = [t for t in targets if not isinstance(t.props.get("id"), str)]
    siblings = [t for t in unknown if companion.parent and t.parent == companion.parent]
    candidates = siblings or unknown
    return candidates[0] if len(candidates) == 1 else None


def attached(
    targets: Sequence[Resource],
    companions: Sequence[Resource],
    field: str,
    *,
    fallback: bool = True,
) -> dict[str, list[Resource]]:
    """The companions of each target (by URN), joined on the companion's `field`."""
    by_key = {key: target for target in targets for key in keys(target)}
    grouped: dict[str, list[Resource]] = {target.urn: [] for target in targets}
    for companion in companions:
        reference = companion.props.get(field)
        if not isinstance(reference, str) or not reference:
            continue  # configures something else (a subnet's flow log, another group)
        target = by_key.get(reference)
        if target is None and fallback and PHYSICAL_ID.fullmatch(reference):
            target = _unresolved(targets, companion)
        if target is not None:
            grouped[target.urn].append(companion)
    return grouped
