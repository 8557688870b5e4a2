"""Edges of the engine that whole-stack tests pass over: the create-time table's own checks,
zero-minute resources in the schedule, the cost estimate's JSON and per-component totals, the
basis each pricing rule states, settings messages with a colon in them, and the identity
record's layout. Each case was a mutant that survived benchmarks/mutation.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlkit.change_safety import render_record, replacements
from mlkit.cost import estimate_cost
from mlkit.deploy_time import estimate_deploy_time, load_create_times
from mlkit.recording import RecordedResource
from mlkit.settings import ConfigError, LoadSettings, settings_from_config

LOAD = LoadSettings(requests_per_second=1, events_per_second=1)
COMPONENT = lambda r: "c"  # noqa: E731


def resource(type_: str, logical: str, depends_on=(), **inputs) -> RecordedResource:
    urn = f"urn:pulumi:s::mlkit::{type_}::{logical}"
    return RecordedResource(
        urn, type_, logical, None, True, False, False, tuple(depends_on), inputs
    )


# --- deploy time ----------------------------------------------------------------------------

GOOD_ENTRY = {"minutes": 1, "source": "https://example.com", "basis": "measured"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"default_minutes": -1}, "default_minutes must be a number >= 0"),
        ({"default_minutes": 1, "t": GOOD_ENTRY | {"minutes": True}}, "t.minutes must be"),
        ({"default_minutes": 1, "t": GOOD_ENTRY | {"minutes": -0.5}}, "t.minutes must be"),
        ({"default_minutes": 1, "t": GOOD_ENTRY | {"minutes": "2"}}, "t.minutes must be"),
    ],
)
def test_the_create_time_table_refuses_bad_minutes(tmp_path: Path, table, message) -> None:
    path = tmp_path / "times.yaml"
    path.write_text(yaml.safe_dump(table))
    with pytest.raises(ValueError, match=message):
        load_create_times(path)


def test_zero_minutes_are_allowed_in_the_table(tmp_path: Path) -> None:
    path = tmp_path / "times.yaml"
    path.write_text(yaml.safe_dump({"default_minutes": 0, "t": GOOD_ENTRY | {"minutes": 0}}))
    assert load_create_times(path)["default_minutes"] == 0


def test_instant_resources_add_nothing_to_the_critical_path() -> None:
    # a (0 min) -> b (3 min) -> c (0 min) -> d (2 min): the path is 3 + 2 = 5 minutes.
    a = resource("t:zero", "a")
    b = resource("t:three", "b", [a.urn])
    c = resource("t:zero", "c", [b.urn])
    d = resource("t:two", "d", [c.urn])
    times = {"default_minutes": 9, "t:zero": 0, "t:three": 3, "t:two": 2}
    estimate = estimate_deploy_time([a, b, c, d], times)
    assert estimate.critical_path_minutes == 5
    assert estimate.scheduled_minutes == 5


def test_a_one_minute_root_takes_its_minute() -> None:
    a = resource("t:one", "a")
    b = resource("t:two", "b", [a.urn])
    estimate = estimate_deploy_time([a, b], {"default_minutes": 9, "t:one": 1, "t:two": 2})
    assert (estimate.critical_path_minutes, estimate.scheduled_minutes) == (3, 3)
    # One operation at a time: two independent one-minute roots take two minutes in all.
    c = resource("t:one", "c")
    serial = estimate_deploy_time([a, c], {"default_minutes": 9, "t:one": 1}, parallelism=1)
    assert (serial.critical_path_minutes, serial.scheduled_minutes) == (1, 2)


def test_duplicate_urns_are_refused() -> None:
    a = resource("t:zero", "a")
    with pytest.raises(ValueError, match=r"^duplicate URNs in the recording$"):
        estimate_deploy_time([a, a], {"default_minutes": 1})


# --- cost -----------------------------------------------------------------------------------


def test_the_cost_json_names_its_parts_and_totals_by_component() -> None:
    key = resource("aws:kms/key:Key", "key")
    topic = resource("aws:sns/topic:Topic", "topic")
    api = resource("aws:apigatewayv2/api:Api", "api")  # usage only: requests at load
    estimate = estimate_cost(
        [key, topic, api], region="eu-west-1", load=LOAD, component_of=COMPONENT
    )
    document = estimate.as_json()
    assert list(document) == [
        "currency",
        "region",
        "fixedMonthlyUsd",
        "atLoadMonthlyUsd",
        "load",
        "byComponent",
        "resources",
        "unpriced",
        "prices",
    ]
    assert document["currency"] == "USD"
    assert document["load"]["requestsPerSecond"] == 1  # the stack file's (camelCase) names
    # The topic costs nothing; the key is fixed, the API usage.
    assert [r["name"] for r in document["resources"]] == ["key", "api"]
    (component,) = document["byComponent"].values()
    assert component["atLoadMonthlyUsd"] == round(
        sum(r["fixedMonthlyUsd"] + r["usageMonthlyUsd"] for r in document["resources"]), 2
    )
    assert component["atLoadMonthlyUsd"] >= component["fixedMonthlyUsd"] > 0


def basis(*resources: RecordedResource, load: LoadSettings = LOAD) -> dict[str, str]:
    document = estimate_cost(
        list(resources), region="eu-west-1", load=load, component_of=COMPONENT
    ).as_json()
    return {r["name"]: r["basis"] for r in document["resources"]}


def test_each_rule_states_its_basis() -> None:
    config = resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "config",
        productionVariants=[{"initialInstanceCount": 2, "instanceType": "ml.c5.large"}],
        shadowProductionVariants=[{"instanceType": "ml.m5.large"}],
    )
    assert basis(config)["config"] == "2 x ml.c5.large, 1 x ml.m5.large"
    assert basis(resource("aws:kms/key:Key", "key"))["key"] == "1 key-month"
    group = resource(
        "aws-native:sagemaker:FeatureGroup",
        "g",
        featureGroupName="cards",
        onlineStoreConfig={"enableOnlineStore": True},
    )
    aggregator = resource(
        "aws:lambda/function:Function",
        "agg",
        environment={"variables": {"CARD_FEATURE_GROUP": "cards"}},
    )
    # 1 event/s and 1 request/s over a 730-hour month: 2,628,000 of each; a group no
    # aggregator writes is only read.
    assert basis(group, aggregator)["g"] == "2.6 M writes, 2.6 M reads (online)"
    assert basis(group)["g"] == "0.0 M writes, 2.6 M reads (online)"


def test_the_state_table_states_the_writes_and_reads_it_prices() -> None:
    # 1 event/s over a 730-hour month: 2,628,000 events, 6 write units and 2 reads each.
    table = resource("aws:dynamodb/table:Table", "state")
    assert basis(table)["state"] == "15.8 M writes, 5.3 M reads (on demand)"


def test_a_serverless_variant_without_memory_is_priced_at_one_gb() -> None:
    def usage(memory: dict) -> float:
        config = resource(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "config",
            productionVariants=[{"serverlessConfig": {"maxConcurrency": 1} | memory}],
        )
        (priced,) = estimate_cost(
            [config], region="eu-west-1", load=LOAD, component_of=COMPONENT
        ).as_json()["resources"]
        return priced["usageMonthlyUsd"]

    assert usage({}) == usage({"memorySizeInMb": 1024}) > 0
    assert usage({"memorySizeInMb": 2048}) == pytest.approx(2 * usage({}), abs=0.01)


def test_a_stream_without_a_mode_is_provisioned() -> None:
    stream = resource("aws:kinesis/stream:Stream", "s", shardCount=2)
    explicit = resource(
        "aws:kinesis/stream:Stream",
        "e",
        shardCount=2,
        streamModeDetails={"streamMode": "PROVISIONED"},
    )
    assert (
        basis(stream)["s"] == basis(explicit)["e"].replace("e", "e")
        and "2 shards" in (basis(stream)["s"])
    )


# --- settings -------------------------------------------------------------------------------


def test_a_missing_environment_is_required_and_an_unknown_one_lists_the_choices() -> None:
    base = {"aws:region": "eu-west-1", "mlkit:blueprint": "platform-base"}
    with pytest.raises(ConfigError) as missing:
        settings_from_config(base, set(), "Pulumi.x.yaml")
    assert missing.value.problems == [("mlkit:environment", "required")]
    with pytest.raises(ConfigError) as unknown:
        settings_from_config(base | {"mlkit:environment": "qa"}, set(), "Pulumi.x.yaml")
    assert unknown.value.problems == [
        ("mlkit:environment", "'qa' is not one of 'dev', 'staging', 'prod'")
    ]


# --- change safety --------------------------------------------------------------------------


def test_the_identity_record_is_indented_json() -> None:
    queue = resource("aws:sqs/queue:Queue", "q", name="q")
    text = render_record([queue])
    assert text.startswith('{\n  "formatVersion": 1,\n  "resources": {\n    "urn:')
    assert text.endswith("}\n")


def test_a_type_no_longer_stateful_does_not_stop_the_comparison() -> None:
    queue = resource("aws:sqs/queue:Queue", "q", name="q")
    record = json.loads(render_record([queue]))
    # An older record listing a type the kit no longer counts, sorted before the queue.
    record["resources"] = {
        "urn:pulumi:s::mlkit::aaa:retired/type:Type::x": {"type": "aaa:retired/type:Type"},
        **record["resources"],
    }
    renamed = resource("aws:sqs/queue:Queue", "q", name="q2")
    assert [(r.property, r.new) for r in replacements(record, [renamed])] == [("name", "q2")]
