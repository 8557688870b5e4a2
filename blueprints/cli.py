"""`python -m blueprints`: list blueprints and stacks, plan a stack offline, check a deployment
against the policy pack, generate docs.

Exit codes: 0 ok, 1 mandatory policy violations (or stale docs), 2 invalid config or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from blueprints import blueprint_keys, load_blueprint, stackfile

EXIT_OK, EXIT_VIOLATIONS, EXIT_INVALID = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m blueprints", description="mlkit: ML platform blueprints on AWS."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", help="blueprints, their components, and the shipped stacks")
    plan = verbs.add_parser(
        "plan", help="offline preview of a stack: resources, outputs (no cloud, no Pulumi CLI)"
    )
    plan.add_argument("stack", metavar="STACK|FILE", help="stack name or path to a stack file")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--out", metavar="DIR", type=Path, help="also write DIR/<stack>.json")
    plan.add_argument(
        "--accept-replacements",
        action="store_true",
        help="acknowledge that a prod change replaces stateful resources (their data is lost)",
    )
    record = verbs.add_parser(
        "record",
        help="write stacks/identity/<stack>.json, the identity of the stack's stateful "
        "resources that plan compares against (commit it with the change you deploy)",
    )
    record.add_argument("stack", metavar="STACK|FILE", help="stack name or path to a stack file")
    check = verbs.add_parser(
        "check", help="run the policy pack over a `pulumi stack export` or `preview --json` file"
    )
    check.add_argument("file", metavar="FILE", type=Path, help="the exported JSON file")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--environment",
        choices=("dev", "staging", "prod"),
        help="enforcement to apply (default: the resources' mlkit:environment tag, else prod)",
    )
    prices = verbs.add_parser(
        "prices", help="show the price table; --refresh reprices it from the AWS Price List API"
    )
    prices.add_argument(
        "--refresh", action="store_true", help="query the Price List API (needs credentials)"
    )
    prices.add_argument("--write", action="store_true", help="with --refresh: save the table")
    docs = verbs.add_parser("docs", help="regenerate the generated docs")
    docs.add_argument("--check", action="store_true", help="fail (exit 1) if any are stale")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a failed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def _stack_summary(name: str) -> str:
    path = stackfile.resolve(name)
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    except (OSError, yaml.YAMLError, AttributeError):
        return f"  {name:<20} (unreadable: run `plan {name}` for details)"
    blueprint, environment = config.get("mlkit:blueprint"), config.get("mlkit:environment")
    return f"  {name:<20} {blueprint} / {environment} / {config.get('aws:region')}"


def list_command() -> int:
    from blueprints.settings import component_backends

    backends = component_backends()
    print("Blueprints (component [backends]: what it provisions):")
    for key in blueprint_keys():
        blueprint = load_blueprint(key)
        print(f"  {key}: {blueprint.summary}")
        for component, what in blueprint.components.items():
            label = f"{component} [{'|'.join(backends.get(component, ('aws',)))}]"
            print(f"    {label:<26} {what}")
    print("\nStacks (blueprint / environment / region):")
    for name in stackfile.shipped_stacks():
        print(_stack_summary(name))
    return EXIT_OK


def plan_command(stack: str, as_json: bool, out: Path | None, accept: bool = False) -> int:
    from blueprints.plan import plan_stack, render_text

    plan = plan_stack(stack)
    document = json.dumps(plan.as_json(), indent=2, sort_keys=True) + "\n"
    if out is not None:
        _write_atomically(out / f"{plan.stack.name}.json", document)
    print(document if as_json else render_text(plan), end="" if as_json else "\n")
    if plan.blocking_replacements() and not accept:
        print(
            f"{plan.stack.source}: this change replaces stateful resources of a prod stack "
            "(see changeSafety); rerun with --accept-replacements to acknowledge",
            file=sys.stderr,
        )
        return EXIT_VIOLATIONS
    return EXIT_VIOLATIONS if plan.policies.mandatory else EXIT_OK


def record_command(stack: str) -> int:
    from blueprints.change_safety import write_record
    from blueprints.plan import plan_stack
    from blueprints.settings import ConfigError

    path = stackfile.resolve(stack)
    if path.resolve().parent != stackfile.STACKS_DIR:
        # The record is named after the stack: a copy elsewhere would overwrite the record
        # of the shipped stack with the same name.
        raise ConfigError(
            stackfile.display_path(path), [("file", "record writes only for stacks in stacks/")]
        )
    plan = plan_stack(stack)
    path = write_record(plan.stack.name, plan.recording)
    print(f"wrote {stackfile.display_path(path)}")
    return EXIT_OK


def check_command(path: Path, as_json: bool, environment: str | None) -> int:
    from blueprints.settings import ConfigError
    from policies.evaluate import StateFileError, evaluate, infer_environment, load_state_file

    try:
        resources = load_state_file(path)
    except StateFileError as error:
        raise ConfigError(str(path), [("file", str(error))]) from None
    report = evaluate(resources, environment or infer_environment(resources))
    if as_json:
        print(json.dumps(report.as_json() | {"resources": len(resources)}, indent=2))
    else:
        for v in report.violations:
            print(f"{v.policy}\t{v.enforcement}\t{v.urn}\t{v.message}")
        print(
            f"{len(resources)} resources, {report.checked} policies ({report.environment}): "
            f"{len(report.mandatory)} mandatory, "
            f"{len(report.violations) - len(report.mandatory)} advisory violations"
        )
    return EXIT_VIOLATIONS if report.mandatory else EXIT_OK


def prices_command(refresh: bool, write: bool) -> int:
    import datetime

    from blueprints.cost import PRICES_FILE, load_prices, write_prices
    from blueprints.settings import ConfigError

    table = load_prices()
    verified = sum(1 for entry in table.entries.values() if "verifiedAsOf" in entry)
    print(
        f"{stackfile.display_path(PRICES_FILE)}: {len(table.entries)} prices as of "
        f"{table.as_of}, {verified} verified against the AWS Price List API"
    )
    if not refresh:
        return EXIT_OK
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from blueprints.price_list import PRICING_API_REGION
    from blueprints.price_list import refresh as refresh_table

    today = datetime.date.today().isoformat()
    raw = yaml.safe_load(PRICES_FILE.read_text(encoding="utf-8"))
    try:
        client = boto3.client("pricing", region_name=PRICING_API_REGION)
        refreshed, changes = refresh_table(client, raw, today)
    except (BotoCoreError, ClientError) as error:
        raise ConfigError("AWS Price List API", [("credentials", str(error))]) from None
    for line in changes:
        print(f"  {line}")
    if write:
        write_prices(refreshed)
        print(f"wrote {stackfile.display_path(PRICES_FILE)}")
    return EXIT_OK


def docs_command(check: bool) -> int:
    from blueprints.docs import stale_docs, write_docs

    if not check:
        for path in write_docs():
            print(f"wrote {path}")
        return EXIT_OK
    stale = stale_docs()
    for path in stale:
        print(f"{path} is stale: run `python -m blueprints docs`", file=sys.stderr)
    return EXIT_VIOLATIONS if stale else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from pulumi import RunError

    args = _parser().parse_args(argv)
    try:
        if args.verb == "list":
            return list_command()
        if args.verb == "docs":
            return docs_command(args.check)
        if args.verb == "prices":
            if args.write and not args.refresh:
                _parser().error("prices --write needs --refresh")
            return prices_command(args.refresh, args.write)
        if args.verb == "check":
            return check_command(args.file, args.json, args.environment)
        if args.verb == "record":
            return record_command(args.stack)
        return plan_command(args.stack, args.json, args.out, args.accept_replacements)
    except RunError as error:  # ConfigError and program-reported config problems
        print(str(error), file=sys.stderr)
        return EXIT_INVALID
