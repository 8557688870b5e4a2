"""Change safety, property by property: for every (type, path) of the identity table a
synthetic recording is written to a record, the value at that path is changed, and exactly
that path must be reported; a tag change must never be. No Pulumi plan: the resources are
built by hand, so each case isolates one rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlkit.change_safety import APPEND_ONLY, IDENTITY_PROPERTIES, Replacement, replacements
from mlkit.change_safety import identity_record as _identity_record
from mlkit.recording import RecordedResource

CASES = [(type_, path) for type_, paths in sorted(IDENTITY_PROPERTIES.items()) for path in paths]
NATIVE_GROUP = "aws-native:sagemaker:FeatureGroup"
AWS_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
FEATURES = [
    {"featureName": "card_id", "featureType": "String"},
    {"featureName": "event_time", "featureType": "Fractional"},
    {"featureName": "txn_count_1h", "featureType": "Integral"},
]


def urn(type_: str, name: str = "r") -> str:
    return f"urn:pulumi:test::mlkit::{type_}::{name}"


def resource(type_: str, inputs: dict[str, Any], name: str = "r") -> RecordedResource:
    return RecordedResource(urn(type_, name), type_, name, None, True, False, False, (), inputs)


def put(inputs: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path, creating the objects on the way."""
    *parents, leaf = path.split(".")
    for step in parents:
        inputs = inputs.setdefault(step, {})
    inputs[leaf] = value


def get(inputs: dict[str, Any], path: str) -> Any:
    for step in path.split("."):
        inputs = inputs[step]
    return inputs


def original(type_: str, path: str) -> Any:
    """A distinct value per path, so a mix-up between two paths shows."""
    if (type_, path) in APPEND_ONLY:
        return [dict(item) for item in FEATURES]
    return f"old {path}"


def inputs_of(type_: str) -> dict[str, Any]:
    """Inputs holding a value at every identity path of the type, and tags."""
    inputs: dict[str, Any] = {"tags": {"owner": "team", "cost-center": "1"}}
    for path in IDENTITY_PROPERTIES[type_]:
        put(inputs, path, original(type_, path))
    return inputs


def record_of(*resources: RecordedResource) -> dict[str, Any]:
    # Through JSON, as the committed record file is read back.
    return json.loads(json.dumps(_identity_record(resources)))


def affected(type_: str, path: str) -> list[str]:
    """The identity paths whose value changes with the value at `path`: the path itself and
    any listed ancestor (changing `a.b` changes `a`), in the table's order."""
    return [p for p in IDENTITY_PROPERTIES[type_] if p == path or path.startswith(p + ".")]


def test_every_type_has_paths_and_append_only_paths_are_identity_paths() -> None:
    assert all(IDENTITY_PROPERTIES.values())
    assert len(set(CASES)) == len(CASES), "a path is listed twice for one type"
    assert set(CASES) >= APPEND_ONLY


@pytest.mark.parametrize(("type_", "path"), CASES, ids=lambda v: v)
def test_changing_an_identity_property_is_reported_exactly(type_: str, path: str) -> None:
    before = resource(type_, inputs_of(type_))
    record = record_of(before)
    entry = record["resources"][before.urn]
    assert entry["type"] == type_
    assert entry["properties"][path] == original(type_, path)

    changed_inputs = inputs_of(type_)
    new: Any = [{"featureName": "other", "featureType": "String"}]
    if (type_, path) not in APPEND_ONLY:
        new = f"new {path}"
    put(changed_inputs, path, new)
    after = resource(type_, changed_inputs)
    found = replacements(record, [after])
    expected = [
        Replacement(
            before.urn,
            type_,
            p,
            entry["properties"][p],
            get(changed_inputs, p),
        )
        for p in affected(type_, path)
    ]
    assert found == expected
    assert [r.property for r in found] == affected(type_, path)


@pytest.mark.parametrize(("type_", "path"), CASES, ids=lambda v: v)
def test_removing_an_identity_property_is_reported(type_: str, path: str) -> None:
    # A value that disappears (the input dropped from the program) is a change to None.
    before = resource(type_, inputs_of(type_))
    record = record_of(before)
    changed_inputs = inputs_of(type_)
    *parents, leaf = path.split(".")
    holder = changed_inputs
    for step in parents:
        holder = holder[step]
    del holder[leaf]
    found = replacements(record, [resource(type_, changed_inputs)])
    assert [(r.urn, r.type, r.property, r.old, r.new) for r in found if r.property == path] == [
        (before.urn, type_, path, original(type_, path), None)
    ]


@pytest.mark.parametrize("type_", sorted(IDENTITY_PROPERTIES))
def test_changing_tags_is_not_a_replacement(type_: str) -> None:
    record = record_of(resource(type_, inputs_of(type_)))
    retagged = inputs_of(type_)
    retagged["tags"] = {"owner": "other-team", "cost-center": "2", "extra": "x"}
    assert replacements(record, [resource(type_, retagged)]) == []
    untagged = inputs_of(type_)
    del untagged["tags"]
    assert replacements(record, [resource(type_, untagged)]) == []


@pytest.mark.parametrize("type_", sorted(IDENTITY_PROPERTIES))
def test_an_unchanged_resource_is_not_a_replacement(type_: str) -> None:
    record = record_of(resource(type_, inputs_of(type_)))
    assert replacements(record, [resource(type_, inputs_of(type_))]) == []


@pytest.mark.parametrize("type_", sorted(IDENTITY_PROPERTIES))
def test_a_removed_resource_is_reported_as_deleted(type_: str) -> None:
    before = resource(type_, inputs_of(type_))
    record = record_of(before, resource("aws:iam/role:Role", {"name": "x"}, "role"))
    other = resource(type_, inputs_of(type_), "other")  # a new resource is no replacement
    (found,) = replacements(record, [other])
    assert (found.urn, found.type, found.property, found.new) == (
        before.urn,
        type_,
        "(deleted)",
        None,
    )
    assert found.old == record["resources"][before.urn]["properties"]


# --- append-only feature definitions ----------------------------------------------------------


def group_with(type_: str, definitions: list[dict[str, str]]) -> RecordedResource:
    inputs = inputs_of(type_)
    inputs["featureDefinitions"] = definitions
    return resource(type_, inputs)


def feature(name: str, kind: str) -> dict[str, str]:
    return {"featureName": name, "featureType": kind}


ADDED = feature("txn_amount_1h", "Fractional")


@pytest.mark.parametrize(
    "definitions",
    [
        [ADDED, *FEATURES],  # added first
        [FEATURES[0], ADDED, *FEATURES[1:]],  # added in the middle
        [*FEATURES, ADDED],  # added last
        [*FEATURES, ADDED, feature("z", "String")],  # two added
        list(reversed(FEATURES)),  # reordered: items compare as whole values, in any order
    ],
    ids=["first", "middle", "last", "two", "reordered"],
)
def test_native_feature_definitions_grow_in_place(definitions) -> None:
    record = record_of(group_with(NATIVE_GROUP, list(FEATURES)))
    assert replacements(record, [group_with(NATIVE_GROUP, definitions)]) == []


@pytest.mark.parametrize(
    "definitions",
    [
        FEATURES[:2],  # the last removed
        FEATURES[1:],  # the first removed
        [FEATURES[0], feature("event_time", "String"), FEATURES[2]],  # a type changed
        [FEATURES[0], feature("event_ts", "Fractional"), FEATURES[2]],  # a feature renamed
        [*FEATURES[:2], ADDED],  # one added, one removed
        [],
    ],
    ids=["last-removed", "first-removed", "type-changed", "renamed", "swapped", "emptied"],
)
def test_native_feature_definitions_removed_or_changed_are_replacements(definitions) -> None:
    record = record_of(group_with(NATIVE_GROUP, list(FEATURES)))
    found = replacements(record, [group_with(NATIVE_GROUP, definitions)])
    assert found == [
        Replacement(urn(NATIVE_GROUP), NATIVE_GROUP, "featureDefinitions", FEATURES, definitions)
    ]


def test_native_feature_definitions_dropped_altogether_are_a_replacement() -> None:
    record = record_of(group_with(NATIVE_GROUP, list(FEATURES)))
    inputs = inputs_of(NATIVE_GROUP)
    del inputs["featureDefinitions"]
    assert replacements(record, [resource(NATIVE_GROUP, inputs)]) == [
        Replacement(urn(NATIVE_GROUP), NATIVE_GROUP, "featureDefinitions", FEATURES, None)
    ]


def test_the_pulumi_aws_group_is_not_append_only() -> None:
    # The terraform-bridged group forces a new resource on any definition change: an added
    # feature is a replacement there.
    assert (AWS_GROUP, "featureDefinitions") not in APPEND_ONLY
    record = record_of(group_with(AWS_GROUP, list(FEATURES)))
    grown = [*FEATURES, ADDED]
    assert replacements(record, [group_with(AWS_GROUP, grown)]) == [
        Replacement(urn(AWS_GROUP), AWS_GROUP, "featureDefinitions", FEATURES, grown)
    ]
