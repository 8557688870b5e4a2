"""What every component shares: tag merging and durability."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi


def resource_tags(
    name: str, tags: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags for one resource: `{Name} | stack and component tags | per-resource`."""
    return {"Name": name} | dict(tags) | dict(extra or {})


@dataclass(frozen=True)
class Durability:
    """How stateful resources (keys, buckets, tables, log groups) survive deletes."""

    protect: bool
    """Pulumi refuses to delete the resource until it is unprotected."""
    retain_on_delete: bool
    """`pulumi destroy` leaves the cloud resource in place."""
    force_destroy: bool
    """Buckets are emptied on delete so a dev stack destroys cleanly."""
    deletion_protection: bool
    """The service's own deletion protection (tables, databases, log groups)."""

    @classmethod
    def from_setting(cls, setting: str) -> Durability:
        """`retain` keeps data (prod); `destroy` lets `pulumi destroy` remove everything."""
        keep = setting == "retain"
        return cls(
            protect=keep, retain_on_delete=keep, force_destroy=not keep, deletion_protection=keep
        )

    def options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for a stateful child of `parent`."""
        return pulumi.ResourceOptions(
            parent=parent, protect=self.protect, retain_on_delete=self.retain_on_delete
        )
