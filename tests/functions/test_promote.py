"""`mlkit promote STACK VERSION` against moto's SageMaker on 127.0.0.1: only an Approved
version of the stack's own group is written into the stack file, comments kept; anything else
writes nothing and exits 2 with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from mlkit.cli import EXIT_INVALID, EXIT_OK, main
from mlkit.stackfile import STACKS_DIR

REGION = "eu-west-1"
GROUP = "fraud-dev-fraud-model"


@pytest.fixture
def registry(aws: str) -> str:
    """The fraud-dev group with version 1 pending and version 2 approved; returns the
    account moto answers for."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for status in ("PendingManualApproval", "Approved"):
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "123.dkr.ecr.eu-west-1.amazonaws.com/xgb:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    return boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]


_PLANS: dict[str, object] = {}


@pytest.fixture(autouse=True)
def plans_by_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans are deterministic: a stack file's text plans once per session, and the plan is
    handed out for the file asked for (promote writes to `plan.stack.path`)."""
    import dataclasses

    import mlkit.plan
    from mlkit import stackfile

    real = mlkit.plan.plan_stack

    def plan(stack: str) -> object:
        path = stackfile.resolve(stack)
        key = f"{path.name}\n{path.read_text()}"
        if key not in _PLANS:
            _PLANS[key] = real(stack)
        return dataclasses.replace(_PLANS[key], stack=stackfile.load(stack))

    monkeypatch.setattr(mlkit.plan, "plan_stack", plan)


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    """fraud-dev as on a fresh account: no model version yet."""
    path = tmp_path / "Pulumi.fraud-dev.yaml"
    lines = (STACKS_DIR / "Pulumi.fraud-dev.yaml").read_text().splitlines(keepends=True)
    dropped = ("modelVersion:", "mlkit:serving:")  # fraud-dev's serving block holds only it
    path.write_text("".join(line for line in lines if not line.strip().startswith(dropped)))
    return path


def test_an_approved_version_is_written_keeping_the_file_as_it_was(
    registry: str, stack_file: Path, capsys
) -> None:
    before = stack_file.read_text().splitlines()
    assert main(["promote", str(stack_file), "2"]) == EXIT_OK
    after = stack_file.read_text().splitlines()
    added = [line for line in after if line not in before]
    assert added == ["  mlkit:serving:", "    modelVersion: 2"]
    assert [line for line in before if line not in after] == []  # comments and keys kept
    arn = f"arn:aws:sagemaker:{REGION}:{registry}:model-package/{GROUP}/2"
    assert f"mlkit:serving.modelVersion unset -> 2 ({arn})" in capsys.readouterr().out
    assert main(["plan", str(stack_file), "--json"]) == EXIT_OK  # the stack now serves it
    plan = json.loads(capsys.readouterr().out)
    model = next(r for r in plan["resources"] if r["name"] == "fraud-dev-serving-primary-model")
    mock_arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/2"
    assert model["inputs"]["primaryContainer"] == {"modelPackageName": mock_arn}


def test_promoting_again_replaces_the_version(registry: str, stack_file: Path, capsys) -> None:
    assert main(["promote", str(stack_file), "2"]) == EXIT_OK
    assert main(["promote", str(stack_file), "2"]) == EXIT_OK
    assert "mlkit:serving.modelVersion 2 -> 2" in capsys.readouterr().out.splitlines()[-1]
    assert stack_file.read_text().count("modelVersion:") == 1


def test_a_pending_version_is_refused_and_nothing_written(
    registry: str, stack_file: Path, capsys
) -> None:
    before = stack_file.read_text()
    assert main(["promote", str(stack_file), "1"]) == EXIT_INVALID
    assert stack_file.read_text() == before
    message = capsys.readouterr().err
    assert message.startswith(
        f"model package group {GROUP}: version: 1 is PendingManualApproval, not Approved"
    )


def test_a_missing_version_is_refused_and_nothing_written(
    registry: str, stack_file: Path, capsys
) -> None:
    before = stack_file.read_text()
    assert main(["promote", str(stack_file), "7"]) == EXIT_INVALID
    assert stack_file.read_text() == before
    assert f"model package group {GROUP}: version: 7 does not exist in {REGION}" in (
        capsys.readouterr().err
    )


def test_a_stack_without_a_model_is_refused(aws: str, capsys) -> None:
    assert main(["promote", "base-dev", "1"]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == (
        "stacks/Pulumi.base-dev.yaml: mlkit:blueprint: blueprint platform-base serves no model"
    )


def test_the_recommender_is_promoted_the_same_way(aws: str, tmp_path: Path, capsys) -> None:
    # recsys-dev as on a fresh account; version 1 of its own group is Approved.
    group = "recsys-dev-recsys-model"
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123.dkr.ecr.eu-west-1.amazonaws.com/sklearn:1"}],
            "SupportedContentTypes": ["application/jsonlines"],
            "SupportedResponseMIMETypes": ["application/jsonlines"],
        },
    )
    path = tmp_path / "Pulumi.recsys-dev.yaml"
    lines = (STACKS_DIR / "Pulumi.recsys-dev.yaml").read_text().splitlines(keepends=True)
    serving = next(i for i, line in enumerate(lines) if line.strip() == "mlkit:serving:")
    path.write_text("".join(lines[:serving]))  # the serving block is the file's last

    assert main(["promote", str(path), "1"]) == EXIT_OK
    assert path.read_text().splitlines()[-2:] == ["  mlkit:serving:", "    modelVersion: 1"]
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    arn = f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/1"
    assert f"mlkit:serving.modelVersion unset -> 1 ({arn})" in capsys.readouterr().out
