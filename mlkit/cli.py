"""`mlkit`: list blueprints and stacks, plan a stack offline, check a deployment
against the policy pack, generate docs.

Exit codes: 0 ok, 1 mandatory policy violations (or stale docs), 2 invalid config or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from mlkit import stackfile
from mlkit.blueprint import blueprint_keys, load_blueprint

EXIT_OK, EXIT_VIOLATIONS, EXIT_INVALID = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlkit", description="mlkit: ML platform blueprints on AWS."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", help="blueprints, their components, and the shipped stacks")
    plan = verbs.add_parser(
        "plan", help="offline preview of a stack: resources, outputs (no cloud, no Pulumi CLI)"
    )
    plan.add_argument(
        "stacks", metavar="STACK|FILE", nargs="*", help="stack names or paths to stack files"
    )
    plan.add_argument("--all", action="store_true", help="plan every shipped stack")
    plan.add_argument(
        "--json", action="store_true", help="print the plan as JSON (a list for several stacks)"
    )
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
    promote = verbs.add_parser(
        "promote",
        help="serve VERSION of the stack's model package group: checks with AWS that it is "
        "Approved, then writes mlkit:serving.modelVersion into the stack file",
    )
    promote.add_argument("stack", metavar="STACK|FILE", help="stack name or path to a stack file")
    promote.add_argument("version", type=int, help="model package version (1, 2, ...)")
    docs = verbs.add_parser("docs", help="regenerate the generated docs")
    docs.add_argument("--check", action="store_true", help="fail (exit 1) if any are stale")
    return parser


def _stack_summary(name: str) -> str:
    path = stackfile.resolve(name)
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    except (OSError, yaml.YAMLError, AttributeError):
        return f"  {name:<20} (unreadable: run `plan {name}` for details)"
    blueprint, environment = config.get("mlkit:blueprint"), config.get("mlkit:environment")
    return f"  {name:<20} {blueprint} / {environment} / {config.get('aws:region')}"


def list_command() -> int:
    from mlkit.docs import component_registries

    registries = component_registries()
    print("Blueprints (component [backends]: what it provisions):")
    for key in blueprint_keys():
        blueprint = load_blueprint(key)
        print(f"  {key}: {blueprint.summary}")
        for component, what in blueprint.components.items():
            roles = registries[component]
            choices = [
                "|".join(r.names()) if len(roles) == 1 else f"{r.role}: {'|'.join(r.names())}"
                for r in roles
            ]
            label = f"{component} [{', '.join(choices) or 'aws'}]"
            print(f"    {label:<26} {what}")
    print("\nStacks (blueprint / environment / region):")
    for name in stackfile.shipped_stacks():
        print(_stack_summary(name))
    return EXIT_OK


def plan_command(stacks: Sequence[str], as_json: bool, out: Path | None, accept: bool) -> int:
    """Plan each stack in one process (the SDK imports are paid once). A stack with bad input
    is reported and skipped; the exit code is the worst of all stacks."""
    from pulumi import RunError

    from mlkit.plan import plan_stack, render_text

    exit_code, documents = EXIT_OK, []
    for index, stack in enumerate(stacks):
        if len(stacks) > 1 and not as_json:
            print(f"{'' if index == 0 else chr(10)}== plan {stack}", flush=True)
        try:
            plan = plan_stack(stack)
        except RunError as error:  # ConfigError and program-reported config problems
            print(str(error), file=sys.stderr)
            exit_code = max(exit_code, EXIT_INVALID)
            continue
        document = plan.as_json()
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if out is not None:
            stackfile.write_atomically(out / f"{plan.stack.name}.json", text)
        documents.append(document)
        if not as_json:
            print(render_text(plan), flush=True)
        if plan.blocking_replacements() and not accept:
            print(
                f"{plan.stack.source}: this change replaces stateful resources of a prod stack "
                "(see changeSafety); rerun with --accept-replacements to acknowledge",
                file=sys.stderr,
            )
            exit_code = max(exit_code, EXIT_VIOLATIONS)
        elif plan.policies.mandatory or plan.strict_inputs:
            exit_code = max(exit_code, EXIT_VIOLATIONS)
        for finding in plan.strict_inputs:
            print(
                f"{plan.stack.source}: strict inputs: {finding.urn}: {finding.path}: "
                f"{finding.message}",
                file=sys.stderr,
            )
    if as_json:
        body = documents[0] if len(stacks) == 1 and documents else documents
        if documents or len(stacks) > 1:
            print(json.dumps(body, indent=2, sort_keys=True))
    return exit_code


def record_command(stack: str) -> int:
    from mlkit.change_safety import write_record
    from mlkit.plan import plan_stack
    from mlkit.settings import ConfigError

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
    from mlkit.settings import ConfigError
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

    from mlkit.cost import PRICES_FILE, load_prices, write_prices
    from mlkit.settings import ConfigError

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

    from mlkit.price_list import PRICING_API_REGION
    from mlkit.price_list import refresh as refresh_table

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


def promote_command(stack: str, version: int) -> int:
    import boto3

    from mlkit.plan import plan_stack
    from mlkit.promote import GROUP_OUTPUT, check_approved, write_model_version
    from mlkit.settings import ConfigError

    if version < 1:
        raise ConfigError(stack, [("version", "model package versions start at 1")])
    plan = plan_stack(stack)  # validates the stack file; its outputs name the group
    group = plan.recording.outputs.get(GROUP_OUTPUT)
    if not isinstance(group, str):
        raise ConfigError(
            plan.stack.source,
            [("mlkit:blueprint", f"blueprint {plan.settings.blueprint} serves no model")],
        )
    arn = check_approved(boto3.Session(), plan.settings.region, group, version)
    previous = write_model_version(plan.stack, version)
    print(
        f"{plan.stack.source}: mlkit:serving.modelVersion {previous or 'unset'} -> {version} "
        f"({arn}): review, commit and deploy"
    )
    return EXIT_OK


def docs_command(check: bool) -> int:
    from mlkit.docs import stale_docs, write_docs

    if not check:
        for path in write_docs():
            print(f"wrote {path}")
        return EXIT_OK
    stale = stale_docs()
    for path in stale:
        print(f"{path} is stale: run `mlkit docs`", file=sys.stderr)
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
        if args.verb == "promote":
            return promote_command(args.stack, args.version)
        if args.verb == "record":
            return record_command(args.stack)
        if args.all == bool(args.stacks):
            _parser().error("plan needs STACK|FILE arguments or --all, not both")
        stacks = stackfile.shipped_stacks() if args.all else args.stacks
        return plan_command(stacks, args.json, args.out, args.accept_replacements)
    except RunError as error:  # ConfigError and program-reported config problems
        print(str(error), file=sys.stderr)
        return EXIT_INVALID


def run() -> None:
    """The `mlkit` console script."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into e.g. `head`: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
