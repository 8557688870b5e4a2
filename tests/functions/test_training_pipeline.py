"""The fraud model's training pipeline: the committed definition (generated with the sagemaker
SDK) is current and says what it should, renders per stack, is accepted by SageMaker (moto),
and the job scripts build, check and evaluate data sets correctly.

The SDK is imported once, by the module-scoped `generated` fixture; everything else reads the
committed JSON or runs the scripts' pure functions on small hand-made frames.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import socket
import sys
import tarfile
import types
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from functions.training import build_pipeline, definition
from functions.training.definition import (
    KMS_KEY_PLACEHOLDER,
    ROLE_PLACEHOLDER,
    SCRIPTS_DIR,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNET_PLACEHOLDER,
    load_images,
    load_template,
    render_definition,
)


def _script(name: str) -> types.ModuleType:
    """A job script, imported by path (they run as plain files in the containers)."""
    spec = importlib.util.spec_from_file_location(
        f"training_script_{name}", SCRIPTS_DIR / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_dataset = _script("build_dataset")
validate_dataset = _script("validate_dataset")
evaluate = _script("evaluate")

TEMPLATE = load_template()
STEPS = {step["Name"]: step for step in TEMPLATE["Steps"]}
CONDITION = STEPS["CheckAuc"]["Arguments"]
REGISTER = CONDITION["IfSteps"][0]
FAIL = CONDITION["ElseSteps"][0]
JOBS = ["BuildDataset", "ValidateDataset", "BaselineDataQuality", "Train", "Evaluate"]


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    """What the generator writes now (imports the SDK, a few seconds, once per module)."""
    return build_pipeline.generate()


# --- the committed files ---------------------------------------------------------------------


def test_committed_files_are_current(generated: dict[Path, str]) -> None:
    # The committed files came from another process: equal text also proves the output has
    # no timestamps, random names or machine-specific values.
    assert set(generated) == {definition.TEMPLATE_PATH, definition.IMAGES_PATH}
    assert build_pipeline.stale_files(generated) == []


def test_generation_leaves_the_process_as_it_was(generated: dict[Path, str]) -> None:
    # The generator fakes AWS settings, blocks sockets and imports an SDK that configures
    # root logging: none of it may leak into the tests that run after it.
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ
    assert os.environ.get("AWS_ACCESS_KEY_ID") != "offline"
    assert socket.socket.connect.__name__ == "connect"
    assert not [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert logging.root.manager.disable == logging.NOTSET


def test_generation_refuses_network_access() -> None:
    with build_pipeline._offline(), pytest.raises(build_pipeline.NetworkAccessError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_stale_files_reports_missing_and_different_files(tmp_path: Path) -> None:
    current, different, missing = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    current.write_text("{}\n")
    different.write_text("{ }\n")
    expected = {current: "{}\n", different: "{}\n", missing: "{}\n"}
    assert build_pipeline.stale_files(expected) == [different, missing]


def test_images_cover_the_regions_with_all_three_images() -> None:
    images = load_images()
    # 37 regions have both pinned versions; the SDK knows the Model Monitor analyzer in 30.
    assert len(images) == 30
    assert "us-gov-west-1" not in images and "ca-west-1" not in images
    registry = "141502667606.dkr.ecr.eu-west-1.amazonaws.com"
    assert images["eu-west-1"] == {
        "processing": f"{registry}/sagemaker-scikit-learn:1.4-2-cpu-py3",
        "training": f"{registry}/sagemaker-xgboost:1.7-1",
        "monitoring": "468650794304.dkr.ecr.eu-west-1.amazonaws.com"
        "/sagemaker-model-monitor-analyzer",
    }
    assert all(set(uris) == {"processing", "training", "monitoring"} for uris in images.values())
    assert all(
        uris["processing"].endswith("/sagemaker-scikit-learn:1.4-2-cpu-py3")
        and uris["training"].endswith("/sagemaker-xgboost:1.7-1")
        and uris["monitoring"].endswith("/sagemaker-model-monitor-analyzer")
        and all(f".{region}." in uri for uri in uris.values())
        for region, uris in images.items()
    )


# --- structure -------------------------------------------------------------------------------


def _step_references(node: Any) -> set[str]:
    """Names of the steps whose properties `node` reads."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key == "Get" and isinstance(value, str) and value.startswith("Steps."):
                found.add(value.split(".")[1])
            else:
                found |= _step_references(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_step_references, node)) if node else set()
    return set()


def test_steps_in_order_with_their_dependencies() -> None:
    assert [(s["Name"], s["Type"]) for s in TEMPLATE["Steps"]] == [
        ("BuildDataset", "Processing"),
        ("ValidateDataset", "Processing"),
        ("BaselineDataQuality", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckAuc", "Condition"),
    ]
    assert [(s["Name"], s["Type"]) for s in CONDITION["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in CONDITION["ElseSteps"]] == [
        ("AucBelowThreshold", "Fail")
    ]
    reads = {name: _step_references(step["Arguments"]) for name, step in STEPS.items()}
    reads["CheckAuc"] = _step_references(CONDITION["Conditions"])  # not its nested steps
    assert reads == {
        "BuildDataset": set(),
        "ValidateDataset": {"BuildDataset"},
        "BaselineDataQuality": {"BuildDataset"},
        "Train": {"BuildDataset"},
        "Evaluate": {"BuildDataset", "Train"},
        "CheckAuc": {"Evaluate"},
    }
    # Register reads the baseline step's output, so it waits for that step to succeed: no
    # model package without its monitoring baseline.
    assert _step_references(REGISTER["Arguments"]) == {"Train", "Evaluate", "BaselineDataQuality"}
    assert _step_references(FAIL["Arguments"]) == {"Evaluate"}
    # Neither training nor the baseline starts on a data set that failed validation; nothing
    # else orders them, so they run in parallel.
    assert {name: s.get("DependsOn") for name, s in STEPS.items() if "DependsOn" in s} == {
        "BaselineDataQuality": ["ValidateDataset"],
        "Train": ["ValidateDataset"],
    }
    assert [name for name in definition.PIPELINE_STEPS if name in STEPS] + [
        "Register",
        "AucBelowThreshold",
    ] == list(definition.PIPELINE_STEPS)


def test_parameters_names_types_and_defaults() -> None:
    assert TEMPLATE["Parameters"] == [
        {"Name": "ArtifactsS3Uri", "Type": "String"},
        {"Name": "CodeS3Uri", "Type": "String"},
        {"Name": "FeatureSchemaS3Uri", "Type": "String"},
        {"Name": "TransactionsS3Uri", "Type": "String"},
        {"Name": "CardAggregatesS3Uri", "Type": "String"},
        {"Name": "CustomerProfileS3Uri", "Type": "String"},
        {"Name": "LabelsS3Uri", "Type": "String"},
        {"Name": "TrainingWindowDays", "Type": "Integer", "DefaultValue": 90},
        {"Name": "ProcessingInstanceType", "Type": "String", "DefaultValue": "ml.m5.large"},
        {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
        {"Name": "ProcessingImageUri", "Type": "String"},
        {"Name": "TrainingImageUri", "Type": "String"},
        {"Name": "MonitoringImageUri", "Type": "String"},
        {"Name": "AucThreshold", "Type": "Float", "DefaultValue": 0.85},
        {"Name": "ModelPackageGroupName", "Type": "String"},
        {"Name": "CodeVersion", "Type": "String"},
        {"Name": "TriggeredBy", "Type": "String", "DefaultValue": "schedule"},
    ]
    assert [(p.name, p.type, p.default) for p in definition.PARAMETERS] == [
        (p["Name"], p["Type"], p.get("DefaultValue")) for p in TEMPLATE["Parameters"]
    ]


def test_condition_compares_the_evaluation_auc_with_the_threshold() -> None:
    auc = {
        "Std:JsonGet": {
            "Path": "metrics.auc.value",
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
        }
    }
    assert CONDITION["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": auc,
            "RightValue": {"Get": "Parameters.AucThreshold"},
        }
    ]
    assert STEPS["Evaluate"]["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]
    outputs = STEPS["Evaluate"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert [(o["OutputName"], o["S3Output"]["LocalPath"]) for o in outputs] == [
        ("evaluation", "/opt/ml/processing/evaluation")
    ]
    assert FAIL["Arguments"]["ErrorMessage"] == {
        "Std:Join": {
            "On": " ",
            "Values": [
                "Validation AUC",
                auc,
                "is below the threshold",
                {"Get": "Parameters.AucThreshold"},
            ],
        }
    }


EVALUATION_URI = "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"


def test_register_creates_a_pending_model_package_with_lineage() -> None:
    args = REGISTER["Arguments"]
    assert args["ModelApprovalStatus"] == "PendingManualApproval"
    assert args["ModelPackageGroupName"] == {"Get": "Parameters.ModelPackageGroupName"}
    spec = args["InferenceSpecification"]
    assert spec["Containers"] == [
        {
            "Environment": {},
            "Image": {"Get": "Parameters.TrainingImageUri"},
            "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        }
    ]
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["text/csv"]
    assert {"ml.m5.large", "ml.c5.xlarge"} <= set(spec["SupportedRealtimeInferenceInstanceTypes"])
    assert args["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": EVALUATION_URI},
                    "evaluation.json",
                ],
            }
        },
    }
    metadata = args["CustomerMetadataProperties"]
    assert metadata["TriggeredBy"] == {"Get": "Parameters.TriggeredBy"}
    assert metadata["CodeVersion"] == {"Get": "Parameters.CodeVersion"}
    assert metadata["PipelineExecutionArn"] == {"Get": "Execution.PipelineExecutionArn"}
    assert metadata["FeatureGroups"] == "transactions,card_aggregates,customer_profile"


BASELINE_URI = (
    "Steps.BaselineDataQuality.ProcessingOutputConfig.Outputs['monitoring_output'].S3Output.S3Uri"
)


def test_register_records_the_data_quality_baseline() -> None:
    assert REGISTER["Arguments"]["DriftCheckBaselines"] == {
        "ModelDataQuality": {
            kind: {
                "ContentType": "application/json",
                "S3Uri": {"Std:Join": {"On": "/", "Values": [{"Get": BASELINE_URI}, file]}},
            }
            for kind, file in (
                ("Statistics", "statistics.json"),
                ("Constraints", "constraints.json"),
            )
        }
    }


def test_baseline_step_runs_the_model_monitor_analyzer_like_the_sdk() -> None:
    args = STEPS["BaselineDataQuality"]["Arguments"]
    # The image's own entrypoint; no code of the kit runs in the analyzer.
    assert args["AppSpecification"] == {"ImageUri": {"Get": "Parameters.MonitoringImageUri"}}
    # The names and values DefaultModelMonitor.suggest_baseline gives the analyzer.
    assert args["Environment"] == {
        "dataset_format": '{"csv": {"header": false}}',
        "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
        "output_path": "/opt/ml/processing/output",
        "publish_cloudwatch_metrics": "Disabled",
    }
    dataset = {"Get": "Steps.BuildDataset.ProcessingOutputConfig.Outputs['dataset'].S3Output.S3Uri"}
    assert args["ProcessingInputs"] == [
        {
            "InputName": "baseline_dataset_input",
            "S3Input": {
                "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                "S3CompressionType": "None",
                "S3DataDistributionType": "FullyReplicated",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3Uri": {"Std:Join": {"On": "/", "Values": [dataset, "baseline"]}},
            },
        }
    ]
    # A fixed prefix, not per execution: the monitoring schedule reads
    # <ArtifactsS3Uri>/monitoring-baseline/statistics.json and constraints.json.
    assert args["ProcessingOutputConfig"]["Outputs"] == [
        {
            "OutputName": "monitoring_output",
            "S3Output": {
                "LocalPath": "/opt/ml/processing/output",
                "S3UploadMode": "EndOfJob",
                "S3Uri": {
                    "Std:Join": {
                        "On": "/",
                        "Values": [{"Get": "Parameters.ArtifactsS3Uri"}, "monitoring-baseline"],
                    }
                },
            },
        }
    ]
    assert definition.MONITORING_BASELINE_DIR == "monitoring-baseline"
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.ProcessingInstanceType"
    }
    assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_training_job_uses_the_built_in_xgboost_on_the_built_data_set() -> None:
    args = STEPS["Train"]["Arguments"]
    assert args["AlgorithmSpecification"] == {
        "TrainingImage": {"Get": "Parameters.TrainingImageUri"},
        "TrainingInputMode": "File",
    }
    assert args["HyperParameters"]["objective"] == "binary:logistic"
    assert args["HyperParameters"]["eval_metric"] == "auc"
    dataset = {"Get": "Steps.BuildDataset.ProcessingOutputConfig.Outputs['dataset'].S3Output.S3Uri"}
    assert [
        (c["ChannelName"], c["ContentType"], c["DataSource"]["S3DataSource"]["S3Uri"])
        for c in args["InputDataConfig"]
    ] == [
        (name, "text/csv", {"Std:Join": {"On": "/", "Values": [dataset, name]}})
        for name in ("train", "validation")
    ]
    assert args["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}


def test_scripts_reach_jobs_from_the_code_prefix() -> None:
    expected = {
        "BuildDataset": "build_dataset.py",
        "ValidateDataset": "validate_dataset.py",
        "Evaluate": "evaluate.py",
    }
    for step, script in expected.items():
        args = STEPS[step]["Arguments"]
        assert args["AppSpecification"]["ContainerEntrypoint"] == [
            "python3",
            f"/opt/ml/processing/input/code/{script}",
        ]
        code = next(i for i in args["ProcessingInputs"] if i["InputName"] == "code")["S3Input"]
        assert code["LocalPath"] == "/opt/ml/processing/input/code"
        assert code["S3Uri"] == {
            "Std:Join": {"On": "/", "Values": [{"Get": "Parameters.CodeS3Uri"}, script]}
        }
        assert (SCRIPTS_DIR / script).is_file()
    build = STEPS["BuildDataset"]["Arguments"]
    assert [(i["InputName"], i["S3Input"]["LocalPath"]) for i in build["ProcessingInputs"]] == [
        ("code", "/opt/ml/processing/input/code"),
        ("schema", "/opt/ml/processing/input/schema"),
        ("transactions", "/opt/ml/processing/input/transactions"),
        ("card_aggregates", "/opt/ml/processing/input/card_aggregates"),
        ("customer_profile", "/opt/ml/processing/input/customer_profile"),
        ("labels", "/opt/ml/processing/input/labels"),
    ]
    assert build["AppSpecification"]["ContainerArguments"] == [
        "--training-window-days",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingWindowDays"}]}},
    ]


@pytest.mark.parametrize("step", JOBS)
def test_every_job_runs_isolated_in_the_vpc_with_kms(step: str) -> None:
    args = STEPS[step]["Arguments"]
    vpc = {"SecurityGroupIds": [SECURITY_GROUP_PLACEHOLDER], "Subnets": [SUBNET_PLACEHOLDER]}
    assert args["RoleArn"] == ROLE_PLACEHOLDER
    if STEPS[step]["Type"] == "Training":
        assert args["VpcConfig"] == vpc
        assert args["EnableNetworkIsolation"] is True
        assert args["EnableInterContainerTrafficEncryption"] is True
        assert args["ResourceConfig"]["VolumeKmsKeyId"] == KMS_KEY_PLACEHOLDER
        assert args["OutputDataConfig"]["KmsKeyId"] == KMS_KEY_PLACEHOLDER
    else:
        assert args["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "VpcConfig": vpc,
        }
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS_KEY_PLACEHOLDER
        if "ProcessingOutputConfig" in args:
            assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS_KEY_PLACEHOLDER


# --- rendering -------------------------------------------------------------------------------

SUBNETS = ["subnet-0a1", "subnet-0b2"]
SECURITY_GROUPS = ["sg-0c3"]
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/fraud-dev-training"


def _render(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "subnet_ids": SUBNETS,
        "security_group_ids": SECURITY_GROUPS,
        "kms_key_arn": KMS_KEY,
        "role_arn": ROLE,
        "parameter_defaults": {
            "ArtifactsS3Uri": "s3://fraud-dev-artifacts/training",
            "TrainingWindowDays": 30,
            "AucThreshold": 0.9,
        },
    }
    return render_definition(TEMPLATE, **(kwargs | overrides))


def test_render_replaces_every_placeholder_and_sets_defaults() -> None:
    before = json.dumps(TEMPLATE, sort_keys=True)
    rendered = _render()
    text = json.dumps(rendered)
    assert "__MLKIT_" not in text
    assert json.dumps(TEMPLATE, sort_keys=True) == before  # the template is not mutated
    steps = {s["Name"]: s["Arguments"] for s in rendered["Steps"]}
    assert steps["Train"]["VpcConfig"] == {"SecurityGroupIds": SECURITY_GROUPS, "Subnets": SUBNETS}
    assert steps["Evaluate"]["NetworkConfig"]["VpcConfig"] == {
        "SecurityGroupIds": SECURITY_GROUPS,
        "Subnets": SUBNETS,
    }
    assert steps["BuildDataset"]["RoleArn"] == ROLE
    assert steps["Train"]["OutputDataConfig"]["KmsKeyId"] == KMS_KEY
    assert text.count(KMS_KEY) == 9 and text.count(ROLE) == 5
    assert steps["BaselineDataQuality"]["NetworkConfig"]["VpcConfig"] == {
        "SecurityGroupIds": SECURITY_GROUPS,
        "Subnets": SUBNETS,
    }
    defaults = {p["Name"]: p.get("DefaultValue") for p in rendered["Parameters"]}
    assert defaults["ArtifactsS3Uri"] == "s3://fraud-dev-artifacts/training"
    assert defaults["TrainingWindowDays"] == 30
    assert defaults["AucThreshold"] == 0.9
    assert defaults["TriggeredBy"] == "schedule"
    assert defaults["CodeS3Uri"] is None


def test_render_converts_whole_float_thresholds() -> None:
    rendered = _render(parameter_defaults={"AucThreshold": 1})
    threshold = next(p for p in rendered["Parameters"] if p["Name"] == "AucThreshold")
    assert threshold["DefaultValue"] == 1.0 and isinstance(threshold["DefaultValue"], float)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"parameter_defaults": {"Bucket": "x"}}, r"unknown pipeline parameters: \['Bucket'\]"),
        ({"parameter_defaults": {"TrainingWindowDays": "90"}}, "TrainingWindowDays is Integer"),
        ({"parameter_defaults": {"TrainingWindowDays": True}}, "TrainingWindowDays is Integer"),
        ({"parameter_defaults": {"AucThreshold": "0.9"}}, "AucThreshold is Float"),
        ({"parameter_defaults": {"CodeVersion": 7}}, "CodeVersion is String"),
        ({"subnet_ids": []}, "must not be empty"),
        ({"kms_key_arn": "__MLKIT_KMS_KEY_ARN__"}, "placeholders left"),
    ],
)
def test_render_rejects(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _render(**overrides)


def test_render_rejects_a_placeholder_it_does_not_know_how_to_replace() -> None:
    template = {"Parameters": [], "Steps": [{"Subnets": [SUBNET_PLACEHOLDER, "subnet-extra"]}]}
    with pytest.raises(ValueError, match=r"placeholders left.*__MLKIT_SUBNET__"):
        render_definition(
            template,
            subnet_ids=SUBNETS,
            security_group_ids=SECURITY_GROUPS,
            kms_key_arn=KMS_KEY,
            role_arn=ROLE,
            parameter_defaults={},
        )


def test_sagemaker_accepts_the_rendered_pipeline(aws: str) -> None:
    rendered = _render()
    client = boto3.client("sagemaker")
    arn = client.create_pipeline(
        PipelineName="fraud-dev-training",
        PipelineDefinition=json.dumps(rendered),
        RoleArn=ROLE,
        Tags=[{"Key": "mlkit:component", "Value": "training"}],
    )["PipelineArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/fraud-dev-training"
    described = client.describe_pipeline(PipelineName="fraud-dev-training")
    assert described["PipelineArn"] == arn
    assert described["RoleArn"] == ROLE
    assert json.loads(described["PipelineDefinition"]) == rendered
    # What a drift-triggered run sends: only the parameters that differ from the defaults.
    execution = client.start_pipeline_execution(
        PipelineName="fraud-dev-training",
        PipelineParameters=[{"Name": "TriggeredBy", "Value": "drift"}],
    )["PipelineExecutionArn"]
    summaries = client.list_pipeline_executions(PipelineName="fraud-dev-training")
    assert [e["PipelineExecutionArn"] for e in summaries["PipelineExecutionSummaries"]] == [
        execution
    ]


# --- BuildDataset: point-in-time join --------------------------------------------------------

T = pd.Timestamp("2024-05-01T12:00:00Z")


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _offline(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Offline-store rows: bookkeeping columns default to one write, not deleted."""
    frame = pd.DataFrame(rows)
    if "write_time" not in frame:
        frame["write_time"] = T + pd.Timedelta(minutes=5)
    frame["write_time"] = pd.to_datetime(frame["write_time"], utc=True)
    frame["api_invocation_time"] = frame["write_time"]
    if "is_deleted" not in frame:
        frame["is_deleted"] = False
    return frame


def _cards(*rows: tuple[str, pd.Timestamp, int, pd.Timestamp | None, bool]) -> pd.DataFrame:
    return _offline(
        [
            {
                "card_id": card,
                "event_time": _iso(at),
                "txn_count_10m": count,
                "write_time": written if written is not None else at + pd.Timedelta(seconds=1),
                "is_deleted": deleted,
            }
            for card, at, count, written, deleted in rows
        ]
    )


def _join(transactions: pd.DataFrame, cards: pd.DataFrame) -> list[Any]:
    joined = build_dataset.point_in_time_join(
        transactions,
        build_dataset.newest_writes(cards, "card_id"),
        key="card_id",
        features=["txn_count_10m"],
    )
    return [None if pd.isna(v) else int(v) for v in joined["txn_count_10m"]]


def _transactions(*rows: tuple[str, str, pd.Timestamp]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"transaction_id": t, "card_id": c, "event_time": at} for t, c, at in rows]
    )
    frame["event_time"] = frame["event_time"].astype("datetime64[ns, UTC]")
    return frame


def test_a_record_at_exactly_the_transaction_time_is_not_used() -> None:
    second = pd.Timedelta(seconds=1)
    cards = _cards(
        ("c1", T - 60 * second, 3, None, False),
        ("c1", T - second, 4, None, False),
        ("c1", T, 5, None, False),  # written for this very transaction: counts it already
        ("c2", T, 9, None, False),
    )
    transactions = _transactions(("t1", "c1", T), ("t2", "c2", T), ("t3", "c1", T + second))
    assert _join(transactions, cards) == [4, None, 5]


def test_rows_keep_their_order_and_index() -> None:
    cards = _cards(("c1", T - pd.Timedelta(hours=1), 1, None, False))
    transactions = _transactions(("late", "c1", T), ("early", "c1", T - pd.Timedelta(hours=2)))
    transactions.index = [10, 20]
    joined = build_dataset.point_in_time_join(
        transactions,
        build_dataset.newest_writes(cards, "card_id"),
        key="card_id",
        features=["txn_count_10m"],
    )
    assert list(joined.index) == [10, 20]
    assert list(joined["transaction_id"]) == ["late", "early"]
    assert [None if pd.isna(v) else v for v in joined["txn_count_10m"]] == [1, None]


def test_repeated_writes_of_a_record_keep_the_newest() -> None:
    at = T - pd.Timedelta(minutes=1)
    cards = _cards(
        ("c1", at, 7, T + pd.Timedelta(minutes=3), False),
        ("c1", at, 8, T + pd.Timedelta(minutes=9), False),  # the replay wins
        ("c1", at, 6, T + pd.Timedelta(minutes=1), False),
    )
    newest = build_dataset.newest_writes(cards, "card_id")
    assert newest.to_dict("records") == [
        {"card_id": "c1", "event_time": at, "txn_count_10m": 8, "is_deleted": False}
    ]
    assert _join(_transactions(("t1", "c1", T)), cards) == [8]


def test_deleted_records_are_not_used() -> None:
    minute = pd.Timedelta(minutes=1)
    cards = _cards(
        ("c1", T - 10 * minute, 2, None, False),
        ("c1", T - 10 * minute, 2, T, True),  # deleted later: as if never written
        ("c2", T - 10 * minute, 5, None, False),
        ("c2", T - 5 * minute, 5, None, True),  # deleted from then on: no value at T
        ("c3", T - 10 * minute, 1, None, False),
        ("c3", T - 5 * minute, 0, None, True),
        ("c3", T - 2 * minute, 3, None, False),  # re-created after the deletion
    )
    transactions = _transactions(("t1", "c1", T), ("t2", "c2", T), ("t3", "c3", T))
    assert _join(transactions, cards) == [None, None, 3]


def test_current_records_keep_the_latest_version_of_each_transaction() -> None:
    frame = _offline(
        [
            {"transaction_id": "t1", "amount": "1.00", "event_time": "2024-05-01T12:00:00Z"},
            {
                "transaction_id": "t1",
                "amount": "1.50",
                "event_time": "2024-05-01T12:00:00Z",
                "write_time": T + pd.Timedelta(hours=1),
            },
            {"transaction_id": "t2", "amount": "2.00", "event_time": "2024-05-01T12:00:00.250Z"},
            {"transaction_id": "t3", "amount": "3.00", "event_time": "2024-05-01T12:00:01Z"},
            {
                "transaction_id": "t3",
                "amount": "3.00",
                "event_time": "2024-05-01T12:00:01Z",
                "write_time": T + pd.Timedelta(hours=1),
                "is_deleted": True,
            },
        ]
    )
    current = build_dataset.current_records(frame, "transaction_id")
    assert list(current.columns) == ["transaction_id", "amount", "event_time"]
    assert current.to_dict("records") == [
        {"transaction_id": "t1", "amount": "1.50", "event_time": T},
        {
            "transaction_id": "t2",
            "amount": "2.00",
            "event_time": T + pd.Timedelta(milliseconds=250),
        },
    ]


def test_event_times_parse_from_strings_and_epoch_seconds() -> None:
    strings = pd.Series(["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.500Z"])
    epochs = pd.Series([T.timestamp(), T.timestamp() + 0.5])
    expected = [T, T + pd.Timedelta(milliseconds=500)]
    assert list(build_dataset.parse_event_time(strings)) == expected
    assert list(build_dataset.parse_event_time(epochs)) == expected
    assert str(build_dataset.parse_event_time(strings).dtype) == "datetime64[ns, UTC]"


# --- BuildDataset: the whole data set ---------------------------------------------------------

SCHEMA = {
    "featureGroups": [
        {"name": "transactions", "features": [{"name": "amount", "type": "fractional"}]},
        {
            "name": "card_aggregates",
            "features": [
                {"name": "txn_count_10m", "type": "integral", "default": 0},
                {"name": "txn_amount_10m", "type": "fractional"},
            ],
        },
        {
            "name": "customer_profile",
            "features": [{"name": "account_age_days", "type": "integral"}],
        },
    ],
    "label": "is_fraud",
    "order": ["amount", "txn_count_10m", "txn_amount_10m", "account_age_days"],
}
COLUMNS = ["is_fraud", "amount", "txn_count_10m", "txn_amount_10m", "account_age_days"]


def _stores() -> dict[str, pd.DataFrame]:
    minute = pd.Timedelta(minutes=1)
    day = pd.Timedelta(days=1)
    transactions = _offline(
        [
            {
                "transaction_id": f"t{i}",
                "card_id": card,
                "customer_id": customer,
                "amount": amount,
                "event_time": _iso(at),
            }
            for i, (card, customer, amount, at) in enumerate(
                [
                    ("c1", "u1", "10.50", T - 40 * day),  # outside a 30-day window
                    ("c1", "u1", "20.00", T - 3 * day),
                    ("c2", "u2", "5.25", T - 2 * day),
                    ("c1", "u1", "99.99", T - 1 * day),
                    ("c3", "u2", "1.00", T - 12 * 60 * minute),
                    ("c2", "u2", "7.00", T - 60 * minute),  # unlabelled
                ]
            )
        ]
    )
    cards = _offline(
        [
            {
                "card_id": card,
                "event_time": _iso(at),
                "txn_count_10m": count,
                "txn_amount_10m": total,
            }
            for card, at, count, total in [
                ("c1", T - 3 * day - minute, 1, 12.0),
                ("c1", T - 3 * day, 2, 32.0),  # the aggregate counting t1 itself
                ("c1", T - 1 * day - 5 * minute, 1, 8.5),
                ("c2", T - 2 * day - minute, 4, 40.0),
            ]
        ]
    )
    profiles = _offline(
        [
            {"customer_id": "u1", "event_time": _iso(T - 90 * day), "account_age_days": 400},
            {"customer_id": "u1", "event_time": _iso(T - 2 * day), "account_age_days": 488},
            {"customer_id": "u2", "event_time": _iso(T - 10 * day), "account_age_days": 15},
        ]
    )
    return {"transactions": transactions, "card_aggregates": cards, "customer_profile": profiles}


LABELS = pd.DataFrame(
    {
        "transaction_id": ["t0", "t1", "t2", "t3", "t4", "t2"],
        "is_fraud": ["0", "0", "1", "0", "1", "0"],
    }
)


def test_build_training_set_joins_each_group_as_of_each_transaction() -> None:
    dataset = build_dataset.build_training_set(_stores(), LABELS, SCHEMA, as_of=T, window_days=30)
    assert list(dataset.columns) == [*COLUMNS, "transaction_id", "event_time"]
    rows = [
        [None if pd.isna(v) else v for v in row]
        for row in dataset[[*COLUMNS, "transaction_id"]].itertuples(index=False)
    ]
    assert rows == [
        [0, 20.0, 1, 12.0, 400, "t1"],
        [0, 5.25, 4, 40.0, 15, "t2"],  # the later label row corrects the earlier one
        [0, 99.99, 1, 8.5, 488, "t3"],
        [1, 1.0, 0, None, 15, "t4"],  # no aggregate for c3: the declared default, else empty
    ]
    assert str(dataset["txn_count_10m"].dtype) == "Int64"
    assert str(dataset["amount"].dtype) == "float64"


def test_split_and_files_follow_the_xgboost_csv_convention(tmp_path: Path) -> None:
    dataset = build_dataset.build_training_set(_stores(), LABELS, SCHEMA, as_of=T, window_days=30)
    train, validation = build_dataset.split_by_time(dataset)
    assert list(train["transaction_id"]) == ["t1", "t2", "t3"]
    assert list(validation["transaction_id"]) == ["t4"]
    build_dataset.write_outputs(train, validation, COLUMNS, tmp_path)
    assert (
        tmp_path / "train" / "train.csv"
    ).read_text() == "0,20.0,1,12.0,400\n0,5.25,4,40.0,15\n0,99.99,1,8.5,488\n"
    assert (tmp_path / "validation" / "validation.csv").read_text() == "1,1.0,0,,15\n"
    assert json.loads((tmp_path / "columns.json").read_text()) == COLUMNS
    # The training split's features only: what the endpoint receives and captures.
    assert (
        tmp_path / "baseline" / "baseline.csv"
    ).read_text() == "20.0,1,12.0,400\n5.25,4,40.0,15\n99.99,1,8.5,488\n"


def test_baseline_is_the_training_features_without_label_or_header(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "is_fraud": [1, 0, 0],
            "amount": [12.5, 3.0, None],
            "txn_count_10m": pd.array([2, None, 7], dtype="Int64"),
            "txn_amount_10m": [25.0, None, 70.25],
            "account_age_days": pd.array([400, 15, None], dtype="Int64"),
            "transaction_id": ["t1", "t2", "t3"],
        }
    )
    build_dataset.write_outputs(frame.iloc[:2], frame.iloc[2:], COLUMNS, tmp_path)
    assert (tmp_path / "baseline" / "baseline.csv").read_text() == "12.5,2,25.0,400\n3.0,,,15\n"
    assert (tmp_path / "train" / "train.csv").read_text() == "1,12.5,2,25.0,400\n0,3.0,,,15\n"
    assert (tmp_path / "validation" / "validation.csv").read_text() == "0,,7,70.25,\n"


def test_build_dataset_main_reads_the_processing_inputs(tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "input", tmp_path / "output"
    for name, frame in _stores().items():
        part = inputs / name / "year=2024" / "month=05"
        part.mkdir(parents=True)
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(part / "a.parquet")
        frame.iloc[half:].to_parquet(part / "b.parquet")
    (inputs / "labels").mkdir()
    LABELS.iloc[:3].to_csv(inputs / "labels" / "2024-05-01.csv", index=False)
    LABELS.iloc[3:].to_csv(inputs / "labels" / "2024-05-02.csv", index=False, header=False)
    (inputs / "schema").mkdir()
    (inputs / "schema" / "feature-schema.json").write_text(json.dumps(SCHEMA))

    argv = [
        "--training-window-days",
        "30",
        "--as-of",
        T.isoformat(),
        "--input",
        str(inputs),
        "--output",
        str(outputs),
    ]
    assert build_dataset.main(argv) == 0
    assert (outputs / "train" / "train.csv").read_text().splitlines() == [
        "0,20.0,1,12.0,400",
        "0,5.25,4,40.0,15",
        "0,99.99,1,8.5,488",
    ]
    assert (outputs / "validation" / "validation.csv").read_text() == "1,1.0,0,,15\n"
    assert (outputs / "baseline" / "baseline.csv").read_text().splitlines() == [
        "20.0,1,12.0,400",
        "5.25,4,40.0,15",
        "99.99,1,8.5,488",
    ]


def test_build_dataset_main_fails_clearly_without_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "feature-schema.json").write_text(json.dumps(SCHEMA))
    argv = [
        "--training-window-days",
        "30",
        "--input",
        str(tmp_path),
        "--output",
        str(tmp_path / "out"),
    ]
    assert build_dataset.main(argv) == 1
    assert (
        capsys.readouterr().err
        == f"BuildDataset failed: no Parquet files under {tmp_path / 'card_aggregates'}\n"
    )


@pytest.mark.parametrize(
    ("schema_change", "message"),
    [
        (
            {"order": ["amount", "nope"]},
            "feature 'nope' must be in exactly one feature group, is in no feature group",
        ),
        (
            {
                "featureGroups": [
                    *SCHEMA["featureGroups"],
                    {"name": "x", "features": [{"name": "amount", "type": "fractional"}]},
                ]
            },
            "feature 'amount' must be in exactly one feature group, is in transactions, x",
        ),
    ],
)
def test_build_training_set_rejects_an_inconsistent_schema(
    schema_change: dict[str, Any], message: str
) -> None:
    with pytest.raises(build_dataset.DatasetError, match=f"^{message}$"):
        build_dataset.build_training_set(
            _stores(), LABELS, SCHEMA | schema_change, as_of=T, window_days=30
        )


def test_build_training_set_rejects_bad_labels_and_values() -> None:
    with pytest.raises(
        build_dataset.DatasetError, match=r"label 'is_fraud' must be 0 or 1; got \['maybe'\]"
    ):
        build_dataset.build_training_set(
            _stores(),
            pd.DataFrame({"transaction_id": ["t1"], "is_fraud": ["maybe"]}),
            SCHEMA,
            as_of=T,
            window_days=30,
        )
    stores = _stores()
    stores["transactions"].loc[1, "amount"] = "twelve"
    with pytest.raises(
        build_dataset.DatasetError, match="feature 'amount': not a number: 'twelve'"
    ):
        build_dataset.build_training_set(stores, LABELS, SCHEMA, as_of=T, window_days=30)


# --- ValidateDataset --------------------------------------------------------------------------


def _splits(train: list[str], validation: list[str]) -> dict[str, pd.DataFrame]:
    def read(lines: list[str]) -> pd.DataFrame:
        return pd.read_csv(
            io.StringIO("\n".join(lines)),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )

    return {"train": read(train), "validation": read(validation)}


GOOD_TRAIN = ["0,20.0,1,12.0,400", "1,5.25,,40.0,15"]
GOOD_VALIDATION = ["0,1.0,0,,15", "1,3.5,2,7.0,20"]
SWAPPED = ["is_fraud", "txn_count_10m", "amount", "txn_amount_10m", "account_age_days"]


def test_validate_accepts_a_data_set_matching_the_schema() -> None:
    assert validate_dataset.validate(COLUMNS, _splits(GOOD_TRAIN, GOOD_VALIDATION), SCHEMA) == []


@pytest.mark.parametrize(
    ("columns", "train", "validation", "problems"),
    [
        (
            SWAPPED,
            GOOD_TRAIN,
            GOOD_VALIDATION,
            [f"columns.json is {SWAPPED}, the schema expects {COLUMNS}"],
        ),
        (
            COLUMNS,
            [",20.0,1,12.0,400", "1,5.25,,40.0,15"],
            GOOD_VALIDATION,
            ["train: 1 rows without a 'is_fraud' label"],
        ),
        (
            COLUMNS,
            GOOD_TRAIN,
            ["2,1.0,0,,15", "1,3.5,2,7.0,20"],
            ["validation: label 'is_fraud' must be 0 or 1, got '2'"],
        ),
        (
            COLUMNS,
            GOOD_TRAIN,
            ["1,1.0,0,,15", "1,3.5,2,7.0,20"],
            ["validation: only label 1; AUC needs both classes"],
        ),
        (
            COLUMNS,
            ["0,20.0,1.5,12.0,400", "1,5.25,,40.0,15"],
            GOOD_VALIDATION,
            ["train: feature 'txn_count_10m' is integral, got '1.5'"],
        ),
        (
            COLUMNS,
            GOOD_TRAIN,
            ["0,abc,0,,15", "1,3.5,2,7.0,20"],
            ["validation: feature 'amount' is fractional, got 'abc'"],
        ),
        (
            COLUMNS,
            ["0,20.0,1,12.0", "1,5.25,,40.0"],
            GOOD_VALIDATION,
            ["train: 4 columns, expected 5"],
        ),
    ],
)
def test_validate_reports_each_problem(
    columns: list[str], train: list[str], validation: list[str], problems: list[str]
) -> None:
    assert validate_dataset.validate(columns, _splits(train, validation), SCHEMA) == problems


def test_validate_rejects_string_and_undeclared_features() -> None:
    schema = SCHEMA | {
        "featureGroups": [
            {"name": "transactions", "features": [{"name": "amount", "type": "string"}]},
            *SCHEMA["featureGroups"][1:2],
        ]
    }
    assert validate_dataset.validate(COLUMNS, _splits(GOOD_TRAIN, GOOD_VALIDATION), schema) == [
        "feature 'amount' is string; the model takes numbers",
        "feature 'account_age_days' is declared 0 times in featureGroups",
    ]


def test_validate_main_exits_1_with_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "feature-schema.json").write_text(json.dumps(SCHEMA))
    dataset = tmp_path / "dataset"
    for split, lines in (("train", GOOD_TRAIN), ("validation", ["1,1.0,0,,15"])):
        (dataset / split).mkdir(parents=True)
        (dataset / split / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (dataset / "columns.json").write_text(json.dumps(COLUMNS))
    # BuildDataset's output also holds baseline/ (features only): not a split to check.
    (dataset / "baseline").mkdir()
    (dataset / "baseline" / "baseline.csv").write_text("20.0,1,12.0,400\n")
    assert validate_dataset.main(["--input", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "ValidateDataset failed:\n  - validation: only label 1; AUC needs both classes\n"
    )
    (dataset / "validation" / "validation.csv").write_text("\n".join(GOOD_VALIDATION) + "\n")
    assert validate_dataset.main(["--input", str(tmp_path)]) == 0


# --- Evaluate ---------------------------------------------------------------------------------


def test_auc_counts_ties_as_half() -> None:
    assert evaluate.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert evaluate.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert evaluate.roc_auc([0, 1], [0.2, 0.9]) == 1.0
    with pytest.raises(evaluate.EvaluationError, match="both classes"):
        evaluate.roc_auc([1, 1], [0.2, 0.9])


def test_precision_and_recall_at_one_percent_false_positives() -> None:
    # 200 legitimate transactions scored 0.00..0.199, 4 frauds: two score high, two low.
    labels = [0] * 200 + [1, 1, 1, 1]
    scores = [i / 1000 for i in range(200)] + [0.9, 0.199, 0.15, 0.05]
    # Flagging >= 0.198 catches 2 legitimate ones (1%) and 2 frauds (0.9 and 0.199).
    assert evaluate.metrics_at_fpr(labels, scores) == {
        "precision": 0.5,
        "recall": 0.5,
        "threshold": 0.198,
    }
    # A tie group is flagged whole, so it cannot be split to squeeze under the limit.
    assert evaluate.metrics_at_fpr([0, 0, 0, 1], [0.5, 0.5, 0.1, 0.5], max_fpr=0.5) == {
        "precision": 0.0,
        "recall": 0.0,
        "threshold": None,
    }


def test_evaluate_main_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The XGBoost image's library is not installed here: a fake `xgboost` module stands in
    for it (a "model" that scores each row by its first feature)."""

    class FakeXGBoostError(Exception):
        pass

    class DMatrix:
        def __init__(self, data: np.ndarray) -> None:
            self.data = data

    class Booster:
        def load_model(self, path: str) -> None:
            assert Path(path).read_text() == "fake-model"

        def predict(self, matrix: DMatrix) -> np.ndarray:
            return matrix.data[:, 0]

    fake = types.ModuleType("xgboost")
    fake.Booster, fake.DMatrix = Booster, DMatrix
    fake.core = types.SimpleNamespace(XGBoostError=FakeXGBoostError)
    monkeypatch.setitem(sys.modules, "xgboost", fake)

    model_dir, validation = tmp_path / "input" / "model", tmp_path / "input" / "validation"
    model_dir.mkdir(parents=True)
    validation.mkdir()
    (tmp_path / "xgboost-model").write_text("fake-model")
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    (validation / "validation.csv").write_text("0,0.1,5\n0,0.4,\n1,0.35,2\n1,0.8,1\n")

    assert (
        evaluate.main(["--input", str(tmp_path / "input"), "--output", str(tmp_path / "out")]) == 0
    )
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report == {
        "metrics": {
            "auc": {"value": 0.75},
            "precision_at_1pct_fpr": {"value": 1.0},
            "recall_at_1pct_fpr": {"value": 0.5},
            "threshold_at_1pct_fpr": {"value": 0.8},
        },
        "binary_classification_metrics": {
            "auc": {"value": 0.75},
            "precision": {"value": 1.0},
            "recall": {"value": 0.5},
        },
        "validation": {"rows": 4, "positives": 2},
    }
