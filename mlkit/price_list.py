"""Refresh the price table from the AWS Price List API (boto3 `pricing`; needs credentials).

Only entries with a known query are refreshed: today the SageMaker instance-hour prices,
which dominate what an ML platform costs idle. A refreshed entry records the date and
source of its figures; the rest of the table keeps its hand-compiled prices.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

# The Price List API is served from us-east-1 (and ap-south-1), whatever region is priced.
PRICING_API_REGION = "us-east-1"
SAGEMAKER_USES = {"hosting": "Hosting", "training": "Training", "processing": "Processing"}
SAGEMAKER_KEY = re.compile(r"sagemaker-(hosting|training|processing)-(ml\.[a-z0-9.]+)-hour")


def query_for(key: str, region: str) -> dict[str, Any] | None:
    """The `get_products` arguments that price `key` in `region`, if the kit knows them."""
    match = SAGEMAKER_KEY.fullmatch(key)
    if match is None:
        return None
    use, instance = match.groups()
    filters = {
        "productFamily": "ML Instance",
        "regionCode": region,
        "instanceName": instance,
        "platoinstancetype": SAGEMAKER_USES[use],
    }
    return {
        "ServiceCode": "AmazonSageMaker",
        "FormatVersion": "aws_v1",
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        "MaxResults": 100,
    }


def on_demand_usd(price_list: list[str]) -> float:
    """The single on-demand USD price in a `PriceList` (items are JSON text). Raises
    ValueError when there is none or several different ones (the query is ambiguous)."""
    prices = set()
    for item in price_list:
        terms = json.loads(item).get("terms", {}).get("OnDemand", {})
        for term in terms.values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = float(dimension.get("pricePerUnit", {}).get("USD", "nan"))
                if usd > 0:
                    prices.add(usd)
    if len(prices) != 1:
        raise ValueError(f"expected one on-demand price, found {sorted(prices) or 'none'}")
    return prices.pop()


def refresh(client: Any, table: Mapping[str, Any], today: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of the price table (as loaded from prices.yaml) with every queryable entry
    priced by the API, and one line per change."""
    refreshed = copy.deepcopy(dict(table))
    changes: list[str] = []
    for key, entry in refreshed["prices"].items():
        for region, old in sorted(entry["usd"].items()):
            query = query_for(key, region)
            if query is None:
                continue
            response = client.get_products(**query)
            try:
                new = on_demand_usd(response.get("PriceList", []))
            except ValueError as error:
                changes.append(f"{key} {region}: not refreshed ({error})")
                continue
            entry["usd"][region] = new
            entry["verifiedAsOf"] = today
            entry["verifiedBy"] = "AWS Price List API"
            if new != old:
                changes.append(f"{key} {region}: {old} -> {new}")
    return refreshed, changes
