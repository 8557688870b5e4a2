"""The layout is the architecture: engine (`mlkit/`), compositions (`blueprints/`),
components with their backends (`modules/`), policies and runtime code; imports run one way,
and the backend registries are the only plug-in point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlkit.blueprint import BLUEPRINTS_DIR, blueprint_keys, load_blueprint
from mlkit.cli import main
from mlkit.docs import render_configuration, render_stack_schema
from mlkit.stackfile import PROJECT_ROOT

PACKAGES = ("mlkit", "blueprints", "modules", "policies", "functions")
# Which top-level packages each package may import (statically).
ALLOWED_IMPORTS = {
    "mlkit": {"mlkit", "modules", "policies"},  # blueprints only through load_blueprint
    "blueprints": {"blueprints", "mlkit", "modules", "functions"},
    "modules": {"modules", "mlkit", "functions"},  # modules deploy the code in functions/
    "policies": {"policies"},
    "functions": {"functions"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way(package: str) -> None:
    wrong = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            imported_packages(path) - ALLOWED_IMPORTS[package]
        )
        for path in (PROJECT_ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_import_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "component.py"
    module.write_text("from blueprints._base import build_platform\nimport mlkit.settings\n")
    assert imported_packages(module) == {"blueprints", "mlkit"}


def test_blueprints_holds_compositions_and_their_defaults_only() -> None:
    files = {p.relative_to(BLUEPRINTS_DIR).as_posix() for p in BLUEPRINTS_DIR.rglob("*")}
    files = {f for f in files if "__pycache__" not in f and f != "defaults"}
    compositions = {f"{key.replace('-', '_')}.py" for key in blueprint_keys()}
    helpers = {f for f in files if f.startswith("_") and f.endswith(".py")}
    defaults = {f for f in files if f.startswith("defaults/")}
    assert files == compositions | helpers | defaults
    assert {d.removeprefix("defaults/").removesuffix(".yaml") for d in defaults} <= set(
        blueprint_keys()
    )
    for key in blueprint_keys():
        blueprint = load_blueprint(key)
        assert blueprint.key == key
        assert (PROJECT_ROOT / "docs" / f"{key}.md").is_file() or key == "platform-base"


@pytest.fixture
def extra_serving_backend():
    """A backend registered the way a new one would be, removed afterwards."""
    from modules.serving import BACKENDS

    BACKENDS.register("kserve-test", "KServe InferenceService (test double)")(object)
    yield "kserve-test"
    BACKENDS.unregister("kserve-test")


def test_a_registered_backend_appears_without_any_other_edit(extra_serving_backend, capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "serving [endpoint: sagemaker|kserve-test, batch: dynamodb]" in listing
    assert "| `serving` | endpoint | `kserve-test` | KServe InferenceService (test double) |" in (
        render_configuration()
    )
    assert '"kserve-test"' in render_stack_schema("realtime-fraud")
    model = load_blueprint("realtime-fraud").settings
    serving = model.model_fields["serving"].annotation
    assert serving.model_validate({"backend": "kserve-test"}).backend == "kserve-test"


def test_an_unregistered_backend_is_refused_with_the_registered_names() -> None:
    from pydantic import ValidationError

    serving = load_blueprint("realtime-fraud").settings.model_fields["serving"].annotation
    with pytest.raises(ValidationError, match="Input should be 'sagemaker'"):
        serving.model_validate({"backend": "kserve"})
