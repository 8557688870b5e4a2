"""Strict inputs: every recorded resource's inputs, at every depth, against what its provider
accepts.

The provider SDKs check only top-level keyword names; nested dict-style arguments reach the
provider unchecked, so a misspelled nested key is dropped silently or fails only at
`pulumi up`. Two sources of truth, both offline:

- pulumi-aws (and any SDK in Pulumi's resource-module registry, e.g. pulumi-random): the
  resource's `*Args` input type, whose `__init__` signature gives kinds and required fields
  and whose properties' `_pulumi_name` give the wire names, recursively.
- aws-native: the CloudFormation resource schema cfn-lint ships (`cfnlint/data/schemas`),
  read as JSON without importing cfn-lint (slow). Wire names are the camelCase of the CFN
  names; acronyms differ (`VolumeSizeInGB` <-> `volumeSizeInGb`), so names match ignoring
  case. Patterns (`\\p{..}` classes) need the `regex` module; without it they are skipped.
"""

from __future__ import annotations

import collections.abc
import functools
import importlib
import importlib.util
import json
import re
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc

from mlkit.recording import RecordedResource
from mlkit.settings import SECRET_PLACEHOLDER

DEFAULT_REGION = "us-east-1"  # cfn-lint's schemas for aws-native without an explicit region

# The ids the recorder's mocks give resources (mlkit.recording); a real id is known only at
# `pulumi up`, so inputs holding one are treated as unknown (None).
MOCK_ID = "{name}-id"

Problems = list[tuple[str, str]]  # (path, message)
Validator = Callable[[Mapping[str, Any]], Problems]


@dataclass(frozen=True)
class InputFinding:
    urn: str
    type: str
    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"urn": self.urn, "type": self.type, "path": self.path, "message": self.message}


def check_inputs(resources: Iterable[RecordedResource]) -> list[InputFinding]:
    """Every finding in every custom resource's inputs, sorted by (urn, path)."""
    resources = list(resources)
    region = _native_region(resources)
    mock_ids = {MOCK_ID.format(name=r.name) for r in resources}
    findings = [
        InputFinding(r.urn, r.type, path, message)
        for r in _checked(resources)
        if (validate := _validator(r.type, region)) is not None
        for path, message in validate(_without(r.inputs, mock_ids))
    ]
    return sorted(findings, key=lambda f: (f.urn, f.path, f.message))


def unchecked_types(resources: Iterable[RecordedResource]) -> list[str]:
    """Types of custom resources no schema was found for (their inputs go unchecked)."""
    resources = list(resources)
    region = _native_region(resources)
    return sorted({r.type for r in _checked(resources) if _validator(r.type, region) is None})


def _without(value: Any, mock_ids: set[str]) -> Any:
    """The value with the mocks' ids as unknown (e.g. "fraud-prod-network-private-0-id" is
    longer than any real subnet id)."""
    if isinstance(value, str):
        return None if value in mock_ids else value
    if isinstance(value, Mapping):
        return {key: _without(item, mock_ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, mock_ids) for item in value]
    return value


def _checked(resources: list[RecordedResource]) -> list[RecordedResource]:
    # Components have no provider schema; providers' inputs are configuration.
    return [r for r in resources if r.custom and not r.type.startswith("pulumi:providers:")]


def _native_region(resources: list[RecordedResource]) -> str:
    """The region of the (kit's explicit) aws-native provider: schemas differ per region."""
    regions = {
        r.inputs.get("region")
        for r in resources
        if r.type == "pulumi:providers:aws-native" and isinstance(r.inputs.get("region"), str)
    }
    return regions.pop() if len(regions) == 1 else DEFAULT_REGION


@functools.cache
def _validator(type_: str, region: str) -> Validator | None:
    if type_.startswith("aws-native:"):
        found = _cfn_schema(type_, region)
        return None if found is None else lambda inputs: _check_cfn(inputs, found, found, "")
    args = _args_class(type_)
    return None if args is None else lambda inputs: _check_object(inputs, args, "")


def _join(path: str, key: str) -> str:
    if not key.isidentifier():  # e.g. tag keys "mlkit:component"
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if float(value).is_integer() else "number"
    if isinstance(value, Mapping):
        return "object"
    return {list: "array", str: "string"}.get(type(value), type(value).__name__)


def _skip(value: Any) -> bool:
    # Unknown (computed) and secret values cannot be checked.
    return value is None or value == SECRET_PLACEHOLDER


# --- Pulumi SDK input types ---------------------------------------------------------------
# A shape is ("any",), (kind,) for kind in string/integer/number/boolean, ("array", item),
# ("map", item), ("object", input type class) or ("union", shapes).
Shape = tuple[Any, ...]
ANY: Shape = ("any",)
_tried_imports: set[str] = set()


@functools.cache
def _args_class(type_: str) -> type | None:
    """The `*Args` input type of a resource token, through Pulumi's resource-module registry
    (filled when the SDK package is imported; only the token's submodule is imported)."""
    parts = type_.split(":")
    if len(parts) != 3:
        return None
    pkg, mod, _ = parts
    module = rpc.get_resource_module(pkg, mod, "")
    if module is None and pkg not in _tried_imports:
        _tried_imports.add(pkg)
        try:
            importlib.import_module(f"pulumi_{pkg.replace('-', '_')}")
        except ImportError:
            return None
        module = rpc.get_resource_module(pkg, mod, "")
    info = getattr(module, "mod_info", None)
    if not info or type_ not in info.get("classes", {}):
        return None
    cls = getattr(importlib.import_module(info["fqn"]), info["classes"][type_])
    namespace = vars(sys.modules[cls.__module__])
    # `<Name>InitArgs` when an input type already took the name `<Name>Args`.
    found = namespace.get(f"{cls.__name__}InitArgs") or namespace.get(f"{cls.__name__}Args")
    return found if _is_input_type(found) else None


def _is_input_type(cls: Any) -> bool:
    return isinstance(cls, type) and getattr(cls, "_pulumi_input_type", False) is True


@functools.cache
def _fields(cls: type) -> dict[str, tuple[str, bool]]:
    """Wire name -> (Python name, required) of an input type: its properties' `_pulumi_name`
    and its keyword-only `__init__` parameters (required: no default)."""
    wire = {
        py_name: attr.fget._pulumi_name
        for klass in reversed(cls.__mro__)
        for py_name, attr in vars(klass).items()
        if isinstance(attr, property) and hasattr(attr.fget, "_pulumi_name")
    }
    init = cls.__init__  # its code object: much faster than inspect.signature
    code, defaults = init.__code__, init.__kwdefaults__ or {}
    names = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    return {wire.get(name, name): (name, name not in defaults) for name in names}


@functools.cache
def _field_shape(cls: type, py_name: str) -> Shape:
    # Only the fields a value is given for: most of an input type's fields are never set.
    return _shape(cls.__init__.__annotations__.get(py_name, Any), cls.__module__)


def _plumbing(hint: Any) -> bool:
    """The parts of `Input[T]` that are not T: None, Awaitable[T] and Output[T] (a forward
    reference in pulumi's alias)."""
    if isinstance(hint, typing.ForwardRef):
        return hint.__forward_arg__.startswith("Output[")
    origin = typing.get_origin(hint)
    return hint in (type(None), pulumi.Output) or origin in (
        collections.abc.Awaitable,
        pulumi.Output,
    )


@functools.cache
def _shape(hint: Any, module: str) -> Shape:
    """The shape of a raw annotation; forward references ('XArgs', 'outputs.X') are looked up
    in `module`, one at a time (typing.get_type_hints on every class is far too slow)."""
    if isinstance(hint, str | typing.ForwardRef):
        name = hint.__forward_arg__ if isinstance(hint, typing.ForwardRef) else hint
        try:
            hint = eval(name, vars(sys.modules[module]))  # a dotted name of the SDK module
        except Exception:
            return ANY
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        members = {_shape(a, module) for a in args if not _plumbing(a)}
        if not members or ANY in members:
            return ANY
        return members.pop() if len(members) == 1 else ("union", tuple(sorted(members, key=str)))
    if origin in (list, collections.abc.Sequence) and args:
        return ("array", _shape(args[0], module))
    if origin in (dict, collections.abc.Mapping) and len(args) == 2:
        return ("map", _shape(args[1], module))
    if _is_input_type(hint):
        return ("object", hint)
    # bool before int (a subclass); str enums are strings.
    for python, kind in ((bool, "boolean"), (str, "string"), (int, "integer"), (float, "number")):
        if isinstance(hint, type) and issubclass(hint, python):
            return (kind,)
    return ANY  # Any, assets and archives, JSON documents


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fits(value: Any, shape: Shape) -> bool:
    """Whether the provider takes a value of this kind. Terraform converts scalars as `cty`
    does: numbers and booleans to strings, numeric strings to numbers, "true"/"false" to
    booleans; anything else is rejected."""
    kind = _kind(value)
    expected = shape[0]
    if expected == "any":
        return True
    if expected == "string":
        return kind in ("string", "integer", "number", "boolean")
    if expected in ("integer", "number"):
        if kind == "string":
            return _numeric(value) and (expected == "number" or float(value).is_integer())
        return kind == "integer" or (kind == "number" and expected == "number")
    if expected == "boolean":
        return kind == "boolean" or value in ("true", "false")
    if expected == "array":
        return kind == "array"
    return kind == "object"  # map, object


def _describe(shape: Shape) -> str:
    return {"array": "a list", "map": "a map", "object": "an object", "integer": "an integer"}.get(
        shape[0], f"a {shape[0]}"
    )


def _check_value(value: Any, shape: Shape, path: str) -> Problems:
    if _skip(value):
        return []
    if shape[0] == "union":
        fitting = [member for member in shape[1] if _fits(value, member)]
        if len(fitting) != 1:  # none: a wrong kind; several: ambiguous, accept
            return [] if fitting else [(path, _wrong_kind(value, shape[1]))]
        shape = fitting[0]
    if not _fits(value, shape):
        return [(path, _wrong_kind(value, [shape]))]
    if shape[0] == "array":
        return [
            p for i, item in enumerate(value) for p in _check_value(item, shape[1], f"{path}[{i}]")
        ]
    if shape[0] == "map":
        return [
            p for key, item in value.items() for p in _check_value(item, shape[1], _join(path, key))
        ]
    if shape[0] == "object":
        return _check_object(value, shape[1], path)
    return []


def _wrong_kind(value: Any, shapes: Iterable[Shape]) -> str:
    return f"expected {' or '.join(_describe(s) for s in shapes)}, got {_kind(value)}"


def _check_object(value: Mapping[str, Any], cls: type, path: str) -> Problems:
    fields = _fields(cls)
    problems: Problems = []
    for key, item in value.items():
        if _skip(item):
            continue
        if key in fields:
            problems += _check_value(item, _field_shape(cls, fields[key][0]), _join(path, key))
        else:
            allowed = ", ".join(sorted(fields))
            problems.append((_join(path, key), f"unknown property '{key}' (allowed: {allowed})"))
    problems += [
        (_join(path, key), f"missing required property '{key}'")
        for key, (_, required) in fields.items()
        if required and key not in value
    ]
    return problems


# --- CloudFormation schemas (aws-native) ----------------------------------------------------


@functools.cache
def _cfn_schemas_dir() -> Path | None:
    # find_spec locates the package without running its (slow) __init__.
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@functools.cache
def _cfn_index(region: str) -> dict[str, str]:
    """Lower-case CFN type name -> its schema file's name, for one region."""
    schemas = _cfn_schemas_dir()
    providers = schemas / "providers" / f"{region}.json" if schemas else None
    if providers is None or not providers.is_file():
        return {}
    return {name.lower(): file for name, file in json.loads(providers.read_text()).items()}


@functools.cache
def _cfn_schema(type_: str, region: str) -> dict[str, Any] | None:
    """`aws-native:sagemaker:ModelQualityJobDefinition` -> AWS::SageMaker::... schema."""
    parts = type_.split(":")
    if len(parts) != 3:
        return None
    name = _cfn_index(region).get(f"aws::{parts[1]}::{parts[2]}".lower())
    schemas = _cfn_schemas_dir()
    file = schemas / "resources" / f"{name}.json" if name and schemas else None
    return json.loads(file.read_text()) if file and file.is_file() else None


def _wire_name(cfn_name: str) -> str:
    """CFN `VolumeSizeInGB` -> aws-native `volumeSizeInGb` (for messages only)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", cfn_name)
    if "".join(words) != cfn_name:
        return cfn_name[:1].lower() + cfn_name[1:]
    return words[0].lower() + "".join(w[0].upper() + w[1:].lower() for w in words[1:])


@functools.cache
def _compiled(pattern: str) -> Any:
    """A CFN pattern compiled with `regex` (it has the \\p{..} classes `re` lacks; it comes
    with cfn-lint), or None when `regex` is missing or the pattern does not compile."""
    try:
        import regex
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    try:
        return regex.compile(pattern)
    except regex.error:
        return None


def _matches(pattern: str, text: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.search(text) is not None


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith("#/"):
        target: Any = doc
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
    return schema


def _cfn_type_ok(value: Any, expected: str) -> bool:
    kind = _kind(value)
    return kind == expected or (expected == "number" and kind == "integer")


def _check_cfn(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str) -> Problems:
    """JSON Schema, the parts CFN schemas use. Kinds are strict: the resource handlers reject
    e.g. a string for an integer ("Model validation failed (#/X: expected type: Integer")."""
    if _skip(value):
        return []
    schema = _resolve(schema, doc)
    problems: Problems = []
    for sub in schema.get("allOf", []):
        problems += _check_cfn(value, sub, doc, path)
    for key in ("anyOf", "oneOf"):
        alternatives = [_check_cfn(value, sub, doc, path) for sub in schema.get(key, [])]
        if alternatives and all(alternatives):
            problems.append((path, f"matches none of the {key} alternatives"))
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types or []
    if types and not any(_cfn_type_ok(value, t) for t in types):
        return [*problems, (path, f"expected {' or '.join(types)}, got {_kind(value)}")]
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        problems.append((path, f"invalid value {value!r} (allowed: {allowed})"))
    if _kind(value) in ("integer", "number"):
        problems += _bounds(value, schema, path)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1e9):
            limits = f"{schema.get('minLength', 0)}..{schema.get('maxLength', '')}"
            problems.append((path, f"length {len(value)} outside {limits}"))
        if "pattern" in schema and not _matches(schema["pattern"], value):
            problems.append((path, f"{value!r} does not match {schema['pattern']}"))
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1e9):
            limits = f"{schema.get('minItems', 0)}..{schema.get('maxItems', '')}"
            problems.append((path, f"{len(value)} items, outside {limits}"))
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                problems += _check_cfn(item, schema["items"], doc, f"{path}[{i}]")
    elif isinstance(value, Mapping):
        problems += _check_cfn_object(value, schema, doc, path)
    return problems


def _bounds(value: float, schema: dict[str, Any], path: str) -> Problems:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        return [
            (path, f"{value} outside {'' if low is None else low}..{'' if high is None else high}")
        ]
    return []


def _check_cfn_object(
    value: Mapping[str, Any], schema: dict[str, Any], doc: dict[str, Any], path: str
) -> Problems:
    properties = schema.get("properties", {})
    by_lower = {name.lower(): name for name in properties}
    extra = schema.get("additionalProperties", True)
    problems: Problems = []
    for key, item in value.items():
        if _skip(item):
            continue
        name = by_lower.get(key.lower())
        matching = [s for p, s in schema.get("patternProperties", {}).items() if _matches(p, key)]
        if name is not None:
            problems += _check_cfn(item, properties[name], doc, _join(path, key))
        elif matching:
            problems += _check_cfn(item, matching[0], doc, _join(path, key))
        elif extra is False:
            allowed = ", ".join(sorted(_wire_name(n) for n in properties))
            problems.append((_join(path, key), f"unknown property '{key}' (allowed: {allowed})"))
        elif isinstance(extra, dict):
            problems += _check_cfn(item, extra, doc, _join(path, key))
    present = {key.lower() for key in value}
    for name in schema.get("required", []):
        if name.lower() not in present:
            wire = _wire_name(name)
            problems.append((_join(path, wire), f"missing required property '{wire}'"))
    return problems
