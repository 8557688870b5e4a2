"""Cost arithmetic per resource type against hand-computed cases; unknown types reported."""

from __future__ import annotations

import pytest

from mlkit.cost import estimate_cost, load_prices
from mlkit.recording import RecordedResource
from mlkit.settings import LoadSettings

ONE_PER_SECOND = LoadSettings(
    requests_per_second=1,
    events_per_second=1,
    event_kb=1,
    training_runs_per_month=2,
    training_hours_per_run=1,
    stored_gb=100,
    log_gb_per_month=10,
)


def resource(type_: str, name: str = "r", **inputs) -> RecordedResource:
    return RecordedResource(
        f"urn:pulumi:s::mlkit::{type_}::{name}", type_, name, None, True, False, False, (), inputs
    )


def cost(*resources: RecordedResource, region: str = "eu-west-1", load=ONE_PER_SECOND):
    return estimate_cost(list(resources), region=region, load=load, component_of=lambda r: "c")


def only(estimate) -> tuple[float, float]:
    (item,) = estimate.resources
    return round(item.fixed, 4), round(item.usage, 4)


def test_kms_key_is_a_dollar_a_month() -> None:
    assert only(cost(resource("aws:kms/key:Key"))) == (1.0, 0.0)


def test_interface_endpoint_per_az_hour_and_gateway_free() -> None:
    interface = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint", vpcEndpointType="Interface", subnetIds=["a", "b", "c"]
    )
    assert only(cost(interface)) == (round(3 * 730 * 0.011, 4), 0.0)  # 24.09
    gateway = resource("aws:ec2/vpcEndpoint:VpcEndpoint", vpcEndpointType="Gateway")
    assert only(cost(gateway)) == (0.0, 0.0)
    assert cost(gateway).resources[0].basis == "gateway endpoints are free"
    queue = cost(resource("aws:sqs/queue:Queue")).resources[0]
    assert (queue.fixed, queue.usage, queue.basis) == (
        0.0,
        0.0,
        "dead letters only: requests are negligible",
    )


def test_kinesis_provisioned_and_on_demand() -> None:
    events = 2_628_000  # one per second over 730 hours
    provisioned = resource(
        "aws:kinesis/stream:Stream", shardCount=2, streamModeDetails={"streamMode": "PROVISIONED"}
    )
    assert only(cost(provisioned)) == (24.82, round(events / 1e6 * 0.0165, 4))
    on_demand = resource("aws:kinesis/stream:Stream", streamModeDetails={"streamMode": "ON_DEMAND"})
    assert only(cost(on_demand)) == (33.58, round(events / 1024 / 1024 * (0.092 + 0.046), 4))


def test_scoring_lambda_requests_and_compute() -> None:
    scoring = resource(
        "aws:lambda/function:Function", memorySize=512, tags={"mlkit:code": "functions/scoring"}
    )
    requests = 2_628_000
    expected = requests / 1e6 * 0.20 + requests * 0.1 * 0.5 * 0.0000166667
    assert only(cost(scoring)) == (0.0, round(expected, 4))  # 2.7156
    [item] = cost(scoring).resources
    assert item.basis == "2.63 M invocations x 0.1 s x 0.5 GB"


def test_endpoint_instances_are_fixed_and_serverless_is_usage() -> None:
    instances = resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        productionVariants=[{"instanceType": "ml.c5.xlarge", "initialInstanceCount": 2}],
    )
    assert only(cost(instances)) == (335.8, 0.0)
    serverless = resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        productionVariants=[{"serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}}],
    )
    assert only(cost(serverless)) == (0.0, round(2_628_000 * 0.1 * 2 * 0.0000224, 4))  # 11.7734


def test_autoscaling_prices_only_instances_above_the_minimum() -> None:
    config = resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "config",
        productionVariants=[{"instanceType": "ml.c5.xlarge", "initialInstanceCount": 2}],
    )
    target = resource(
        "aws:appautoscaling/target:Target",
        "target",
        minCapacity=2,
        maxCapacity=6,
        resourceId="endpoint/e/variant/primary",
    )
    policy = resource(
        "aws:appautoscaling/policy:Policy",
        "policy",
        resourceId="endpoint/e/variant/primary",
        targetTrackingScalingPolicyConfiguration={"targetValue": 600},
    )
    busy = LoadSettings(requests_per_second=50)  # 3000/min over 600 per instance: 5 instances
    estimate = cost(config, target, policy, load=busy)
    by_name = {r.name: (round(r.fixed, 2), round(r.usage, 2)) for r in estimate.resources}
    assert by_name == {"config": (335.8, 0.0), "target": (0.0, round(3 * 730 * 0.23, 2))}


def test_athena_is_priced_by_the_data_its_training_queries_scan() -> None:
    def workgroup(cutoff_bytes: float | None) -> RecordedResource:
        configuration = {} if cutoff_bytes is None else {"bytesScannedCutoffPerQuery": cutoff_bytes}
        return resource("aws:athena/workgroup:Workgroup", configuration=configuration)

    # 2 runs a month, each scanning the 100 GB stored (under the 1000 GB cutoff), $5 per TB.
    assert only(cost(workgroup(1e12))) == (0.0, round(2 * 100 / 1024 * 5.0, 4))  # 0.9766
    assert only(cost(workgroup(None))) == (0.0, 0.9766)
    # The workgroup cancels a query past its cutoff: 50 GB at most.
    assert only(cost(workgroup(50e9))) == (0.0, round(2 * 50 / 1024 * 5.0, 4))  # 0.4883
    # Nothing stored still bills Athena's 10 MB minimum per query.
    empty = LoadSettings(training_runs_per_month=1000, stored_gb=0)
    assert only(cost(workgroup(1e12), load=empty)) == (0.0, round(1000 * 10 / 1024**2 * 5.0, 4))
    assert load_prices().entries["athena-scanned-tb"]["source"] == (
        "https://aws.amazon.com/athena/pricing/"
    )


def test_glue_tables_are_free() -> None:
    estimate = cost(resource("aws:glue/catalogTable:CatalogTable"))
    assert (estimate.resources, estimate.unpriced) == ((), ())


def test_free_types_are_not_listed_and_unknown_types_are_reported() -> None:
    estimate = cost(resource("aws:iam/role:Role"), resource("aws:rds/instance:Instance", "db"))
    assert estimate.resources == ()
    assert estimate.unpriced == (
        (
            "urn:pulumi:s::mlkit::aws:rds/instance:Instance::db",
            "aws:rds/instance:Instance",
            "no pricing rule for this type",
        ),
    )


def test_a_region_without_prices_is_reported_not_zero() -> None:
    estimate = cost(resource("aws:kms/key:Key", "k"), region="ap-south-2")
    assert estimate.resources == ()
    assert estimate.unpriced[0][2] == "no price for 'kms-key-month' in ap-south-2"


def test_price_table_states_its_provenance() -> None:
    table = load_prices()
    assert (table.as_of, table.verified, table.hours_per_month) == ("2026-11-25", False, 730.0)
    for key, entry in table.entries.items():
        assert entry["source"].startswith("https://aws.amazon.com/"), key
        assert set(entry["usd"]) == {"us-east-1", "eu-west-1"}, key
        assert all(price > 0 for price in entry["usd"].values()), key


@pytest.mark.parametrize("stack", ["fraud-dev", "fraud-prod", "base-prod"])
def test_shipped_stacks_are_priced_except_what_the_table_lacks(plan_of, stack) -> None:
    estimate = plan_of(stack).cost
    assert estimate.fixed_monthly > 0
    assert {t for _, t, _ in estimate.unpriced} <= {"aws:sagemaker/mlflowApp:MlflowApp"}
    totals = estimate.as_json()
    assert totals["atLoadMonthlyUsd"] >= totals["fixedMonthlyUsd"]
    assert round(sum(c["fixedMonthlyUsd"] for c in totals["byComponent"].values()), 1) == round(
        totals["fixedMonthlyUsd"], 1
    )
