"""Change safety: replacing or deleting a stateful resource is reported against the committed
identity record; everything else is not."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from mlkit.change_safety import (
    APPEND_ONLY,
    DELETED,
    IDENTITY_PROPERTIES,
    ChangeSafety,
    Replacement,
    check,
    identity_record,
    load_record,
    record_path,
    render_record,
    replacements,
    write_record,
)
from mlkit.recording import RecordedResource
from mlkit.settings import SECRET_PLACEHOLDER

STACK = "fraud-prod"
TABLE = "fraud-prod-ingestion-state"
BUCKET = "fraud-prod-artifacts-bucket"
FEATURE_GROUP = "fraud-prod-features-card-aggregates"
STREAM = "fraud-prod-ingestion-stream"


@pytest.fixture
def resources(plan_of) -> list[RecordedResource]:
    return list(plan_of(STACK).recording.resources)


@pytest.fixture
def record(resources) -> dict:
    # Through JSON, as a committed record is read back.
    return json.loads(render_record(resources))


def named(resources: list[RecordedResource], name: str) -> RecordedResource:
    (resource,) = (r for r in resources if r.name == name)
    return resource


def edited(resources: list[RecordedResource], name: str, edit) -> list[RecordedResource]:
    """The resources with a deep copy of `name`'s inputs changed by `edit`."""
    out = []
    for r in resources:
        if r.name == name:
            inputs = copy.deepcopy(dict(r.inputs))
            edit(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        out.append(r)
    return out


# --- the record -------------------------------------------------------------------------------


def test_identity_record_holds_the_identity_of_each_stateful_resource(resources):
    record = identity_record(resources)
    assert record["formatVersion"] == 1
    assert list(record["resources"]) == sorted(record["resources"])
    stateful = [r for r in resources if r.type in IDENTITY_PROPERTIES]
    assert set(record["resources"]) == {r.urn for r in stateful}
    table = named(resources, TABLE)
    entry = record["resources"][table.urn]
    assert entry["type"] == "aws:dynamodb/table:Table"
    assert list(entry["properties"]) == sorted(IDENTITY_PROPERTIES[table.type])
    # Values as recorded; the auto-named table has no `name` input: recorded as null.
    assert entry["properties"]["hashKey"] == "card_id"
    assert entry["properties"]["rangeKey"] == "sk"
    assert entry["properties"]["name"] is None
    group = record["resources"][named(resources, FEATURE_GROUP).urn]["properties"]
    assert group["featureDefinitions"][0] == {"featureName": "card_id", "featureType": "String"}
    assert group["onlineStoreConfig.enableOnlineStore"] is True
    assert "onlineStoreConfig.ttlDuration" not in group
    # Stateless resources (roles, alarms, topics, endpoints) are not recorded.
    assert not any(e["type"] == "aws:iam/role:Role" for e in record["resources"].values())


def test_the_kits_stateful_resource_types_are_all_covered(plan_of, shipped_stack):
    holds_data = {
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:dynamodb/table:Table",
        "aws:ecr/repository:Repository",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:kinesis/stream:Stream",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/mlflowApp:MlflowApp",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sqs/queue:Queue",
    }
    used = {r.type for r in plan_of(shipped_stack).recording.resources}
    assert used & holds_data <= set(IDENTITY_PROPERTIES)
    assert not used & {"aws:iam/role:Role", "aws:sns/topic:Topic"} & set(IDENTITY_PROPERTIES)


def test_a_record_survives_its_json_round_trip(plan_of, shipped_stack):
    # What `record` writes is what `plan` reads back: no value changes in JSON.
    recording = plan_of(shipped_stack).recording
    assert json.loads(render_record(recording)) == identity_record(recording)


# --- what is flagged --------------------------------------------------------------------------


def test_a_changed_dynamodb_key_schema_is_a_replacement(resources, record):
    changed = edited(resources, TABLE, lambda i: i.update(hashKey="account_id"))
    urn = named(resources, TABLE).urn
    assert replacements(record, changed) == [
        Replacement(urn, "aws:dynamodb/table:Table", "hashKey", "card_id", "account_id")
    ]

    def drop_range_key(inputs):
        del inputs["rangeKey"]

    assert replacements(record, edited(resources, TABLE, drop_range_key)) == [
        Replacement(urn, "aws:dynamodb/table:Table", "rangeKey", "sk", None)
    ]


def test_a_renamed_bucket_is_a_replacement(resources, record):
    # The kit's buckets are auto-named: giving one a physical name replaces it ...
    changed = edited(resources, BUCKET, lambda i: i.update(bucket="fraud-prod-artifacts-v2"))
    urn = named(resources, BUCKET).urn
    assert replacements(record, changed) == [
        Replacement(urn, "aws:s3/bucket:Bucket", "bucket", None, "fraud-prod-artifacts-v2")
    ]
    # ... and so does changing a physical name that was set.
    named_record = json.loads(render_record(changed))
    renamed = edited(changed, BUCKET, lambda i: i.update(bucket="fraud-prod-artifacts-v3"))
    assert replacements(named_record, renamed) == [
        Replacement(
            urn,
            "aws:s3/bucket:Bucket",
            "bucket",
            "fraud-prod-artifacts-v2",
            "fraud-prod-artifacts-v3",
        )
    ]


def test_a_renamed_logical_name_deletes_the_old_resource(resources, record):
    """A new logical name is a new URN: Pulumi deletes the old bucket, data and all."""
    old = named(resources, BUCKET)
    new_urn = old.urn.replace(BUCKET, "fraud-prod-artifacts-store")
    renamed = [
        dataclasses.replace(r, urn=new_urn, name="fraud-prod-artifacts-store") if r is old else r
        for r in resources
    ]
    assert replacements(record, renamed) == [
        Replacement(old.urn, old.type, DELETED, record["resources"][old.urn]["properties"], None)
    ]


def test_an_added_feature_updates_the_group_in_place(resources, record):
    group = named(resources, FEATURE_GROUP)
    assert group.type == "aws-native:sagemaker:FeatureGroup"

    def add_feature(inputs):
        inputs["featureDefinitions"].insert(
            3, {"featureName": "txn_max_1h", "featureType": "Fractional"}
        )

    assert replacements(record, edited(resources, FEATURE_GROUP, add_feature)) == []


def test_a_removed_or_retyped_feature_would_replace_the_group(resources, record):
    group = named(resources, FEATURE_GROUP)
    before = group.inputs["featureDefinitions"]
    removed = [d for d in before if d["featureName"] != "txn_count_1h"]
    assert replacements(
        record, edited(resources, FEATURE_GROUP, lambda i: i.update(featureDefinitions=removed))
    ) == [Replacement(group.urn, group.type, "featureDefinitions", before, removed)]

    retyped = [
        d | {"featureType": "Fractional"} if d["featureName"] == "txn_count_1h" else d
        for d in before
    ]
    (found,) = replacements(
        record, edited(resources, FEATURE_GROUP, lambda i: i.update(featureDefinitions=retyped))
    )
    assert (found.property, found.new) == ("featureDefinitions", retyped)


def test_reordered_features_change_nothing(tmp_path, plan_of):
    """The group's definitions are deployed sorted by name, so reformatting the stack file
    (features in another order) records the same inputs."""
    import yaml

    from mlkit.plan import plan_stack

    stack = yaml.safe_load(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    defaults = yaml.safe_load(Path("blueprints/defaults/realtime-fraud.yaml").read_text())
    groups = defaults["featureStore"]["featureGroups"]
    for group in groups:
        group["features"] = dict(reversed(list(group["features"].items())))
    assert "mlkit:featureStore" not in stack["config"]  # the groups are the blueprint's
    stack["config"]["mlkit:featureStore"] = {"featureGroups": groups}
    path = tmp_path / "Pulumi.fraud-prod.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    reordered = plan_stack(str(path)).recording
    shipped = plan_of("fraud-prod").recording
    kinds = ("aws-native:sagemaker:FeatureGroup", "aws:s3/bucketObjectv2:BucketObjectv2")
    assert [r.inputs for r in reordered.resources if r.type in kinds] == [
        r.inputs for r in shipped.resources if r.type in kinds
    ]


def test_an_online_store_on_another_key_would_replace_the_group(resources, record):
    def encrypt_online_store_with_another_key(inputs):
        inputs["onlineStoreConfig"]["securityConfig"]["kmsKeyId"] = "arn:aws:kms:other"

    (found,) = replacements(
        record, edited(resources, FEATURE_GROUP, encrypt_online_store_with_another_key)
    )
    assert (found.property, found.new) == (
        "onlineStoreConfig.securityConfig",
        {"kmsKeyId": "arn:aws:kms:other"},
    )


def test_a_removed_stateful_resource_is_reported_as_deleted(resources, record):
    stream = named(resources, STREAM)
    remaining = [r for r in resources if r is not stream]
    assert replacements(record, remaining) == [
        Replacement(
            stream.urn,
            "aws:kinesis/stream:Stream",
            DELETED,
            record["resources"][stream.urn]["properties"],
            None,
        )
    ]
    assert (
        record["resources"][stream.urn]["properties"]["name"] == "fraud-prod-ingestion-transactions"
    )


def test_changes_are_one_entry_per_property_sorted_by_urn(resources, record):
    changed = edited(resources, TABLE, lambda i: i.update(hashKey="a", rangeKey="b"))
    changed = edited(changed, BUCKET, lambda i: i.update(bucket="x"))
    found = replacements(record, changed)
    assert [(r.urn, r.property) for r in found] == sorted(
        [
            (named(resources, TABLE).urn, "hashKey"),
            (named(resources, TABLE).urn, "rangeKey"),
            (named(resources, BUCKET).urn, "bucket"),
        ]
    )


# --- what is not ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        (TABLE, lambda i: i["tags"].update(owner="someone-else")),
        (BUCKET, lambda i: i.update(tags={})),
        (BUCKET, lambda i: i.update(forceDestroy=True)),
        (TABLE, lambda i: i.update(pointInTimeRecovery={"enabled": False})),
        (TABLE, lambda i: i.update(billingMode="PROVISIONED")),
        # The provider ignores attribute-type changes (no replacement, pulumi/pulumi-aws#1057).
        (TABLE, lambda i: i["attributes"][0].update(type="N")),
        (FEATURE_GROUP, lambda i: i["onlineStoreConfig"]["ttlDuration"].update(value=30)),
        (STREAM, lambda i: i.update(retentionPeriod=24)),
        ("fraud-prod-kms-key", lambda i: i.update(description="changed", enableKeyRotation=False)),
    ],
    ids=[
        "table-tag",
        "bucket-tags",
        "bucket-forceDestroy",
        "table-pitr",
        "table-billing",
        "table-attribute-type",
        "feature-ttl",
        "stream-retention",
        "kms-description",
    ],
)
def test_in_place_changes_are_not_replacements(resources, record, name, edit):
    assert replacements(record, edited(resources, name, edit)) == []


def test_new_and_stateless_resources_are_not_replacements(resources, record):
    table = named(resources, TABLE)
    new_table = dataclasses.replace(
        table,
        urn=table.urn.replace(TABLE, "fraud-prod-ingestion-dedup"),
        name="fraud-prod-ingestion-dedup",
    )
    assert replacements(record, [*resources, new_table]) == []
    # A removed role loses no data.
    roles = [r for r in resources if r.type == "aws:iam/role:Role"]
    assert roles
    assert replacements(record, [r for r in resources if r is not roles[0]]) == []


def test_secrets_and_unknowns_compare_as_recorded():
    resource = RecordedResource(
        urn="urn:pulumi:s::mlkit::aws:sqs/queue:Queue::q",
        type="aws:sqs/queue:Queue",
        name="q",
        parent=None,
        custom=True,
        protect=False,
        retain_on_delete=False,
        depends_on=(),
        inputs={"name": SECRET_PLACEHOLDER, "fifoQueue": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},
    )
    record = identity_record([resource])
    assert record["resources"][resource.urn]["properties"]["name"] == SECRET_PLACEHOLDER
    assert replacements(record, [resource]) == []
    known = dataclasses.replace(resource, inputs={**resource.inputs, "fifoQueue": True})
    assert replacements(record, [known]) == [
        Replacement(
            resource.urn, resource.type, "fifoQueue", "04da6b54-80e4-46f7-96ec-b56ff0331ba9", True
        )
    ]


def test_paths_missing_from_an_older_record_are_not_compared(resources, record):
    """An identity path added to the kit later has no recorded old value: not a replacement."""
    urn = named(resources, TABLE).urn
    del record["resources"][urn]["properties"]["hashKey"]
    record["resources"][urn]["properties"]["noLongerIdentity"] = "x"
    changed = edited(resources, TABLE, lambda i: i.update(hashKey="account_id"))
    assert replacements(record, changed) == []


# --- the committed record, and the plan's part ------------------------------------------------


def test_no_record_means_no_replacements_and_says_so(tmp_path, resources):
    safety = check(STACK, resources, root=tmp_path)
    assert safety == ChangeSafety(replacements=[], record_exists=False)
    assert safety.as_json() == {"recorded": False, "replacements": []}
    assert "no identity record for fraud-prod" in safety.render_text(STACK)[0]
    assert load_record(STACK, root=tmp_path) is None


def test_write_then_load_round_trips(tmp_path, resources):
    path = write_record(STACK, resources, root=tmp_path)
    assert path == tmp_path / "stacks" / "identity" / "fraud-prod.json"
    assert path == record_path(STACK, root=tmp_path)
    text = path.read_text()
    assert text.endswith("}\n")
    assert text == render_record(list(reversed(resources)))  # deterministic
    assert load_record(STACK, root=tmp_path) == identity_record(resources)
    safety = check(STACK, resources, root=tmp_path)
    assert safety.as_json() == {"recorded": True, "replacements": []}
    assert safety.render_text(STACK) == [
        "Change safety: no stateful resource is replaced or deleted"
    ]


def test_the_plan_part_lists_each_replacement(tmp_path, resources):
    write_record(STACK, resources, root=tmp_path)
    changed = edited(resources, TABLE, lambda i: i.update(hashKey="account_id"))
    safety = check(STACK, changed, root=tmp_path)
    urn = named(resources, TABLE).urn
    assert safety.as_json() == {
        "recorded": True,
        "replacements": [
            {
                "urn": urn,
                "type": "aws:dynamodb/table:Table",
                "property": "hashKey",
                "old": "card_id",
                "new": "account_id",
            }
        ],
    }
    lines = safety.render_text(STACK)
    assert len(lines) == 2
    assert f"{TABLE} (aws:dynamodb/table:Table): hashKey 'card_id' -> 'account_id'" in lines[1]


def test_the_default_record_lives_under_the_project(resources):
    from mlkit.stackfile import PROJECT_ROOT

    assert record_path(STACK) == PROJECT_ROOT / "stacks" / "identity" / "fraud-prod.json"


@pytest.mark.parametrize("bad", ["", "../fraud-prod", "a/b", ".hidden"])
def test_record_path_takes_stack_names_only(bad):
    with pytest.raises(ValueError, match="not a stack name"):
        record_path(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"formatVersion": 2, "resources": {}}', "format version 1"),
    ],
)
def test_a_broken_record_is_an_error(tmp_path, text, message):
    path = record_path(STACK, root=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_record(STACK, root=tmp_path)


def test_plan_names_a_broken_record_and_exits_2(tmp_path, capsys):
    from mlkit.cli import EXIT_INVALID, main

    stack_file = tmp_path / "Pulumi.broken-record.yaml"
    stack_file.write_text(Path("stacks/Pulumi.base-dev.yaml").read_text())
    record = record_path("broken-record")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("{not json")
    try:
        assert main(["plan", str(stack_file)]) == EXIT_INVALID
    finally:
        record.unlink()
    assert capsys.readouterr().err.strip() == (
        "stacks/identity/broken-record.json: file: not valid JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))"
    )


# --- the identity paths exist in the provider SDK ---------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _resource_class(type_: str) -> type:
    package, module_path, class_name = type_.split(":")
    module = module_path.split("/")[0]
    module = {"lambda": "lambda_"}.get(module, module)
    prefix = {"aws": "pulumi_aws", "aws-native": "pulumi_aws_native"}[package]
    return getattr(importlib.import_module(f"{prefix}.{module}"), class_name)


def _parameters(function) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    ("type_", "path"),
    [(type_, path) for type_, paths in sorted(IDENTITY_PROPERTIES.items()) for path in paths],
)
def test_each_identity_path_is_an_input_of_the_resource(type_, path):
    cls = _resource_class(type_)
    assert cls.pulumi_type == type_  # the token the class registers (catches a mistyped key)
    module = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    parameters = _parameters(cls._internal_init)
    for depth, step in enumerate(path.split(".")):
        assert _snake(step) in parameters, f"{type_}: {path}: no input {_snake(step)!r}"
        if depth < len(path.split(".")) - 1:
            # The nested block's Args class, named in the annotation (e.g. 'XArgs').
            annotation = str(parameters[_snake(step)].annotation)
            args_name = re.search(r"'(\w+Args)'", annotation)
            assert args_name, f"{type_}: {path}: {step} is not a block ({annotation})"
            parameters = _parameters(getattr(module, args_name.group(1)).__init__)


def test_identity_paths_are_unique_and_camel_case():
    for type_, paths in IDENTITY_PROPERTIES.items():
        assert len(set(paths)) == len(paths), type_
        for path in paths:
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*", path), (type_, path)


# --- aws-native: CloudFormation's create-only properties --------------------------------------


@pytest.mark.parametrize(
    "type_", sorted(t for t in IDENTITY_PROPERTIES if t.startswith("aws-native:"))
)
def test_aws_native_identity_is_the_schemas_create_only_properties(type_):
    """Cloud Control replaces a resource when a create-only property changes: those are the
    identity, except tags the kit ignores, plus the append-only lists (whose removals SageMaker
    refuses)."""
    from mlkit.strict_inputs import _cfn_schema, _wire_name

    schema = _cfn_schema(type_, "eu-west-1")
    create_only = {
        ".".join(_wire_name(step) for step in path.removeprefix("/properties/").split("/"))
        for path in schema["createOnlyProperties"]
    }
    append_only = {path for t, path in APPEND_ONLY if t == type_}
    assert set(IDENTITY_PROPERTIES[type_]) == (create_only - {"tags"}) | append_only


def test_the_kits_feature_groups_ignore_their_create_only_tags(plan_of):
    """Tags are create-only on aws-native feature groups: the kit's groups ignore changes to
    them, so a changed tag neither replaces the group nor counts as a replacement."""
    groups = plan_of(STACK).recording.of_type("aws-native:sagemaker:FeatureGroup")
    assert len(groups) == 3 and all(g.ignore_changes == ("tags",) for g in groups)
