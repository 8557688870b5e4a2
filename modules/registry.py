"""Backends of a component role, chosen by the component's `backend` setting.

Each component package with swappable backends defines `BACKENDS = Backends(component, role)`
and registers each backend's builder in it. A builder takes `(name, platform, args, opts)`
and returns an object with the role's outputs (the role's contract, a Protocol next to the
registry). `mlkit list`, the generated docs and the settings' `backend` values all read the
registries, so adding a backend is adding its module and registering it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

Builder = TypeVar("Builder", bound=Callable[..., object])
Registered = TypeVar("Registered", bound=Callable[..., object])


@dataclass(frozen=True)
class Backend(Generic[Builder]):
    name: str
    """Value of the component's `backend` setting."""
    summary: str
    """What it runs on, in a few words (for `mlkit list` and the docs)."""
    build: Builder
    """`(name, platform, args, opts) -> the role's contract`."""


class Backends(Generic[Builder]):
    """The registry of one component role."""

    def __init__(self, component: str, role: str) -> None:
        self.component = component
        self.role = role
        self._backends: dict[str, Backend[Builder]] = {}

    def register(self, name: str, summary: str) -> Callable[[Registered], Registered]:
        """Decorator: register `build` under `name`; `build` is returned unchanged (a class
        stays that class for type checkers)."""

        def add(build: Registered) -> Registered:
            if name in self._backends:
                raise ValueError(f"{self.component}: backend '{name}' is registered twice")
            self._backends[name] = Backend(name, summary, cast(Builder, build))
            return build

        return add

    def unregister(self, name: str) -> None:
        self._backends.pop(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._backends)

    def backends(self) -> tuple[Backend[Builder], ...]:
        return tuple(self._backends.values())

    def get(self, name: str) -> Builder:
        """The builder registered under `name` (a validated setting)."""
        return self._backends[name].build
