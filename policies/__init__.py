"""The kit's ML-platform policy pack: one control per file under `policies/<area>/`.

Importable without starting anything: `policies/__main__.py` builds the CrossGuard pack that
`pulumi preview --policy-pack policies` runs; `policies.evaluate` runs the same policies
in-process for `plan` and `check`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from policies.control import Control

AREAS_DIR = Path(__file__).resolve().parent


@cache
def controls() -> tuple[Control, ...]:
    """Every control of the pack, sorted by id; each file's name is its control's id."""
    found: list[Control] = []
    for area in sorted(p.name for p in AREAS_DIR.iterdir() if (p / "__init__.py").is_file()):
        package = f"policies.{area}"
        for module in pkgutil.iter_modules([str(AREAS_DIR / area)]):
            if module.name.startswith("_"):  # an area's shared helpers, not a control
                continue
            control = importlib.import_module(f"{package}.{module.name}").CONTROL
            if control.id.replace("-", "_") != module.name:
                raise ValueError(f"{package}.{module.name} defines control {control.id}")
            found.append(control)
    ids = [c.id for c in found]
    if len(set(ids)) != len(ids):
        raise ValueError("two controls share an id")
    return tuple(sorted(found, key=lambda c: c.id))
