"""Refreshing prices from the AWS Price List API: queries, parsing, and the table update,
with botocore's Stubber standing in for the API (responses in its aws_v1 format)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mlkit.cli import EXIT_INVALID, main
from mlkit.price_list import on_demand_usd, query_for, refresh

FIXTURE = Path(__file__).parent / "fixtures" / "price-list-sagemaker-hosting.json"
HOSTING = "sagemaker-hosting-ml.c5.xlarge-hour"


def test_sagemaker_instance_hours_are_queryable_and_others_are_not() -> None:
    assert query_for(HOSTING, "eu-west-1") == {
        "ServiceCode": "AmazonSageMaker",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.c5.xlarge"},
            {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": "Hosting"},
        ],
        "MaxResults": 100,
    }
    assert query_for("sagemaker-training-ml.m5.xlarge-hour", "us-east-1")["Filters"][3] == {
        "Type": "TERM_MATCH",
        "Field": "platoinstancetype",
        "Value": "Training",
    }
    assert query_for("kms-key-month", "eu-west-1") is None


def test_on_demand_price_is_read_from_the_price_list() -> None:
    price_list = json.loads(FIXTURE.read_text())["PriceList"]
    assert on_demand_usd(price_list) == 0.235
    other = json.loads(price_list[0])
    dimension = next(
        iter(next(iter(other["terms"]["OnDemand"].values()))["priceDimensions"].values())
    )
    dimension["pricePerUnit"]["USD"] = "0.2500000000"
    with pytest.raises(ValueError, match=r"expected one on-demand price, found \[0.235, 0.25\]"):
        on_demand_usd([price_list[0], json.dumps(other)])
    with pytest.raises(ValueError, match="expected one on-demand price, found none"):
        on_demand_usd([])


def test_refresh_updates_queryable_entries_and_records_when() -> None:
    table = {
        "asOf": "2026-11-25",
        "verified": False,
        "hoursPerMonth": 730,
        "prices": {
            HOSTING: {"unit": "instance-hour", "usd": {"eu-west-1": 0.23}, "source": "page"},
            "kms-key-month": {"unit": "key-month", "usd": {"eu-west-1": 1.0}, "source": "page"},
        },
    }
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "get_products", json.loads(FIXTURE.read_text()), query_for(HOSTING, "eu-west-1")
        )
        refreshed, changes = refresh(client, table, "2026-12-01")
        stub.assert_no_pending_responses()
    assert changes == [f"{HOSTING} eu-west-1: 0.23 -> 0.235"]
    assert refreshed["prices"][HOSTING] == {
        "unit": "instance-hour",
        "usd": {"eu-west-1": 0.235},
        "source": "page",
        "verifiedAsOf": "2026-12-01",
        "verifiedBy": "AWS Price List API",
    }
    assert refreshed["prices"]["kms-key-month"] == table["prices"]["kms-key-month"]
    assert table["prices"][HOSTING]["usd"] == {"eu-west-1": 0.23}  # the input is not changed


def test_refresh_without_credentials_is_a_clear_error(monkeypatch, capsys) -> None:
    from botocore.exceptions import NoCredentialsError

    import mlkit.price_list

    def no_credentials(client, table, today):  # what boto3 raises before any request
        raise NoCredentialsError()

    monkeypatch.setattr(mlkit.price_list, "refresh", no_credentials)
    assert main(["prices", "--refresh"]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == (
        "AWS Price List API: credentials: Unable to locate credentials"
    )


def test_written_table_loads_back_unchanged(tmp_path) -> None:
    import yaml

    from mlkit.cost import PRICES_FILE, load_prices, write_prices

    raw = yaml.safe_load(PRICES_FILE.read_text())
    copy = tmp_path / "prices.yaml"
    write_prices(raw, copy)
    assert load_prices(copy).entries == load_prices().entries
    assert copy.read_text().startswith("# USD on-demand list prices")
