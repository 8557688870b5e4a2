"""Read a stack file (`stacks/Pulumi.<stack>.yaml`) into the config map Pulumi would pass."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlkit.settings import SECRET_PLACEHOLDER, ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = PROJECT_ROOT / "stacks"
# Top-level keys Pulumi itself writes into stack files besides `config`.
# Pulumi stack names: letters, digits, '-', '_', '.' (the kit also uses them in file names).
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PULUMI_STACK_KEYS = {"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"}


@dataclass(frozen=True)
class StackFile:
    name: str
    """Stack name: `fraud-dev` for `Pulumi.fraud-dev.yaml`."""
    path: Path
    source: str
    """The path as error messages name it (relative to the project when inside it)."""
    config: dict[str, str]
    """Full key -> value as Pulumi passes config to a program (objects as JSON text)."""
    secret_keys: frozenset[str]
    """Keys holding `secure:` values, which offline become a placeholder."""


def shipped_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def resolve(stack_or_file: str) -> Path:
    """A stack name (`fraud-dev`) or a path to any stack file."""
    path = Path(stack_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists() or len(path.parts) > 1:
        return path
    return STACKS_DIR / f"Pulumi.{stack_or_file}.yaml"


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _unwrap_secure(value: Any) -> tuple[Any, bool]:
    """Replace nested `secure:` values by the placeholder; say whether there were any."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        items = {key: _unwrap_secure(item) for key, item in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        items_list = [_unwrap_secure(item) for item in value]
        return [v for v, _ in items_list], any(s for _, s in items_list)
    return value, False


def _as_pulumi_string(value: Any) -> str:
    """Pulumi passes every config value as text: objects and lists as JSON, YAML booleans
    as `true`/`false`."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def load(stack_or_file: str) -> StackFile:
    """Load and decode a stack file. Raises ConfigError naming the file for a missing file,
    invalid YAML, or a file that is not a Pulumi stack file."""
    path = resolve(stack_or_file)
    source = display_path(path)
    if path.is_dir():
        raise ConfigError(source, [("file", "is a directory, not a stack file")])
    if not path.is_file():
        known = ", ".join(shipped_stacks()) or "none"
        raise ConfigError(source, [("file", f"no such stack file (shipped stacks: {known})")])
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [(where, f"invalid YAML: {problem}")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, [("file", f"cannot read: {error}")]) from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ConfigError(source, [("config", "a stack file needs a `config:` mapping")])
    unknown = sorted(set(document) - PULUMI_STACK_KEYS)
    if unknown:
        raise ConfigError(source, [(key, "unknown top-level key") for key in unknown])

    config: dict[str, str] = {}
    secret_keys = set()
    for key, raw in document["config"].items():
        value, secret = _unwrap_secure(raw)
        config[str(key)] = _as_pulumi_string(value)
        if secret:
            secret_keys.add(str(key))
    name = path.name.removeprefix("Pulumi.").removesuffix(path.suffix)
    if not STACK_NAME.fullmatch(name):
        raise ConfigError(
            source, [("file", f"'{name}' is not a stack name: name the file Pulumi.<stack>.yaml")]
        )
    return StackFile(name, path, source, config, frozenset(secret_keys))


@cache
def code_version() -> str:
    """The kit's git commit, for lineage tags; `unknown` outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a failed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
