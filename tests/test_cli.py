"""The command line: plan JSON shape, text tree, --out, list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprints.cli import EXIT_INVALID, EXIT_OK, EXIT_VIOLATIONS, main
from blueprints.settings import SECRET_PLACEHOLDER
from policies import controls

GOOD = Path(__file__).parent / "good_stacks"
RESOURCE_KEYS = {
    "urn",
    "type",
    "name",
    "parent",
    "custom",
    "protect",
    "retainOnDelete",
    "dependsOn",
    "inputs",
}


def plan_json(capsys, *args: str) -> dict:
    assert main(["plan", *args, "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_plan_json_shape(capsys) -> None:
    plan = plan_json(capsys, "base-dev")
    assert set(plan) == {
        "formatVersion",
        "stack",
        "project",
        "blueprint",
        "environment",
        "region",
        "resources",
        "outputs",
        "policies",
        "cost",
        "deployTime",
        "changeSafety",
    }
    assert (plan["stack"], plan["project"], plan["blueprint"], plan["environment"]) == (
        "base-dev",
        "mlkit",
        "platform-base",
        "dev",
    )
    assert plan["policies"] == {"checked": len(controls()), "environment": "dev", "violations": []}
    assert all(set(resource) == RESOURCE_KEYS for resource in plan["resources"])
    urns = [resource["urn"] for resource in plan["resources"]]
    assert urns == sorted(urns)
    for resource in plan["resources"]:
        assert resource["parent"] is None or resource["parent"] in urns
        assert set(resource["dependsOn"]) <= set(urns)
    assert set(plan["outputs"]) == {
        "alertTopicArn",
        "artifactsBucket",
        "kmsKeyArn",
        "privateSubnetIds",
        "vpcId",
        "workloadSecurityGroupId",
    }


def test_plan_out_writes_the_same_json(capsys, tmp_path: Path) -> None:
    printed = plan_json(capsys, "base-staging", "--out", str(tmp_path))
    assert json.loads((tmp_path / "base-staging.json").read_text()) == printed
    assert [p.name for p in tmp_path.iterdir()] == ["base-staging.json"]


def test_plan_of_a_file_masks_secure_values(capsys) -> None:
    text = json.dumps(plan_json(capsys, str(GOOD / "Pulumi.secure-endpoint.yaml")))
    assert "c2VjcmV0LWNpcGhlcnRleHQ" not in text
    assert f'"endpoint": "{SECRET_PLACEHOLDER}"' in text


def test_plan_text_is_a_tree_with_counts(capsys) -> None:
    assert main(["plan", "base-prod"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "Stack base-prod (stacks/Pulumi.base-prod.yaml): blueprint platform-base, "
        "environment prod, region eu-west-1"
    )
    key_line = next(line for line in lines if line.startswith("└─ base-prod-kms-key"))
    assert key_line.endswith("aws:kms/key:Key  [protect, retain]")
    assert "35 cloud resources: network 23, observability 3, security 9" in "\n".join(lines)


def test_list_names_blueprints_components_and_stacks(capsys) -> None:
    assert main(["list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "platform-base:" in out
    for component in ("network", "security", "observability"):
        assert f"    {component} " in out
    assert "base-prod            platform-base / prod / eu-west-1" in out


def test_a_prod_change_that_replaces_data_fails_until_acknowledged(tmp_path: Path, capsys) -> None:
    import yaml

    from blueprints.settings import blueprint_defaults

    stack = yaml.safe_load(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    store = blueprint_defaults("realtime-fraud")["featureStore"]
    groups = [dict(group) for group in store["featureGroups"]]
    groups[2]["description"] = "Customer attributes, now from the new CRM."
    stack["config"]["mlkit:featureStore"] = {"featureGroups": groups}
    path = tmp_path / "Pulumi.fraud-prod.yaml"  # same stack name: compared with its record
    path.write_text(yaml.safe_dump(stack, sort_keys=False))  # feature order is identity

    assert main(["plan", str(path), "--json"]) == EXIT_VIOLATIONS
    captured = capsys.readouterr()
    assert json.loads(captured.out)["changeSafety"] == {
        "recorded": True,
        "replacements": [
            {
                "urn": "urn:pulumi:fraud-prod::mlkit::mlkit:feature_store:FeatureStore$"
                "aws:sagemaker/featureGroup:FeatureGroup::fraud-prod-features-customer-profile",
                "type": "aws:sagemaker/featureGroup:FeatureGroup",
                "property": "description",
                "old": "Slow-moving customer attributes, loaded daily by the CRM export.",
                "new": "Customer attributes, now from the new CRM.",
            }
        ],
    }
    assert "rerun with --accept-replacements to acknowledge" in captured.err
    assert main(["plan", str(path), "--json", "--accept-replacements"]) == EXIT_OK


def test_shipped_stacks_match_their_identity_records(plan_of, shipped_stack) -> None:
    safety = plan_of(shipped_stack).change_safety
    assert safety.record_exists and safety.replacements == []


def test_record_rewrites_the_committed_record_unchanged(capsys) -> None:
    path = Path("stacks/identity/base-dev.json")
    before = path.read_text()
    assert main(["record", "base-dev"]) == EXIT_OK
    assert capsys.readouterr().out == "wrote stacks/identity/base-dev.json\n"
    assert path.read_text() == before


def test_record_refuses_stack_files_outside_stacks(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "Pulumi.fraud-prod.yaml"  # would overwrite the shipped record
    copy.write_text(Path("stacks/Pulumi.fraud-prod.yaml").read_text())
    assert main(["record", str(copy)]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == (
        f"{copy}: file: record writes only for stacks in stacks/"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "dir.yaml").mkdir() or d / "dir.yaml", "is a directory, not a stack file"),
        (
            lambda d: (d / ".hidden.yaml").write_text("config: {}") and d / ".hidden.yaml",
            "'.hidden' is not a stack name: name the file Pulumi.<stack>.yaml",
        ),
        (lambda d: d / "missing", "no such stack file (shipped stacks: "),
    ],
)
def test_bad_stack_paths_are_named(tmp_path: Path, capsys, make, message) -> None:
    path = make(tmp_path)
    assert main(["plan", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}: file: {message}")


def test_prices_write_needs_refresh(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["prices", "--write"])
    assert exited.value.code == EXIT_INVALID
    assert "prices --write needs --refresh" in capsys.readouterr().err
