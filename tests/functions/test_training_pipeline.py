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


validate_dataset = _script("validate_dataset")
evaluate = _script("evaluate")

TEMPLATE = load_template()
STEPS = {step["Name"]: step for step in TEMPLATE["Steps"]}
CONDITION = STEPS["CheckAuc"]["Arguments"]
REGISTER = CONDITION["IfSteps"][0]
PUBLISH = CONDITION["IfSteps"][1]
FAIL = CONDITION["ElseSteps"][0]
JOB_STEPS = {**STEPS, "PublishBaseline": PUBLISH}
JOBS = [
    "BuildDataset",
    "ValidateDataset",
    "BaselineDataQuality",
    "Train",
    "Evaluate",
    "PublishBaseline",
]


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
    assert [(s["Name"], s["Type"]) for s in CONDITION["IfSteps"]] == [
        ("Register", "RegisterModel"),
        ("PublishBaseline", "Processing"),
    ]
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
    # The baseline is published under the ARN Register returns, so only after it.
    assert _step_references(PUBLISH["Arguments"]) == {"Register", "BuildDataset"}
    # Neither training nor the baseline starts on a data set that failed validation; nothing
    # else orders them, so they run in parallel.
    assert {name: s.get("DependsOn") for name, s in STEPS.items() if "DependsOn" in s} == {
        "BaselineDataQuality": ["ValidateDataset"],
        "Train": ["ValidateDataset"],
    }
    assert [name for name in definition.PIPELINE_STEPS if name in STEPS] + [
        "Register",
        "PublishBaseline",
        "AucBelowThreshold",
    ] == list(definition.PIPELINE_STEPS)


def test_parameters_names_types_and_defaults() -> None:
    assert TEMPLATE["Parameters"] == [
        {"Name": "ArtifactsS3Uri", "Type": "String"},
        {"Name": "CodeS3Uri", "Type": "String"},
        {"Name": "FeatureSchemaS3Uri", "Type": "String"},
        {"Name": "AthenaWorkGroup", "Type": "String"},
        {"Name": "OfflineStoreDatabase", "Type": "String"},
        {"Name": "TransactionsTable", "Type": "String"},
        {"Name": "CardAggregatesTable", "Type": "String"},
        {"Name": "CustomerProfileTable", "Type": "String"},
        {"Name": "LabelsDatabase", "Type": "String"},
        {"Name": "LabelsTable", "Type": "String"},
        {"Name": "TrainingWindowDays", "Type": "Integer", "DefaultValue": 90},
        {"Name": "ProcessingInstanceType", "Type": "String", "DefaultValue": "ml.m5.large"},
        {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
        {"Name": "ProcessingImageUri", "Type": "String"},
        {"Name": "TrainingImageUri", "Type": "String"},
        {"Name": "MonitoringImageUri", "Type": "String"},
        {"Name": "MonitoringBaselinesS3Uri", "Type": "String"},
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
    # Where this version's baseline is: <MonitoringBaselinesS3Uri>/<its own package ARN>/.
    assert metadata["MonitoringBaselinesS3Uri"] == {"Get": "Parameters.MonitoringBaselinesS3Uri"}
    assert set(metadata) == {
        "CodeVersion",
        "FeatureGroups",
        "FeatureSchemaS3Uri",
        "MonitoringBaselinesS3Uri",
        "PipelineExecutionArn",
        "TrainingWindowDays",
        "TriggeredBy",
    }


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


def test_publish_baseline_writes_under_the_registered_package_arn() -> None:
    args = PUBLISH["Arguments"]
    dataset = {"Get": "Steps.BuildDataset.ProcessingOutputConfig.Outputs['dataset'].S3Output.S3Uri"}
    package_arn = {"Get": "Steps.Register.ModelPackageArn"}
    assert args["AppSpecification"] == {
        "ContainerArguments": [
            "--model-package-arn",
            package_arn,
            "--dataset-s3-uri",
            dataset,
            "--pipeline-execution-arn",
            {"Get": "Execution.PipelineExecutionArn"},
        ],
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/publish_baseline.py"],
        "ImageUri": {"Get": "Parameters.ProcessingImageUri"},
    }
    assert [
        (i["InputName"], i["S3Input"]["LocalPath"], i["S3Input"]["S3Uri"])
        for i in args["ProcessingInputs"]
    ] == [
        (
            "code",
            "/opt/ml/processing/input/code",
            {
                "Std:Join": {
                    "On": "/",
                    "Values": [{"Get": "Parameters.CodeS3Uri"}, "publish_baseline.py"],
                }
            },
        ),
        ("schema", "/opt/ml/processing/input/schema", {"Get": "Parameters.FeatureSchemaS3Uri"}),
        (
            "baseline",
            "/opt/ml/processing/input/baseline",
            {"Std:Join": {"On": "/", "Values": [dataset, "baseline"]}},
        ),
    ]
    # s3://<artifacts>/monitoring/baselines/<model package ARN>, its ':' and '/' verbatim.
    assert args["ProcessingOutputConfig"] == {
        "KmsKeyId": KMS_KEY_PLACEHOLDER,
        "Outputs": [
            {
                "OutputName": "baseline",
                "S3Output": {
                    "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob",
                    "S3Uri": {
                        "Std:Join": {
                            "On": "/",
                            "Values": [
                                {"Get": "Parameters.MonitoringBaselinesS3Uri"},
                                package_arn,
                            ],
                        }
                    },
                },
            }
        ],
    }
    assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    assert definition.MONITORING_BASELINES_PREFIX == "monitoring/baselines"


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
        "PublishBaseline": "publish_baseline.py",
    }
    for step, script in expected.items():
        args = JOB_STEPS[step]["Arguments"]
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
    # The query runs in Athena: the job reads only the schema and the query template (from
    # the code prefix), no offline-store data.
    assert [(i["InputName"], i["S3Input"]["LocalPath"]) for i in build["ProcessingInputs"]] == [
        ("code", "/opt/ml/processing/input/code"),
        ("schema", "/opt/ml/processing/input/schema"),
        ("sql", "/opt/ml/processing/input/sql"),
    ]
    sql = build["ProcessingInputs"][2]["S3Input"]["S3Uri"]
    assert sql == {
        "Std:Join": {"On": "/", "Values": [{"Get": "Parameters.CodeS3Uri"}, "training_set.sql"]}
    }
    assert definition.TRAINING_SET_SQL.is_file()
    assert build["AppSpecification"]["ContainerArguments"] == [
        "--training-window-days",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingWindowDays"}]}},
        "--workgroup",
        {"Get": "Parameters.AthenaWorkGroup"},
        "--database",
        {"Get": "Parameters.OfflineStoreDatabase"},
        "--table",
        "transactions",
        {"Get": "Parameters.TransactionsTable"},
        "--table",
        "card_aggregates",
        {"Get": "Parameters.CardAggregatesTable"},
        "--table",
        "customer_profile",
        {"Get": "Parameters.CustomerProfileTable"},
        "--labels-database",
        {"Get": "Parameters.LabelsDatabase"},
        "--labels-table",
        {"Get": "Parameters.LabelsTable"},
        "--output-s3-uri",
        build["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
        "--staging-s3-uri",
        {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": "Parameters.ArtifactsS3Uri"},
                    {"Get": "Execution.PipelineExecutionId"},
                    "BuildDataset",
                    "staging",
                ],
            }
        },
        "--kms-key-arn",
        KMS_KEY_PLACEHOLDER,
    ]


@pytest.mark.parametrize("step", JOBS)
def test_every_job_runs_isolated_in_the_vpc_with_kms(step: str) -> None:
    args = JOB_STEPS[step]["Arguments"]
    vpc = {"SecurityGroupIds": [SECURITY_GROUP_PLACEHOLDER], "Subnets": [SUBNET_PLACEHOLDER]}
    assert args["RoleArn"] == ROLE_PLACEHOLDER
    if JOB_STEPS[step]["Type"] == "Training":
        assert args["VpcConfig"] == vpc
        assert args["EnableNetworkIsolation"] is True
        assert args["EnableInterContainerTrafficEncryption"] is True
        assert args["ResourceConfig"]["VolumeKmsKeyId"] == KMS_KEY_PLACEHOLDER
        assert args["OutputDataConfig"]["KmsKeyId"] == KMS_KEY_PLACEHOLDER
    else:
        assert args["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            # BuildDataset calls Athena (through the VPC's interface endpoint): it cannot be
            # network-isolated. It still runs in the VPC's private subnets, with no NAT.
            "EnableNetworkIsolation": step != "BuildDataset",
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
    # 12: each job's volume and outputs (ValidateDataset has no outputs), and BuildDataset's
    # --kms-key-arn (Athena results, S3 copies). The role: once per job.
    assert text.count(KMS_KEY) == 12 and text.count(ROLE) == 6
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


# --- BuildDataset ----------------------------------------------------------------------------
# The point-in-time join is SQL run by Athena: test_dataset_sql.py checks it on DuckDB against
# a brute-force reference, test_dataset_runner.py the job that runs it (moto).


def test_build_dataset_runs_athena_from_the_vpc_and_writes_the_step_output() -> None:
    args = STEPS["BuildDataset"]["Arguments"]
    container = args["AppSpecification"]["ContainerArguments"]
    options = {
        item: container[i + 1]
        for i, item in enumerate(container)
        if isinstance(item, str) and item.startswith("--")
    }
    dataset = args["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    # Athena writes the splits straight under the step's own output, which the later steps
    # read; the job uploads columns.json there too.
    assert options["--output-s3-uri"] == dataset
    assert options["--staging-s3-uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Parameters.ArtifactsS3Uri"},
                {"Get": "Execution.PipelineExecutionId"},
                "BuildDataset",
                "staging",
            ],
        }
    }
    assert options["--kms-key-arn"] == KMS_KEY_PLACEHOLDER
    tables = [container[i + 1 : i + 3] for i, item in enumerate(container) if item == "--table"]
    assert tables == [
        [group, {"Get": f"Parameters.{definition.TABLE_PARAMETERS[group]}"}]
        for group in definition.FEATURE_GROUPS
    ]
    assert definition.NETWORKED_STEPS == ("BuildDataset",)
    assert definition.TRAINING_SET_SQL in definition.CODE_FILES
    assert {path.name for path in definition.CODE_FILES} == {
        "build_dataset.py",
        "evaluate.py",
        "publish_baseline.py",
        "training_set.sql",
        "validate_dataset.py",
    }


# Shared by the ValidateDataset tests.
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
