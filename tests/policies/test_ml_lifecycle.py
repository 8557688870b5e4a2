"""Training, metadata, serving and monitoring controls: a compliant fixture passes, then one
change per rule branch fails with its exact message; environment-scoped controls ignore the
same resource in dev."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy.proxy import unknown_checking_proxy

from tests.policies.conftest import make, messages

PROJECT = Path(__file__).resolve().parents[2]

# --- training: SageMaker pipeline steps ----------------------------------------------------

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k1"
VPC = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-a", "subnet-b"]}
VPC_ISOLATED = "aws-sagemaker-pipeline-steps-vpc-isolated"
ENCRYPTED = "aws-sagemaker-pipeline-steps-encrypted"


def processing(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "NetworkConfig": {
                "EnableInterContainerTrafficEncryption": True,
                "EnableNetworkIsolation": True,
                "VpcConfig": copy.deepcopy(VPC),
            },
            "ProcessingOutputConfig": {"KmsKeyId": KEY, "Outputs": []},
            "ProcessingResources": {"ClusterConfig": {"VolumeKmsKeyId": KEY}},
        },
    }


def training(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "OutputDataConfig": {"KmsKeyId": KEY},
            "ResourceConfig": {"VolumeKmsKeyId": KEY},
            "VpcConfig": copy.deepcopy(VPC),
        },
    }


def model(name: str) -> dict[str, Any]:
    """A model step (CreateModel from a package), as the batch transform runs it."""
    return {
        "Name": name,
        "Type": "Model",
        "Arguments": {
            "Containers": [{"ModelPackageName": "arn:aws:sagemaker:eu-west-1:1:model-package/g/1"}],
            "EnableNetworkIsolation": True,
            "VpcConfig": copy.deepcopy(VPC),
        },
    }


def transform(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Transform",
        "Arguments": {
            "TransformOutput": {"KmsKeyId": KEY, "S3OutputPath": "s3://b/out"},
            "TransformResources": {"InstanceType": "ml.m5.large", "VolumeKmsKeyId": KEY},
        },
    }


def networked(name: str = "BuildDataset") -> dict[str, Any]:
    """A processing step in the VPC without network isolation (the kit's data-set step)."""
    step = processing(name)
    step["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] = False
    return step


def definition() -> dict[str, Any]:
    """Processing (one of them the networked data-set step), training, and a processing step
    inside a condition's branch."""
    condition = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {
            "IfSteps": [processing("Nested")],
            "ElseSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {}}],
        },
    }
    steps = [
        networked(),
        processing("Build"),
        training("Train"),
        condition,
        model("CreateModel"),
        transform("Score"),
    ]
    return {"Version": "2020-12-01", "Steps": steps}


def pipeline(document: Any) -> Any:
    text = document if isinstance(document, str) else json.dumps(document)
    return make(PIPELINE, "p", {"pipelineDefinition": text, "pipelineName": "p"})


def steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The definition's steps by name (nested ones too), for editing one in place."""
    found = {}
    for step in document["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for nested in step["Arguments"].get(branch, []):
                found[nested["Name"]] = nested
    return found


def test_pipeline_steps_compliant() -> None:
    assert messages(VPC_ISOLATED, pipeline(definition())) == []
    assert messages(ENCRYPTED, pipeline(definition())) == []


def test_pipeline_steps_outside_the_vpc() -> None:
    document = definition()
    del steps(document)["Build"]["Arguments"]["NetworkConfig"]["VpcConfig"]
    del steps(document)["Train"]["Arguments"]["VpcConfig"]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step Build runs outside the VPC (no VpcConfig)",
        "p: step Train runs outside the VPC (no VpcConfig)",
    ]


def test_pipeline_step_vpc_without_subnets_or_security_groups() -> None:
    document = definition()
    steps(document)["Train"]["Arguments"]["VpcConfig"] = {"Subnets": [], "SecurityGroupIds": None}
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step Train has no VPC subnets",
        "p: step Train has no VPC security groups",
    ]


def test_pipeline_step_vpc_placeholders_and_non_ids() -> None:
    document = definition()
    vpc = steps(document)["Nested"]["Arguments"]["NetworkConfig"]["VpcConfig"]
    vpc["Subnets"] = ["__MLKIT_SUBNET__"]
    vpc["SecurityGroupIds"] = [{"Get": "Parameters.SecurityGroup"}]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step Nested has placeholder VPC subnets (__MLKIT_...)",
        "p: step Nested has VPC security groups that are not IDs",
    ]


def test_pipeline_steps_without_network_isolation() -> None:
    document = definition()
    steps(document)["Build"]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] = False
    del steps(document)["Train"]["Arguments"]["EnableNetworkIsolation"]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step Build runs without network isolation",
        "p: step Train runs without network isolation",
    ]


def test_only_the_networked_steps_may_run_without_isolation() -> None:
    from functions.recommendations.pipelines.definition import SCORING, TRAINING
    from functions.training.definition import NETWORKED_STEPS
    from policies.training import aws_sagemaker_pipeline_steps_vpc_isolated as control

    # The pack imports only itself: its copy must name the kit's networked steps exactly.
    declared = (*NETWORKED_STEPS, *TRAINING.networked_steps, *SCORING.networked_steps)
    assert declared == control.NETWORKED_STEPS
    assert declared == ("BuildDataset", "BuildInteractions", "ListActiveUsers")
    document = definition()
    condition = steps(document)["Gate"]["Arguments"]
    condition["IfSteps"].append(networked("BuildDatasetCopy"))
    condition["IfSteps"].append(networked("builddataset"))
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step BuildDatasetCopy runs without network isolation",
        "p: step builddataset runs without network isolation",
    ]


def test_the_networked_step_still_runs_in_the_vpc() -> None:
    document = definition()
    del steps(document)["BuildDataset"]["Arguments"]["NetworkConfig"]["VpcConfig"]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step BuildDataset runs outside the VPC (no VpcConfig)"
    ]
    document = definition()
    vpc = steps(document)["BuildDataset"]["Arguments"]["NetworkConfig"]["VpcConfig"]
    vpc["Subnets"], vpc["SecurityGroupIds"] = [], ["__MLKIT_SECURITY_GROUP__"]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step BuildDataset has no VPC subnets",
        "p: step BuildDataset has placeholder VPC security groups (__MLKIT_...)",
    ]
    document = definition()
    del steps(document)["BuildDataset"]["Arguments"]["NetworkConfig"]
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step BuildDataset runs outside the VPC (no VpcConfig)"
    ]


def test_the_unrendered_template_is_reported() -> None:
    """The committed template still holds the placeholders the kit fills in per stack."""
    template = (PROJECT / "functions" / "training" / "pipeline.json").read_text()
    found = messages(VPC_ISOLATED, pipeline(template))
    jobs = (
        "BuildDataset",
        "ValidateDataset",
        "BaselineDataQuality",
        "Train",
        "Evaluate",
        "PublishBaseline",
    )
    assert found == [
        f"p: step {job} has placeholder VPC {what} (__MLKIT_...)"
        for job in jobs
        for what in ("subnets", "security groups")
    ]
    assert "p: step Train has a placeholder volume KMS key (__MLKIT_...)" in messages(
        ENCRYPTED, pipeline(template)
    )


def test_pipeline_processing_step_without_keys() -> None:
    document = definition()
    arguments = steps(document)["Build"]["Arguments"]
    arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = "__MLKIT_KMS_KEY_ARN__"
    arguments["ProcessingOutputConfig"]["KmsKeyId"] = ""
    arguments["NetworkConfig"]["EnableInterContainerTrafficEncryption"] = False
    assert messages(ENCRYPTED, pipeline(document)) == [
        "p: step Build has a placeholder volume KMS key (__MLKIT_...)",
        "p: step Build has no output KMS key (ProcessingOutputConfig.KmsKeyId)",
        "p: step Build does not encrypt inter-container traffic",
    ]


def test_pipeline_processing_step_without_outputs_needs_no_output_key() -> None:
    document = definition()
    del steps(document)["Nested"]["Arguments"]["ProcessingOutputConfig"]
    del steps(document)["Nested"]["Arguments"]["ProcessingResources"]
    assert messages(ENCRYPTED, pipeline(document)) == [
        "p: step Nested has no volume KMS key (ProcessingResources.ClusterConfig.VolumeKmsKeyId)"
    ]


def test_pipeline_training_step_without_keys() -> None:
    document = definition()
    arguments = steps(document)["Train"]["Arguments"]
    del arguments["ResourceConfig"]
    arguments["OutputDataConfig"] = {"S3OutputPath": "s3://b/train"}
    del arguments["EnableInterContainerTrafficEncryption"]
    assert messages(ENCRYPTED, pipeline(document)) == [
        "p: step Train has no volume KMS key (ResourceConfig.VolumeKmsKeyId)",
        "p: step Train has no output KMS key (OutputDataConfig.KmsKeyId)",
        "p: step Train does not encrypt inter-container traffic",
    ]


def test_a_transform_step_without_keys() -> None:
    document = definition()
    arguments = steps(document)["Score"]["Arguments"]
    del arguments["TransformResources"]["VolumeKmsKeyId"]
    arguments["TransformOutput"]["KmsKeyId"] = "__MLKIT_KMS_KEY_ARN__"
    assert messages(ENCRYPTED, pipeline(document)) == [
        "p: step Score has no volume KMS key (TransformResources.VolumeKmsKeyId)",
        "p: step Score has a placeholder output KMS key (__MLKIT_...)",
    ]
    assert messages(VPC_ISOLATED, pipeline(document)) == []  # its model carries the network


def test_a_model_step_outside_the_vpc_or_not_isolated() -> None:
    document = definition()
    arguments = steps(document)["CreateModel"]["Arguments"]
    del arguments["VpcConfig"]
    arguments["EnableNetworkIsolation"] = False
    assert messages(VPC_ISOLATED, pipeline(document)) == [
        "p: step CreateModel runs outside the VPC (no VpcConfig)",
        "p: step CreateModel runs without network isolation",
    ]
    assert messages(ENCRYPTED, pipeline(document)) == []  # a model writes nothing


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pipelineDefinition": "{not json"}, "pipeline definition is not valid JSON"),
        (
            {"pipelineDefinition": json.dumps({"Steps": {}})},
            "pipeline definition has no Steps list",
        ),
        (
            {"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "p.json"}},
            "pipeline definition is in S3 and cannot be checked",
        ),
        ({}, "pipeline has no definition"),
    ],
)
def test_unreadable_pipeline_definitions_are_reported(props: dict, message: str) -> None:
    resource = make(PIPELINE, "p", props)
    assert messages(ENCRYPTED, resource) == [f"p: {message}"]
    assert messages(VPC_ISOLATED, resource) == [f"p: {message}"]


# --- metadata: RDS ---------------------------------------------------------------------------

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_OK = {
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 7,
    "deletionProtection": True,
    "multiAz": True,
    "manageMasterUserPassword": True,
}
CLUSTER_OK = {k: v for k, v in RDS_OK.items() if k not in ("multiAz", "publiclyAccessible")}
RDS_CONTROLS = (
    "aws-rds-storage-encrypted",
    "aws-rds-not-public",
    "aws-rds-backup-retention",
    "aws-rds-deletion-protection-prod",
    "aws-rds-multi-az-prod",
    "aws-rds-no-plaintext-password",
)


@pytest.mark.parametrize("policy_id", RDS_CONTROLS)
def test_rds_compliant(policy_id: str) -> None:
    database = make(INSTANCE, "db", RDS_OK)
    cluster = make(CLUSTER, "aurora", CLUSTER_OK)
    member = make(CLUSTER_INSTANCE, "aurora-1", {"publiclyAccessible": False})
    assert messages(policy_id, database, cluster, member) == []


def test_rds_storage_not_encrypted_or_with_the_aws_key() -> None:
    assert messages(
        "aws-rds-storage-encrypted",
        make(INSTANCE, "db", RDS_OK | {"storageEncrypted": None}),
        make(CLUSTER, "aurora", CLUSTER_OK | {"kmsKeyId": None}),
    ) == [
        "aurora: cluster storage uses the AWS-managed key (no kmsKeyId)",
        "db: instance storage is not encrypted",
    ]


def test_rds_publicly_accessible() -> None:
    assert messages(
        "aws-rds-not-public",
        make(INSTANCE, "db", RDS_OK | {"publiclyAccessible": True}),
        make(CLUSTER_INSTANCE, "aurora-1", {"publiclyAccessible": True}),
    ) == ["aurora-1: instance is publicly accessible", "db: instance is publicly accessible"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "backupRetentionPeriod is not set (AWS keeps 1 day); 7 or more needed"),
        (1.0, "backupRetentionPeriod is 1 days; 7 or more needed"),
        ("weekly", "backupRetentionPeriod 'weekly' is not a number"),
    ],
)
def test_rds_backup_retention_too_short(value: object, message: str) -> None:
    props = RDS_OK | {"backupRetentionPeriod": value}
    assert messages("aws-rds-backup-retention", make(INSTANCE, "db", props)) == [f"db: {message}"]


def test_rds_backup_retention_reads_state_numbers_and_skips_replicas() -> None:
    from_state = make(CLUSTER, "aurora", CLUSTER_OK | {"backupRetentionPeriod": 7.0})
    replica = make(INSTANCE, "replica", {"replicateSourceDb": "db", "backupRetentionPeriod": 0})
    assert messages("aws-rds-backup-retention", from_state, replica) == []


def test_rds_deletion_protection_in_prod_only() -> None:
    props = RDS_OK | {"deletionProtection": False}
    assert messages("aws-rds-deletion-protection-prod", make(INSTANCE, "db", props)) == [
        "db: instance has no deletion protection"
    ]
    cluster = make(CLUSTER, "aurora", {}, environment="dev")
    assert messages("aws-rds-deletion-protection-prod", cluster, environment="dev") == []


def test_rds_multi_az_in_prod_only() -> None:
    props = RDS_OK | {"multiAz": None}
    assert messages("aws-rds-multi-az-prod", make(INSTANCE, "db", props)) == [
        "db: instance is not Multi-AZ"
    ]
    dev = make(INSTANCE, "db", props, environment="dev")
    assert messages("aws-rds-multi-az-prod", dev, environment="dev") == []


SECRET_IN_STATE = {
    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
    "ciphertext": "v1:abc",
}


def test_rds_passwords_as_secrets_pass() -> None:
    recorded = make(INSTANCE, "db", {"password": "[secret]"})
    exported = make(CLUSTER, "aurora", {"masterPassword": SECRET_IN_STATE})
    assert messages("aws-rds-no-plaintext-password", recorded, exported) == []


def test_rds_plaintext_passwords() -> None:
    instance = make(INSTANCE, "db", {"password": "hunter2", "passwordWo": "[secret]"})
    cluster = make(CLUSTER, "aurora", {"masterPasswordWo": "hunter2"})
    assert messages("aws-rds-no-plaintext-password", instance, cluster) == [
        "aurora: masterPasswordWo is plain text: use manageMasterUserPassword or a secret",
        "db: password is plain text: use manageMasterUserPassword or a secret",
    ]


# --- serving: models, endpoint configurations, endpoints, the scoring API ----------------

MODEL = "aws:sagemaker/model:Model"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
MODEL_OK = {
    "enableNetworkIsolation": True,
    "vpcConfig": {"securityGroupIds": ["sg-1"], "subnets": ["subnet-a", "subnet-b"]},
}
INSTANCES = {"variantName": "primary", "instanceType": "ml.c5.xlarge", "initialInstanceCount": 2}
SERVERLESS = {"variantName": "primary", "serverlessConfig": {"maxConcurrency": 5}}
CAPTURE = {"enableCapture": True, "initialSamplingPercentage": 20, "kmsKeyId": KEY}
CONFIG_OK = {"kmsKeyArn": KEY, "productionVariants": [INSTANCES], "dataCaptureConfig": CAPTURE}


def config(props: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return make(CONFIG, "serving-config", CONFIG_OK | (props or {}), **kwargs)


def test_model_compliant() -> None:
    model = make(MODEL, "m", MODEL_OK)
    assert messages("aws-sagemaker-model-network-isolation", model) == []
    assert messages("aws-sagemaker-model-vpc", model) == []


def test_model_without_network_isolation() -> None:
    model = make(MODEL, "m", MODEL_OK | {"enableNetworkIsolation": False})
    assert messages("aws-sagemaker-model-network-isolation", model) == [
        "m: model network isolation is not enabled"
    ]


def test_model_outside_the_vpc() -> None:
    assert messages("aws-sagemaker-model-vpc", make(MODEL, "m", {})) == [
        "m: model has no VPC config"
    ]
    partial = make(MODEL, "m", {"vpcConfig": {"subnets": [], "securityGroupIds": None}})
    assert messages("aws-sagemaker-model-vpc", partial) == [
        "m: model VPC config has no subnets",
        "m: model VPC config has no security groups",
    ]


def test_endpoint_config_kms() -> None:
    assert messages("aws-sagemaker-endpoint-config-kms", config()) == []
    assert messages("aws-sagemaker-endpoint-config-kms", config({"kmsKeyArn": None})) == [
        "serving-config: endpoint configuration has no KMS key (kmsKeyArn)"
    ]


def test_endpoint_config_kms_exempts_serverless_only_configurations() -> None:
    serverless = config({"kmsKeyArn": None, "productionVariants": [SERVERLESS]})
    assert messages("aws-sagemaker-endpoint-config-kms", serverless) == []
    mixed = config({"kmsKeyArn": None, "productionVariants": [SERVERLESS, INSTANCES]})
    assert messages("aws-sagemaker-endpoint-config-kms", mixed) == [
        "serving-config: endpoint configuration has no KMS key (kmsKeyArn)"
    ]


def test_endpoint_config_prod_capacity() -> None:
    from_state = config({"productionVariants": [INSTANCES | {"initialInstanceCount": 2.0}]})
    assert messages("aws-sagemaker-endpoint-config-prod-capacity", config(), from_state) == []


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([INSTANCES | {"initialInstanceCount": 1}], "variant primary has 1 instance(s)"),
        ([SERVERLESS], "variant primary is serverless"),
        (
            [{"variantName": "primary", "instanceType": "ml.m5.large"}],
            "variant primary has no initialInstanceCount",
        ),
    ],
)
def test_endpoint_config_prod_capacity_too_small(variants: list, message: str) -> None:
    found = config({"productionVariants": variants})
    assert messages("aws-sagemaker-endpoint-config-prod-capacity", found) == [
        f"serving-config: {message}; prod needs 2 or more instances"
    ]


def test_endpoint_config_prod_capacity_unreadable_and_dev() -> None:
    assert messages(
        "aws-sagemaker-endpoint-config-prod-capacity", config({"productionVariants": None})
    ) == ["serving-config: endpoint configuration has no readable production variants"]
    dev = config({"productionVariants": [SERVERLESS]}, environment="dev")
    assert messages("aws-sagemaker-endpoint-config-prod-capacity", dev, environment="dev") == []


RESOURCE_ID = "endpoint/fraud/variant/primary"
TARGET_OK = {
    "serviceNamespace": "sagemaker",
    "resourceId": RESOURCE_ID,
    "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
    "minCapacity": 2,
    "maxCapacity": 6,
}
POLICY_OK = {"serviceNamespace": "sagemaker", "resourceId": RESOURCE_ID}


def serving_stack(
    *, target: dict | None = TARGET_OK, policy: dict | None = POLICY_OK, environment: str = "prod"
) -> list[Any]:
    """An endpoint `fraud` joined to its configuration by logical name, as recorded."""
    resources = [
        make(
            ENDPOINT,
            "endpoint",
            {"name": "fraud", "endpointConfigName": "serving-config"},
            environment=environment,
        ),
        config(environment=environment),
    ]
    if target is not None:
        resources.append(make(TARGET, "target", target, environment=environment))
    if policy is not None:
        resources.append(make(SCALING_POLICY, "scaling", policy, environment=None))
    return resources


def test_endpoint_autoscaling_compliant() -> None:
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", *serving_stack()) == []


def test_endpoint_autoscaling_joins_state_files_by_physical_name() -> None:
    endpoint = make(ENDPOINT, "endpoint", {"name": "fraud", "endpointConfigName": "cfg-1a2b3c"})
    physical = make(CONFIG, "serving-config", CONFIG_OK | {"name": "cfg-1a2b3c"})
    others = serving_stack()[2:]
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", endpoint, physical, *others) == []


def test_endpoint_autoscaling_missing() -> None:
    assert messages(
        "aws-sagemaker-endpoint-autoscaling-prod", *serving_stack(target=None, policy=None)
    ) == [
        "endpoint: variant primary has no autoscaling target",
        "endpoint: variant primary has no autoscaling policy",
    ]


def test_endpoint_autoscaling_floor_too_low_and_other_namespaces_ignored() -> None:
    resources = serving_stack(
        target=TARGET_OK | {"minCapacity": 1.0},
        policy=POLICY_OK | {"serviceNamespace": "ecs"},
    )
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", *resources) == [
        "target: autoscaling target minCapacity is 1; prod needs 2 or more",
        "endpoint: variant primary has no autoscaling policy",
    ]


def test_endpoint_autoscaling_unknown_configuration_serverless_and_dev() -> None:
    orphan = make(ENDPOINT, "endpoint", {"name": "fraud", "endpointConfigName": "elsewhere"})
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", orphan) == [
        "endpoint: endpoint configuration elsewhere is not in the stack"
    ]
    resources = serving_stack(target=None, policy=None)
    resources[1] = config({"productionVariants": [SERVERLESS]})
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", *resources) == []
    dev = serving_stack(target=None, policy=None, environment="dev")
    assert messages("aws-sagemaker-endpoint-autoscaling-prod", *dev, environment="dev") == []


def test_endpoint_data_capture_compliant_and_serverless_exempt() -> None:
    serverless = config({"productionVariants": [SERVERLESS], "dataCaptureConfig": None})
    assert messages("aws-sagemaker-endpoint-data-capture", config(), serverless) == []


@pytest.mark.parametrize(
    ("capture", "found"),
    [
        (None, ["endpoint configuration does not capture data"]),
        (CAPTURE | {"enableCapture": False}, ["data capture is disabled (enableCapture false)"]),
        (
            CAPTURE | {"initialSamplingPercentage": 0},
            ["data capture samples no requests (initialSamplingPercentage)"],
        ),
        (
            CAPTURE | {"kmsKeyId": None},
            ["captured data has no KMS key (dataCaptureConfig.kmsKeyId)"],
        ),
    ],
)
def test_endpoint_data_capture_missing(capture: dict | None, found: list[str]) -> None:
    staging = config({"dataCaptureConfig": capture}, environment="staging")
    assert messages("aws-sagemaker-endpoint-data-capture", staging, environment="staging") == [
        f"serving-config: {message}" for message in found
    ]


def test_endpoint_data_capture_not_required_in_dev() -> None:
    dev = config({"dataCaptureConfig": None}, environment="dev")
    assert messages("aws-sagemaker-endpoint-data-capture", dev, environment="dev") == []


ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"


def route(key: str, authorization: str | None) -> Any:
    props = {"apiId": "a1", "routeKey": key, "authorizationType": authorization}
    return make(ROUTE, "route", props, environment=None)


@pytest.mark.parametrize("authorization", ["AWS_IAM", "JWT", "CUSTOM"])
def test_route_authorization_compliant(authorization: str) -> None:
    assert (
        messages("aws-apigatewayv2-route-authorization", route("POST /score", authorization)) == []
    )


@pytest.mark.parametrize(
    ("key", "authorization", "message"),
    [
        ("POST /score", None, "route has no authorization (authorizationType unset)"),
        ("$default", "NONE", "route allows unauthenticated calls (authorizationType NONE)"),
        ("$connect", "OPEN", "route authorizationType 'OPEN' is not AWS_IAM, JWT or CUSTOM"),
    ],
)
def test_route_without_authorization(key: str, authorization: str | None, message: str) -> None:
    assert messages("aws-apigatewayv2-route-authorization", route(key, authorization)) == [
        f"route: {message}"
    ]


def test_websocket_message_routes_cannot_take_authorization() -> None:
    assert messages("aws-apigatewayv2-route-authorization", route("$disconnect", "NONE")) == []
    assert messages("aws-apigatewayv2-route-authorization", route("sendmessage", None)) == []


ACCESS_LOGS = {"destinationArn": "arn:aws:logs:eu-west-1:1:log-group:/api", "format": "{}"}


def test_stage_access_logs() -> None:
    ok = make(STAGE, "stage", {"accessLogSettings": ACCESS_LOGS})
    assert messages("aws-apigatewayv2-stage-access-logs", ok) == []
    assert messages("aws-apigatewayv2-stage-access-logs", make(STAGE, "stage", {})) == [
        "stage: stage has no access logging (accessLogSettings)"
    ]
    partial = make(STAGE, "stage", {"accessLogSettings": {"destinationArn": "", "format": None}})
    assert messages("aws-apigatewayv2-stage-access-logs", partial) == [
        "stage: access logs have no destination (accessLogSettings.destinationArn)",
        "stage: access logs have no format (accessLogSettings.format)",
    ]


# --- monitoring: alarms, the monitoring jobs' schedules, Model Monitor jobs -----------------

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"


def endpoint_alarm(metric: str, endpoint: str = "fraud", **props: Any) -> dict[str, Any]:
    return {
        "namespace": "AWS/SageMaker",
        "metricName": metric,
        "dimensions": {"EndpointName": endpoint, "VariantName": "primary"},
        "alarmActions": [TOPIC],
    } | props


def alarm_stack(latency: dict | None, errors: dict | None, environment: str = "prod") -> list:
    endpoint = make(ENDPOINT, "endpoint", {"name": "fraud"}, environment=environment)
    alarms = [
        make(METRIC_ALARM, name, props, environment=environment)
        for name, props in (("latency", latency), ("5xx", errors))
        if props is not None
    ]
    return [endpoint, *alarms]


def test_endpoint_alarms_compliant() -> None:
    resources = alarm_stack(endpoint_alarm("ModelLatency"), endpoint_alarm("Invocation5XXErrors"))
    assert messages("aws-sagemaker-endpoint-alarms-prod", *resources) == []


def test_endpoint_alarms_from_metric_math_count() -> None:
    query = {"id": "m1", "metric": endpoint_alarm("ModelLatency", alarmActions=None)}
    math = {"metricQueries": [query, {"id": "e1", "expression": "m1/1000"}]}
    math["alarmActions"] = [TOPIC]
    resources = alarm_stack(math, endpoint_alarm("Invocation5XXErrors"))
    assert messages("aws-sagemaker-endpoint-alarms-prod", *resources) == []


def test_endpoint_alarms_missing_or_silent() -> None:
    resources = alarm_stack(
        endpoint_alarm("ModelLatency", endpoint="another-endpoint"),
        endpoint_alarm("Invocation5XXErrors", alarmActions=[]),
    )
    assert messages("aws-sagemaker-endpoint-alarms-prod", *resources) == [
        "endpoint: endpoint has no ModelLatency alarm",
        "endpoint: endpoint's Invocation5XXErrors alarm has no alarm action",
    ]
    dev = alarm_stack(None, None, environment="dev")
    assert messages("aws-sagemaker-endpoint-alarms-prod", *dev, environment="dev") == []


def test_alarm_actions_enabled() -> None:
    metric = make(METRIC_ALARM, "latency", endpoint_alarm("ModelLatency", actionsEnabled=True))
    composite = make(COMPOSITE_ALARM, "drift", {"alarmRule": "ALARM(a)", "alarmActions": [TOPIC]})
    assert messages("aws-cloudwatch-alarm-actions-enabled", metric, composite) == []
    disabled = make(METRIC_ALARM, "latency", endpoint_alarm("ModelLatency", actionsEnabled=False))
    silent = make(COMPOSITE_ALARM, "drift", {"alarmRule": "ALARM(a)"})
    assert messages("aws-cloudwatch-alarm-actions-enabled", disabled, silent) == [
        "drift: alarm has no alarm action",
        "latency: alarm actions are disabled (actionsEnabled false)",
    ]


DATA_QUALITY = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MODEL_QUALITY = "aws-native:sagemaker:ModelQualityJobDefinition"
NETWORK = {"enableInterContainerTrafficEncryption": True, "enableNetworkIsolation": True}


def monitoring_job(type_: str, **changes: Any) -> Any:
    output = (
        "dataQualityJobOutputConfig" if type_ == DATA_QUALITY else "modelQualityJobOutputConfig"
    )
    props: dict[str, Any] = {
        "jobResources": {"clusterConfig": {"instanceCount": 1, "volumeKmsKeyId": KEY}},
        output: {"kmsKeyId": KEY, "monitoringOutputs": []},
        "networkConfig": dict(NETWORK),
        # aws-native resources list their tags as key/value pairs
        "tags": [{"key": "mlkit:environment", "value": "prod"}]
        if type_ == MODEL_QUALITY
        else {"mlkit:environment": "prod"},
    }
    return make(type_, "job", props | changes)


@pytest.mark.parametrize("type_", [DATA_QUALITY, MODEL_QUALITY])
def test_monitoring_job_compliant(type_: str) -> None:
    assert messages("aws-sagemaker-monitoring-job-encrypted", monitoring_job(type_)) == []


@pytest.mark.parametrize(
    ("type_", "output"),
    [(DATA_QUALITY, "dataQualityJobOutputConfig"), (MODEL_QUALITY, "modelQualityJobOutputConfig")],
)
def test_monitoring_job_unencrypted_and_open(type_: str, output: str) -> None:
    job = monitoring_job(
        type_,
        jobResources={"clusterConfig": {"instanceCount": 1}},
        networkConfig={"enableNetworkIsolation": False},
        **{output: {"monitoringOutputs": []}},
    )
    assert messages("aws-sagemaker-monitoring-job-encrypted", job) == [
        "job: volume has no KMS key (jobResources.clusterConfig.volumeKmsKeyId)",
        f"job: output has no KMS key ({output}.kmsKeyId)",
        "job: network isolation is not enabled (networkConfig.enableNetworkIsolation)",
        "job: inter-container traffic encryption is not enabled "
        "(networkConfig.enableInterContainerTrafficEncryption)",
    ]


SCHEDULE = "aws:scheduler/schedule:Schedule"
UNIVERSAL = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
LAUNCHER = "arn:aws:lambda:eu-west-1:123456789012:function:fraud-monitoring-launcher"
PINNED = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/monitoring@sha256:" + "0" * 64
JOB_REQUEST = {
    "AppSpecification": {"ImageUri": PINNED},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "VolumeKmsKeyId": KEY}},
    "ProcessingOutputConfig": {"KmsKeyId": KEY, "Outputs": []},
    "NetworkConfig": {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        "VpcConfig": copy.deepcopy(VPC),
    },
}
ISOLATED = "aws-scheduler-schedule-processing-job-isolated"


def schedule(arn: str = LAUNCHER, payload: Any = None, **props: Any) -> Any:
    """A schedule starting a processing job: through the kit's launcher (the request inside
    its input) or the universal target (the input is the request)."""
    if payload is None:
        request = copy.deepcopy(JOB_REQUEST)
        payload = request if arn == UNIVERSAL else {"monitor": "drift", "request": request}
    target = {
        "arn": arn,
        "roleArn": "r",
        "input": payload if isinstance(payload, str) else json.dumps(payload),
    }
    return make(SCHEDULE, "schedule", {"kmsKeyArn": KEY, "target": target} | props)


@pytest.mark.parametrize("arn", [LAUNCHER, UNIVERSAL])
def test_processing_job_schedule_compliant(arn: str) -> None:
    assert messages(ISOLATED, schedule(arn)) == []


@pytest.mark.parametrize("arn", [LAUNCHER, UNIVERSAL])
def test_processing_job_schedule_open_and_unencrypted(arn: str) -> None:
    request = {
        "AppSpecification": {"ImageUri": PINNED.split("@")[0] + ":latest"},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1}},
        "ProcessingOutputConfig": {"Outputs": []},
        "NetworkConfig": {"EnableNetworkIsolation": False, "VpcConfig": {"Subnets": []}},
    }
    payload = request if arn == UNIVERSAL else {"request": request}
    assert messages(ISOLATED, schedule(arn, payload, kmsKeyArn=None)) == [
        "schedule: schedule payload (the job request) has no customer-managed key (kmsKeyArn)",
        "schedule: job volume has no KMS key (ProcessingResources.ClusterConfig.VolumeKmsKeyId)",
        "schedule: job outputs have no KMS key (ProcessingOutputConfig.KmsKeyId)",
        "schedule: job runs without network isolation (NetworkConfig.EnableNetworkIsolation)",
        "schedule: job traffic between instances is not encrypted "
        "(NetworkConfig.EnableInterContainerTrafficEncryption)",
        "schedule: job runs outside the VPC (NetworkConfig.VpcConfig subnets and security groups)",
        "schedule: job image is not pinned by digest (AppSpecification.ImageUri)",
    ]


def test_a_universal_target_without_a_readable_request() -> None:
    target = {"arn": UNIVERSAL, "roleArn": "r"}
    assert messages(ISOLATED, make(SCHEDULE, "schedule", {"kmsKeyArn": KEY, "target": target})) == [
        "schedule: the target has no input (the CreateProcessingJob request)"
    ]
    assert messages(ISOLATED, schedule(UNIVERSAL, "{not json")) == [
        "schedule: the target input is not JSON"
    ]
    assert messages(ISOLATED, schedule(UNIVERSAL, "[1]")) == [
        "schedule: the target input is not a JSON object"
    ]


def test_schedules_that_start_no_processing_job_are_not_checked() -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:q"
    assert messages(ISOLATED, schedule(queue, "plain text message")) == []
    assert messages(ISOLATED, schedule(LAUNCHER, {"monitor": "drift"})) == []


CAPTURED = "s3://artifacts/data-capture/fraud"
CAPTURE_MONITORED = "aws-sagemaker-endpoint-capture-monitored"


def capturing_config(**capture: Any) -> Any:
    return config({"dataCaptureConfig": CAPTURE | {"destinationS3Uri": CAPTURED} | capture})


def reading_schedule() -> Any:
    request = copy.deepcopy(JOB_REQUEST)
    request["ProcessingInputs"] = [{"S3Input": {"S3Uri": f"{CAPTURED}/fraud/primary/"}}]
    return schedule(LAUNCHER, {"request": request})


def test_captured_data_read_by_a_schedule_is_monitored() -> None:
    assert messages(CAPTURE_MONITORED, capturing_config(), reading_schedule()) == []
    # Nothing captured, nothing to monitor.
    assert messages(CAPTURE_MONITORED, capturing_config(enableCapture=False)) == []
    assert messages(CAPTURE_MONITORED, capturing_config(initialSamplingPercentage=0)) == []
    assert messages(CAPTURE_MONITORED, config({"dataCaptureConfig": None})) == []


def test_captured_data_nobody_reads_is_noted_never_blocking() -> None:
    note = (
        "serving-config: captured data (s3://artifacts/data-capture/fraud) is not monitored: no "
        "schedule starts a job that reads it (the kit's jobs: set mlkit:monitoring.jobImage)"
    )
    assert messages(CAPTURE_MONITORED, capturing_config()) == [note]
    other = schedule(LAUNCHER, {"request": copy.deepcopy(JOB_REQUEST)})
    assert messages(CAPTURE_MONITORED, capturing_config(), other) == [note]
    from policies.evaluate import evaluate
    from tests.policies.conftest import control

    report = evaluate([capturing_config()], "prod", [control(CAPTURE_MONITORED)])
    assert [v.enforcement for v in report.violations] == ["advisory"]


def test_a_schedule_input_unknown_in_a_preview_may_read_the_capture() -> None:
    unknown = make(SCHEDULE, "schedule", {"target": {"arn": LAUNCHER, "input": None}})
    assert messages(CAPTURE_MONITORED, capturing_config(), unknown) == []


# --- as `pulumi preview --policy-pack` hands inputs over ------------------------------------


def live(resource: Any) -> Any:
    """The resource with its inputs wrapped as CrossGuard wraps them during a preview:
    objects become Mappings and arrays Sequences, neither dict nor list."""
    return dataclasses.replace(resource, props=unknown_checking_proxy(dict(resource.props)))


COMPLIANT: list[tuple[str, list[Any]]] = [
    (VPC_ISOLATED, [pipeline(definition())]),
    (ENCRYPTED, [pipeline(definition())]),
    *[
        (policy_id, [make(INSTANCE, "db", RDS_OK), make(CLUSTER, "c", CLUSTER_OK)])
        for policy_id in RDS_CONTROLS
    ],
    ("aws-rds-no-plaintext-password", [make(CLUSTER, "c", {"masterPassword": SECRET_IN_STATE})]),
    ("aws-sagemaker-model-network-isolation", [make(MODEL, "m", MODEL_OK)]),
    ("aws-sagemaker-model-vpc", [make(MODEL, "m", MODEL_OK)]),
    ("aws-sagemaker-endpoint-config-kms", [config()]),
    ("aws-sagemaker-endpoint-config-prod-capacity", [config()]),
    ("aws-sagemaker-endpoint-autoscaling-prod", serving_stack()),
    ("aws-sagemaker-endpoint-data-capture", [config()]),
    ("aws-apigatewayv2-route-authorization", [route("POST /score", "AWS_IAM")]),
    ("aws-apigatewayv2-stage-access-logs", [make(STAGE, "s", {"accessLogSettings": ACCESS_LOGS})]),
    (
        "aws-sagemaker-endpoint-alarms-prod",
        alarm_stack(endpoint_alarm("ModelLatency"), endpoint_alarm("Invocation5XXErrors")),
    ),
    ("aws-cloudwatch-alarm-actions-enabled", [make(METRIC_ALARM, "a", endpoint_alarm("X"))]),
    ("aws-sagemaker-monitoring-job-encrypted", [monitoring_job(DATA_QUALITY)]),
    ("aws-sagemaker-monitoring-job-encrypted", [monitoring_job(MODEL_QUALITY)]),
    (ISOLATED, [schedule(LAUNCHER)]),
    (ISOLATED, [schedule(UNIVERSAL)]),
    (CAPTURE_MONITORED, [capturing_config(), reading_schedule()]),
]


@pytest.mark.parametrize(("policy_id", "resources"), COMPLIANT, ids=[c[0] for c in COMPLIANT])
def test_compliant_inputs_pass_as_crossguard_wraps_them(policy_id: str, resources: list) -> None:
    assert messages(policy_id, *[live(r) for r in resources]) == []


def test_violations_are_still_found_in_wrapped_inputs() -> None:
    model = live(make(MODEL, "m", {"vpcConfig": {"subnets": [], "securityGroupIds": ["sg-1"]}}))
    assert messages("aws-sagemaker-model-vpc", model) == ["m: model VPC config has no subnets"]
