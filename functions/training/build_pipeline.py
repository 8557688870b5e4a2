"""Generates the fraud model's training pipeline definition with the sagemaker SDK (v3).

    .venv/bin/python -m functions.training.build_pipeline          # rewrite the JSON files
    .venv/bin/python -m functions.training.build_pipeline --check  # exit 1 if they are stale

Writes `pipeline.json` (the definition, per-stack values as pipeline parameters or
placeholders, see `definition.py`) and `images.json` (the SKLearn, XGBoost and Model Monitor
analyzer image URIs per region). The Pulumi program reads both and never imports the SDK,
which takes seconds to load.

Generation is offline (`functions.training.offline_sdk`, shared with the other generators):
dummy credentials, a fixed region, an SDK session that neither resolves IAM roles nor creates
a default bucket, telemetry opted out, and every socket connection refused while it runs, so
a new SDK version that tries to call AWS fails loudly instead of writing account-specific
values into the committed files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from functions.training.definition import (
    FEATURE_GROUPS,
    IMAGES_PATH,
    KMS_KEY_PLACEHOLDER,
    MONITORING_BASELINE_DIR,
    MONITORING_BASELINES_PREFIX,
    NETWORKED_STEPS,
    PARAMETERS,
    ROLE_PLACEHOLDER,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNET_PLACEHOLDER,
    TABLE_PARAMETERS,
    TEMPLATE_PATH,
    TRAINING_SET_SQL,
)
from functions.training.offline_sdk import ROLE_STAND_IN, command_line, offline_session, render_json
from functions.training.offline_sdk import NetworkAccessError as NetworkAccessError  # re-export
from functions.training.offline_sdk import offline as _offline
from functions.training.offline_sdk import stale_files as _stale_files

SKLEARN_VERSION = "1.4-2"
"""SKLearn processing image: Python 3.10, pandas and boto3 (BuildDataset drives Athena)."""
XGBOOST_VERSION = "1.7-1"
"""Built-in XGBoost algorithm; the same image trains, evaluates and serves the model."""

HYPERPARAMETERS: dict[str, str | int | float] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": 400,
    "early_stopping_rounds": 20,
    "max_depth": 6,
    "eta": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1,
}
INFERENCE_INSTANCE_TYPES = ["ml.m5.large", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.m5.xlarge"]
TRANSFORM_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]
VOLUME_SIZE_GB = 30
MAX_RUNTIME_SECONDS = {
    "BuildDataset": 7200,
    "ValidateDataset": 1800,
    "BaselineDataQuality": 3600,
    "Train": 7200,
    "Evaluate": 1800,
    "PublishBaseline": 900,
}

CODE_DIR = "/opt/ml/processing/input/code"
PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
EVALUATION_DIR = "/opt/ml/processing/evaluation"
# The analyzer's paths and its input and output names as the SDK's own baselining job
# (`DefaultModelMonitor.suggest_baseline`) sets them.
BASELINE_INPUT_NAME = "baseline_dataset_input"
BASELINE_INPUT = f"{PROCESSING_INPUT}/{BASELINE_INPUT_NAME}"
BASELINE_OUTPUT_NAME = "monitoring_output"
BASELINE_FORMAT = {"csv": {"header": False}}
"""BuildDataset's baseline/baseline.csv: no header, the model's features in order, no label;
the captured endpoint requests have the same shape, so both name the columns `_c0`, ..."""


def build_definition() -> dict[str, Any]:
    """The pipeline definition, as the SDK renders it, parsed from JSON."""
    with _offline():
        return json.loads(_pipeline().definition())


def build_images() -> dict[str, dict[str, str]]:
    """`{region: {"processing": ..., "training": ..., "monitoring": ...}}` for every region
    the SDK has all three images in (the two pinned versions and the Model Monitor analyzer,
    which has a single unversioned URI per region)."""
    with _offline():
        from sagemaker.core import image_uris

        def regions(framework: str, version: str) -> set[str]:
            config = image_uris.config_for_framework(framework)
            return set(config["training"]["versions"][version]["registries"])

        monitor_config = image_uris.config_for_framework("model-monitor")
        monitor_regions = set(monitor_config["versions"][""]["registries"])
        images = {}
        for region in sorted(
            regions("sklearn", SKLEARN_VERSION)
            & regions("xgboost", XGBOOST_VERSION)
            & monitor_regions
        ):
            training = image_uris.retrieve(
                "xgboost", region, version=XGBOOST_VERSION, image_scope="training"
            )
            inference = image_uris.retrieve(
                "xgboost", region, version=XGBOOST_VERSION, image_scope="inference"
            )
            # Register serves the model with TrainingImageUri: that only holds if they match.
            if training != inference:
                raise RuntimeError(f"{region}: XGBoost training and inference images differ")
            processing = image_uris.retrieve(
                "sklearn", region, version=SKLEARN_VERSION, image_scope="training"
            )
            monitoring = image_uris.retrieve("model-monitor", region)
            images[region] = {
                "processing": processing,
                "training": training,
                "monitoring": monitoring,
            }
        return images


def _pipeline() -> Any:
    """The SDK's Pipeline object; call only inside `_offline()`."""
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.model_monitor import DefaultModelMonitor
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
        StoppingCondition,
    )
    from sagemaker.core.training.configs import Compute, InputData, Networking, OutputDataConfig
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import (
        ConditionStep,
        FailStep,
        ModelStep,
        Pipeline,
        ProcessingStep,
        TrainingStep,
    )
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    session = offline_session()

    kinds = {"String": ParameterString, "Integer": ParameterInteger, "Float": ParameterFloat}
    params = {p.name: kinds[p.type](name=p.name, default_value=p.default) for p in PARAMETERS}
    execution_id = ExecutionVariables.PIPELINE_EXECUTION_ID

    def output_uri(step: str, output: str) -> Any:
        return Join(on="/", values=[params["ArtifactsS3Uri"], execution_id, step, output])

    def s3_input(name: str, uri: Any, local_path: str) -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                local_path=local_path,
                s3_data_type="S3Prefix",
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
            ),
        )

    def code_input(script: str, name: str = "code", local_path: str = CODE_DIR) -> Any:
        # The kit uploads the code files flat under CodeS3Uri; nothing is uploaded here.
        return s3_input(name, Join(on="/", values=[params["CodeS3Uri"], script]), local_path)

    def s3_output(step: str, name: str, local_path: str) -> Any:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=output_uri(step, name), local_path=local_path, s3_upload_mode="EndOfJob"
            ),
        )

    def processor(
        step: str, image: Any, script: str | None, env: dict[str, str] | None = None
    ) -> Any:
        """A job running `script` from the code input, or the image's own entrypoint."""
        return Processor(
            role=ROLE_PLACEHOLDER,
            image_uri=image,
            instance_count=1,
            instance_type=params["ProcessingInstanceType"],
            entrypoint=["python3", f"{CODE_DIR}/{script}"] if script else None,
            env=env,
            volume_size_in_gb=VOLUME_SIZE_GB,
            volume_kms_key=KMS_KEY_PLACEHOLDER,
            output_kms_key=KMS_KEY_PLACEHOLDER,
            max_runtime_in_seconds=MAX_RUNTIME_SECONDS[step],
            base_job_name=f"mlkit-fraud-{step.lower()}",
            sagemaker_session=session,
            network_config=NetworkConfig(
                enable_network_isolation=step not in NETWORKED_STEPS,
                encrypt_inter_container_traffic=True,
                subnets=[SUBNET_PLACEHOLDER],
                security_group_ids=[SECURITY_GROUP_PLACEHOLDER],
            ),
        )

    schema_input = s3_input("schema", params["FeatureSchemaS3Uri"], f"{PROCESSING_INPUT}/schema")

    tables = [
        argument
        for group in FEATURE_GROUPS
        for argument in ("--table", group, params[TABLE_PARAMETERS[group]])
    ]
    build = ProcessingStep(
        name="BuildDataset",
        description=(
            "Point-in-time join of the offline feature store with the labels, run by Athena "
            "(UNLOAD to S3); the job renders the query, waits for it and publishes the files."
        ),
        step_args=processor("BuildDataset", params["ProcessingImageUri"], "build_dataset.py").run(
            inputs=[
                code_input("build_dataset.py"),
                schema_input,
                code_input(TRAINING_SET_SQL.name, "sql", f"{PROCESSING_INPUT}/sql"),
            ],
            # One output: train/, validation/, baseline/ (written by Athena and copied into
            # place by the job) and columns.json (uploaded by the job) travel together.
            outputs=[s3_output("BuildDataset", "dataset", PROCESSING_OUTPUT)],
            arguments=[
                "--training-window-days",
                params["TrainingWindowDays"].to_string(),
                "--workgroup",
                params["AthenaWorkGroup"],
                "--database",
                params["OfflineStoreDatabase"],
                *tables,
                "--labels-database",
                params["LabelsDatabase"],
                "--labels-table",
                params["LabelsTable"],
                "--output-s3-uri",
                output_uri("BuildDataset", "dataset"),
                "--staging-s3-uri",
                output_uri("BuildDataset", "staging"),
                "--kms-key-arn",
                KMS_KEY_PLACEHOLDER,
            ],
            wait=False,
            logs=False,
        ),
    )
    dataset_uri = build.properties.ProcessingOutputConfig.Outputs["dataset"].S3Output.S3Uri

    def dataset_part(part: str) -> Any:
        return Join(on="/", values=[dataset_uri, part])

    validate = ProcessingStep(
        name="ValidateDataset",
        description="Checks the data set against the feature schema; fails the run if not.",
        step_args=processor(
            "ValidateDataset", params["ProcessingImageUri"], "validate_dataset.py"
        ).run(
            inputs=[
                code_input("validate_dataset.py"),
                schema_input,
                s3_input("dataset", dataset_uri, f"{PROCESSING_INPUT}/dataset"),
            ],
            wait=False,
            logs=False,
        ),
    )

    # The Model Monitor analyzer, configured exactly as the SDK's own baselining job: the
    # environment comes from the same helper `DefaultModelMonitor.suggest_baseline` uses.
    baseline_env = DefaultModelMonitor._generate_env_map(
        env=None,
        dataset_format=BASELINE_FORMAT,
        output_path=PROCESSING_OUTPUT,
        enable_cloudwatch_metrics=False,  # the SDK: only supported for monitoring schedules
        dataset_source_container_path=BASELINE_INPUT,
    )
    baseline = ProcessingStep(
        name="BaselineDataQuality",
        description=(
            "Model Monitor data-quality baseline (statistics.json, constraints.json) of the "
            "training features, for the endpoint's monitoring schedule."
        ),
        depends_on=[validate],
        step_args=processor(
            "BaselineDataQuality", params["MonitoringImageUri"], None, baseline_env
        ).run(
            inputs=[s3_input(BASELINE_INPUT_NAME, dataset_part("baseline"), BASELINE_INPUT)],
            outputs=[
                ProcessingOutput(
                    output_name=BASELINE_OUTPUT_NAME,
                    s3_output=ProcessingS3Output(
                        # Fixed, not per execution: the monitoring schedule reads it.
                        s3_uri=Join(
                            on="/", values=[params["ArtifactsS3Uri"], MONITORING_BASELINE_DIR]
                        ),
                        local_path=PROCESSING_OUTPUT,
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            wait=False,
            logs=False,
        ),
    )
    baseline_uri = baseline.properties.ProcessingOutputConfig.Outputs[
        BASELINE_OUTPUT_NAME
    ].S3Output.S3Uri

    def baseline_file(name: str) -> Any:
        return MetricsSource(
            content_type="application/json", s3_uri=Join(on="/", values=[baseline_uri, name])
        )

    trainer = ModelTrainer(
        training_image=params["TrainingImageUri"],
        role=ROLE_STAND_IN,
        sagemaker_session=session,
        base_job_name="mlkit-fraud-train",
        compute=Compute(
            instance_type=params["TrainingInstanceType"],
            instance_count=1,
            volume_size_in_gb=VOLUME_SIZE_GB,
            volume_kms_key_id=KMS_KEY_PLACEHOLDER,
        ),
        networking=Networking(
            subnets=[SUBNET_PLACEHOLDER],
            security_group_ids=[SECURITY_GROUP_PLACEHOLDER],
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=Join(on="/", values=[params["ArtifactsS3Uri"], execution_id, "Train"]),
            kms_key_id=KMS_KEY_PLACEHOLDER,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS["Train"]),
        hyperparameters=dict(HYPERPARAMETERS),
    )
    trainer.role = ROLE_PLACEHOLDER
    train = TrainingStep(
        name="Train",
        description="Built-in XGBoost, binary:logistic, early stopping on validation AUC.",
        depends_on=[validate],
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name=c, data_source=dataset_part(c), content_type="text/csv")
                for c in ("train", "validation")
            ],
            wait=False,
            logs=False,
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    evaluation_report = PropertyFile(
        name="EvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    evaluate = ProcessingStep(
        name="Evaluate",
        description="Scores the validation set; writes evaluation.json (AUC and more).",
        step_args=processor("Evaluate", params["TrainingImageUri"], "evaluate.py").run(
            inputs=[
                code_input("evaluate.py"),
                s3_input("model", model_data, f"{PROCESSING_INPUT}/model"),
                s3_input(
                    "validation", dataset_part("validation"), f"{PROCESSING_INPUT}/validation"
                ),
            ],
            outputs=[s3_output("Evaluate", "evaluation", EVALUATION_DIR)],
            wait=False,
            logs=False,
        ),
        property_files=[evaluation_report],
    )
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri

    model = ModelBuilder(
        image_uri=params["TrainingImageUri"],
        s3_model_data_url=model_data,
        role_arn=ROLE_PLACEHOLDER,
        sagemaker_session=session,
        instance_type=INFERENCE_INSTANCE_TYPES[0],
        # Its deprecated default ({"auto": True}) warns and makes register() stage code in
        # the SDK's default bucket; the built-in algorithm image needs no code.
        dependencies={},
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            model_package_group_name=params["ModelPackageGroupName"],
            approval_status="PendingManualApproval",
            domain="MACHINE_LEARNING",
            task="CLASSIFICATION",
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=INFERENCE_INSTANCE_TYPES,
            transform_instances=TRANSFORM_INSTANCE_TYPES,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    content_type="application/json",
                    s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]),
                )
            ),
            # Reading the baseline step's output also makes registration wait for it: no
            # model package without its monitoring baseline.
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=baseline_file("statistics.json"),
                model_data_constraints=baseline_file("constraints.json"),
            ),
            customer_metadata_properties={
                "TriggeredBy": params["TriggeredBy"],
                "CodeVersion": params["CodeVersion"],
                "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
                "FeatureGroups": ",".join(FEATURE_GROUPS),
                "FeatureSchemaS3Uri": params["FeatureSchemaS3Uri"],
                "TrainingWindowDays": params["TrainingWindowDays"].to_string(),
                # This version's baseline is published to <this>/<its own ARN>/ by the next
                # step (the ARN is not known before registration, so only the prefix here).
                "MonitoringBaselinesS3Uri": params["MonitoringBaselinesS3Uri"],
            },
        ),
    )
    package_arn = register.properties.ModelPackageArn
    publish = ProcessingStep(
        name="PublishBaseline",
        description=(
            f"Copies the data set's baseline and the feature schema to "
            f"<artifacts>/{MONITORING_BASELINES_PREFIX}/<model package ARN>/, where monitoring "
            "reads the serving version's own baseline."
        ),
        step_args=processor(
            "PublishBaseline", params["ProcessingImageUri"], "publish_baseline.py"
        ).run(
            inputs=[
                code_input("publish_baseline.py"),
                schema_input,
                s3_input("baseline", dataset_part("baseline"), f"{PROCESSING_INPUT}/baseline"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    s3_output=ProcessingS3Output(
                        # An S3 key may hold the ARN's ':' and '/' as they are.
                        s3_uri=Join(
                            on="/", values=[params["MonitoringBaselinesS3Uri"], package_arn]
                        ),
                        local_path=PROCESSING_OUTPUT,
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=[
                "--model-package-arn",
                package_arn,
                "--dataset-s3-uri",
                dataset_uri,
                "--pipeline-execution-arn",
                ExecutionVariables.PIPELINE_EXECUTION_ARN,
            ],
            wait=False,
            logs=False,
        ),
    )

    auc = JsonGet(
        step_name=evaluate.name, property_file=evaluation_report, json_path="metrics.auc.value"
    )
    below = FailStep(
        name="AucBelowThreshold",
        error_message=Join(
            on=" ",
            values=["Validation AUC", auc, "is below the threshold", params["AucThreshold"]],
        ),
    )
    check = ConditionStep(
        name="CheckAuc",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=params["AucThreshold"])],
        if_steps=[register, publish],
        else_steps=[below],
    )

    return Pipeline(
        name="mlkit-fraud-training",
        parameters=list(params.values()),
        steps=[build, validate, baseline, train, evaluate, check],
        sagemaker_session=session,
        # No implicit SageMaker Experiment per run: lineage is on the model package.
        pipeline_experiment_config=None,
    )


def generate() -> dict[Path, str]:
    """Path -> the text the committed file should have."""
    return {
        TEMPLATE_PATH: render_json(build_definition()),
        IMAGES_PATH: render_json(build_images()),
    }


def stale_files(generated: dict[Path, str] | None = None) -> list[Path]:
    """The committed files that differ from what the generator produces now."""
    return _stale_files(generate() if generated is None else generated)


def main(argv: list[str] | None = None) -> int:
    """Command line: write the files, or with --check report stale ones (exit 1)."""
    return command_line(argv, "functions.training.build_pipeline", generate)


if __name__ == "__main__":
    sys.exit(main())
