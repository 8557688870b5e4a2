"""Data-plane controls (feature store, streaming, network, edge, ECR): a compliant fixture
passes, then one change per rule branch fails with its exact message; prod-only controls
leave dev alone; joins work on the recorder's logical names and on state files' physical
ones."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import unknown_checking_proxy

from policies.control import Resource
from tests.policies.conftest import control, make, messages

KEY = "arn:aws:kms:eu-west-1:111122223333:key/1b2c3d4e"
COMPONENT = "urn:pulumi:fraud-prod::mlkit::mlkit:network:Network::net"


def under(resource: Resource, parent: str) -> Resource:
    return dataclasses.replace(resource, parent=parent)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- feature store --------------------------------------------------------------------------

FEATURE_GROUP_TYPES = (
    "aws-native:sagemaker:FeatureGroup",
    "aws:sagemaker/featureGroup:FeatureGroup",
)
ONLINE = {"enableOnlineStore": True, "securityConfig": {"kmsKeyId": KEY}}
OFFLINE = {
    "s3StorageConfig": {"s3Uri": "s3://offline/store", "kmsKeyId": KEY},
    "dataCatalogConfig": {"catalog": "AwsDataCatalog", "database": "db", "tableName": "t"},
}


@pytest.fixture(params=FEATURE_GROUP_TYPES)
def group(request: pytest.FixtureRequest) -> Callable[..., Resource]:
    """Feature groups of the kit's type (aws-native) and of pulumi-aws's, which a user's own
    stack may use: the controls read both."""

    def make_group(name: str = "features", **props: Any) -> Resource:
        defaults = {"onlineStoreConfig": ONLINE, "offlineStoreConfig": OFFLINE}
        return make(request.param, name, defaults | props)

    return make_group


def test_feature_group_online_kms(group: Callable[..., Resource]) -> None:
    policy = "aws-sagemaker-feature-group-online-kms"
    assert messages(policy, group()) == []
    assert messages(policy, group(onlineStoreConfig=None)) == []  # offline only
    no_key = {"enableOnlineStore": True, "ttlDuration": {"unit": "Days", "value": 7}}
    assert messages(policy, group(onlineStoreConfig={"enableOnlineStore": False})) == []
    assert messages(policy, group(onlineStoreConfig=no_key)) == [
        "features: online store has no KMS key (onlineStoreConfig.securityConfig.kmsKeyId)"
    ]


def test_feature_group_offline_kms(group: Callable[..., Resource]) -> None:
    policy = "aws-sagemaker-feature-group-offline-kms"
    assert messages(policy, group()) == []
    assert messages(policy, group(offlineStoreConfig=None)) == []  # online only
    no_key = OFFLINE | {"s3StorageConfig": {"s3Uri": "s3://offline/store"}}
    assert messages(policy, group(offlineStoreConfig=no_key)) == [
        "features: offline store has no KMS key (offlineStoreConfig.s3StorageConfig.kmsKeyId)"
    ]


def test_feature_group_offline_catalog(group: Callable[..., Resource]) -> None:
    policy = "aws-sagemaker-feature-group-offline-catalog"
    own_table = OFFLINE | {"disableGlueTableCreation": True}
    assert messages(policy, group(), group("own-table", offlineStoreConfig=own_table)) == []
    uncatalogued = {"s3StorageConfig": OFFLINE["s3StorageConfig"], "disableGlueTableCreation": True}
    assert messages(policy, group(offlineStoreConfig=uncatalogued)) == [
        "features: offline store is not catalogued (Glue table creation disabled, "
        "no dataCatalogConfig)"
    ]


CATALOG_SETTINGS = "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"


def catalog_settings(mode: str) -> Resource:
    at_rest = {"catalogEncryptionMode": mode, "sseAwsKmsKeyId": KEY}
    return make(
        CATALOG_SETTINGS,
        "catalog-encryption",
        {"dataCatalogEncryptionSettings": {"encryptionAtRest": at_rest}},
        environment=None,
    )


def test_glue_data_catalog_encryption(group: Callable[..., Resource]) -> None:
    policy = "aws-glue-data-catalog-encryption"
    assert messages(policy, group(), catalog_settings("SSE-KMS")) == []
    assert messages(policy, group(offlineStoreConfig=None)) == []  # nothing catalogued
    assert messages(policy, group("b-features"), group("a-features")) == [
        "a-features: offline feature stores are catalogued in Glue, but no Glue Data Catalog "
        "encryption settings with SSE-KMS at rest are in this stack (one account-level "
        "setting per region, managed outside the stacks)"
    ]
    assert messages(policy, group(), catalog_settings("DISABLED")) == [
        "catalog-encryption: Glue Data Catalog encryption at rest is DISABLED, not SSE-KMS"
    ]
    # The setting belongs to the account, not the stack: it never blocks a deployment.
    assert {control(policy).enforcement(env) for env in ("dev", "staging", "prod")} == {"advisory"}


TABLE = "aws:dynamodb/table:Table"
TABLE_PROPS = {
    "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY},
    "pointInTimeRecovery": {"enabled": True},
    "deletionProtectionEnabled": True,
}


def table(environment: str = "prod", **props: Any) -> Resource:
    return make(TABLE, "state", TABLE_PROPS | props, environment=environment)


def test_dynamodb_table_cmk() -> None:
    policy = "aws-dynamodb-table-cmk"
    assert messages(policy, table()) == []
    assert messages(policy, table(serverSideEncryption=None)) == [
        "state: table is encrypted with an AWS-owned key (serverSideEncryption not enabled)"
    ]
    assert messages(policy, table(serverSideEncryption={"enabled": True})) == [
        "state: table is encrypted with the AWS managed key aws/dynamodb (no kmsKeyArn)"
    ]


@pytest.mark.parametrize(
    ("policy", "change", "message"),
    [
        (
            "aws-dynamodb-table-pitr-prod",
            {"pointInTimeRecovery": {"enabled": False}},
            "state: point-in-time recovery is not enabled",
        ),
        (
            "aws-dynamodb-table-deletion-protection-prod",
            {"deletionProtectionEnabled": False},
            "state: deletion protection is not enabled",
        ),
    ],
)
def test_dynamodb_table_prod_durability(policy: str, change: dict, message: str) -> None:
    assert messages(policy, table()) == []
    assert messages(policy, table(**change)) == [message]
    assert messages(policy, table("dev", **change), environment="dev") == []


REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
REDIS_PROPS = {
    "atRestEncryptionEnabled": True,
    "transitEncryptionEnabled": True,
    "kmsKeyId": KEY,
    "snapshotRetentionLimit": 7,
}


def redis(**props: Any) -> Resource:
    return make(REDIS, "cache", REDIS_PROPS | props)


def test_elasticache_redis_encryption() -> None:
    policy = "aws-elasticache-redis-encryption"
    state_file_shape = {"atRestEncryptionEnabled": "true", "transitEncryptionMode": "required"}
    assert messages(policy, redis(), redis(**state_file_shape)) == []
    off = {"atRestEncryptionEnabled": False, "transitEncryptionEnabled": None, "kmsKeyId": ""}
    assert messages(policy, redis(**off)) == [
        "cache: at-rest encryption is not enabled",
        "cache: in-transit encryption is not enabled",
        "cache: no customer-managed KMS key (kmsKeyId)",
    ]
    assert messages(policy, redis(transitEncryptionMode="preferred")) == [
        "cache: in-transit encryption is only preferred: plaintext connections are accepted"
    ]


def test_elasticache_redis_backups() -> None:
    policy = "aws-elasticache-redis-backups"
    assert messages(policy, redis(), redis(snapshotRetentionLimit=1.0)) == []
    assert messages(policy, redis(snapshotRetentionLimit=None)) == [
        "cache: automatic backups are off (snapshotRetentionLimit not set)"
    ]
    assert messages(policy, redis(snapshotRetentionLimit=0.0)) == [
        "cache: automatic backups are off (snapshotRetentionLimit 0)"
    ]


# --- streaming ------------------------------------------------------------------------------

STREAM = "aws:kinesis/stream:Stream"


def test_kinesis_stream_kms() -> None:
    policy = "aws-kinesis-stream-kms"
    assert messages(policy, make(STREAM, "s", {"encryptionType": "KMS", "kmsKeyId": KEY})) == []
    assert messages(policy, make(STREAM, "s", {})) == [
        "s: stream is not encrypted with KMS (encryptionType NONE)"
    ]
    assert messages(policy, make(STREAM, "s", {"encryptionType": "KMS"})) == [
        "s: stream has encryptionType KMS but no kmsKeyId"
    ]
    aws_key = {"encryptionType": "KMS", "kmsKeyId": "alias/aws/kinesis"}
    assert messages(policy, make(STREAM, "s", aws_key)) == [
        "s: stream uses the AWS managed key alias/aws/kinesis, not a customer-managed key"
    ]


MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
STREAM_ARN = "arn:aws:kinesis:eu-west-1:111122223333:stream/transactions"
DLQ_ARN = "arn:aws:sqs:eu-west-1:111122223333:dead-letters"
ON_FAILURE = {"onFailure": {"destinationArn": DLQ_ARN}}


def mapping(name: str, source: str | None, **props: Any) -> Resource:
    return make(MAPPING, name, {"eventSourceArn": source, "functionName": "fn"} | props)


def queue_source(queue: str) -> str:
    return f"arn:aws:sqs:eu-west-1:111122223333:{queue}"


def test_event_source_mapping_failure_destination_compliant() -> None:
    redrive = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5})
    separate = make(
        "aws:sqs/redrivePolicy:RedrivePolicy",
        "jobs-redrive",
        {
            "queueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs",
            "redrivePolicy": redrive,
        },
        environment=None,
    )
    assert (
        messages(
            "aws-lambda-event-source-mapping-failure-destination",
            mapping("stream", STREAM_ARN, destinationConfig=ON_FAILURE),
            make(QUEUE, "requests", {"redrivePolicy": redrive}),
            mapping("requests", queue_source("requests")),
            make(QUEUE, "jobs-queue", {"name": "jobs"}),  # physical name, separate policy
            separate,
            mapping("jobs", queue_source("jobs")),
            mapping("shared", queue_source("other-stacks-queue")),  # not in view: skipped
        )
        == []
    )


def test_event_source_mapping_failure_destination_missing() -> None:
    kafka = {"selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": "b:9092"}}}
    assert messages(
        "aws-lambda-event-source-mapping-failure-destination",
        mapping("a-stream", STREAM_ARN),
        mapping("b-kafka", None, **kafka),
        make(QUEUE, "requests", {}),
        mapping("c-queue", queue_source("requests")),
    ) == [
        "a-stream: stream event source mapping has no on-failure destination",
        "b-kafka: stream event source mapping has no on-failure destination",
        "c-queue: source queue requests has no redrive policy (dead-letter queue)",
    ]


# --- network --------------------------------------------------------------------------------

VPC = "aws:ec2/vpc:Vpc"
DEFAULT_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SUBNET = "aws:ec2/subnet:Subnet"


def network(vpc_id: str = "vpc-id", **default_group: Any) -> list[Resource]:
    """A VPC and its closed default group, as the recorder gives them (mock id `<name>-id`)."""
    return [
        make(VPC, "vpc", {"cidrBlock": "10.42.0.0/16"}),
        make(
            DEFAULT_GROUP,
            "default-sg",
            {"vpcId": vpc_id, "ingress": [], "egress": []} | default_group,
        ),
    ]


def test_default_security_group_closed_compliant() -> None:
    policy = "aws-ec2-default-security-group-closed"
    other_group_rule = make(INGRESS_RULE, "https", {"securityGroupId": "workload-sg-id"})
    assert messages(policy, *network(), other_group_rule) == []
    # A state file: the default group holds the VPC's physical id, absent from its inputs.
    assert messages(policy, *network("vpc-0a1b2c3d", ingress=None, egress=None)) == []


def test_default_security_group_closed_violations() -> None:
    allow_all = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]
    opens_default = make(INGRESS_RULE, "ssh", {"securityGroupId": "default-sg-id"})
    assert messages(
        "aws-ec2-default-security-group-closed",
        *network(ingress=allow_all, egress=allow_all),
        make(VPC, "unmanaged-vpc", {"cidrBlock": "10.43.0.0/16"}),
        opens_default,
    ) == [
        "default-sg: default security group has ingress rules",
        "default-sg: default security group has egress rules",
        "unmanaged-vpc: VPC does not manage its default security group, which keeps AWS's "
        "allow-all rules",
        "ssh: rule opens the default security group",
    ]


def test_security_group_no_public_ingress_compliant() -> None:
    inside = [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.42.0.0/16"]}]
    egress_rule = {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "-1"}
    assert (
        messages(
            "aws-ec2-security-group-no-public-ingress",
            make(GROUP, "endpoints", {"ingress": inside, "egress": []}),
            make(INGRESS_RULE, "from-vpc", {"cidrIpv4": "10.42.0.0/16", "ipProtocol": "tcp"}),
            make(RULE, "egress", egress_rule),
        )
        == []
    )


def test_security_group_no_public_ingress_violations() -> None:
    ssh = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
    everything = {"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}
    https_v6 = {"cidrIpv6": "::/0", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0}
    ports = {"type": "ingress", "protocol": "tcp", "fromPort": 8000, "toPort": 8080}
    assert messages(
        "aws-ec2-security-group-no-public-ingress",
        make(GROUP, "bastion", {"ingress": [ssh, everything]}),
        make(DEFAULT_GROUP, "default-sg", {"ingress": [ssh]}),
        make(INGRESS_RULE, "https", https_v6),
        make(RULE, "dashboards", ports | {"cidrBlocks": ["0.0.0.0/0"]}),
    ) == [
        "default-sg: ingress from 0.0.0.0/0 (tcp 22)",
        "bastion: ingress from 0.0.0.0/0 (tcp 22)",
        "bastion: ingress from ::/0 (all traffic)",
        "dashboards: ingress from 0.0.0.0/0 (tcp 8000-8080)",
        "https: ingress from ::/0 (tcp 443)",
    ]


def test_vpc_flow_logs_prod() -> None:
    policy = "aws-ec2-vpc-flow-logs-prod"
    vpc = make(VPC, "vpc", {"cidrBlock": "10.42.0.0/16"})
    log = make(FLOW_LOG, "flow-log", {"vpcId": "vpc-id", "trafficType": "ALL"})
    assert messages(policy, vpc, log) == []
    subnet_log = make(FLOW_LOG, "subnet-log", {"subnetId": "subnet-id", "trafficType": "ALL"})
    assert messages(policy, vpc, subnet_log) == ["vpc: VPC has no flow log"]
    other_vpc_log = make(FLOW_LOG, "flow-log", {"vpcId": "other-vpc-id", "trafficType": "ALL"})
    assert messages(policy, vpc, other_vpc_log) == ["vpc: VPC has no flow log"]
    dev_vpc = make(VPC, "vpc", {"cidrBlock": "10.40.0.0/16"}, environment="dev")
    assert messages(policy, dev_vpc, environment="dev") == []


def test_vpc_flow_logs_from_state_files() -> None:
    """State files reference the VPC by its physical id, which the VPC's inputs lack."""
    policy = "aws-ec2-vpc-flow-logs-prod"
    physical = make(FLOW_LOG, "flow-log", {"vpcId": "vpc-0a1b2c3d", "trafficType": "ALL"})
    vpc = make(VPC, "vpc", {"cidrBlock": "10.42.0.0/16"})
    assert messages(policy, vpc, physical) == []  # the only VPC whose id is unknown
    known = make(VPC, "vpc", {"cidrBlock": "10.42.0.0/16", "id": "vpc-0a1b2c3d"})
    assert messages(policy, known, physical) == []
    elsewhere = make(VPC, "vpc", {"cidrBlock": "10.42.0.0/16", "id": "vpc-99998888"})
    assert messages(policy, elsewhere, physical) == ["vpc: VPC has no flow log"]
    # Two VPCs with unknown ids: the flow log belongs to the one in its own component.
    second = make(VPC, "second-vpc", {"cidrBlock": "10.43.0.0/16"})
    found = control(policy).stack_check(
        [under(vpc, COMPONENT), under(second, COMPONENT + "-2"), under(physical, COMPONENT)]
    )
    assert [(r.name, message) for r, message in found] == [("second-vpc", "VPC has no flow log")]


def test_interface_endpoints_span_two_zones_in_prod() -> None:
    policy = "aws-ec2-interface-endpoint-multi-az-prod"
    subnets = [
        make(SUBNET, f"private-{zone}", {"availabilityZone": f"eu-west-1{zone}"}) for zone in "ab"
    ]

    def endpoint(*subnet_ids: str, kind: str = "Interface", **options: Any) -> Resource:
        props = {"vpcEndpointType": kind, "subnetIds": list(subnet_ids)}
        return make(ENDPOINT, "sts-endpoint", props, **options)

    assert messages(policy, *subnets, endpoint("private-a-id", "private-b-id")) == []
    assert messages(policy, *subnets, endpoint("private-a-id")) == [
        "sts-endpoint: interface endpoint in 1 AZ(s): one AZ's loss cuts it off"
    ]
    # Two subnets of one AZ are one AZ.
    same_zone = make(SUBNET, "private-a2", {"availabilityZone": "eu-west-1a"})
    assert messages(policy, *subnets, same_zone, endpoint("private-a-id", "private-a2-id")) == [
        "sts-endpoint: interface endpoint in 1 AZ(s): one AZ's loss cuts it off"
    ]
    assert messages(policy, endpoint()) == [
        "sts-endpoint: interface endpoint in 0 AZ(s): one AZ's loss cuts it off"
    ]
    # Subnets outside the stack (physical ids) count one zone each; gateways have no subnets.
    assert messages(policy, endpoint("subnet-0a1b2c3d", "subnet-0e1f2a3b")) == []
    assert messages(policy, endpoint(kind="Gateway")) == []
    assert messages(policy, endpoint("private-a-id", environment="dev"), environment="dev") == []


# --- edge -----------------------------------------------------------------------------------

IOT_POLICY = "aws:iot/policy:Policy"
THING = "arn:aws:iot:eu-west-1:111122223333:thing/press-line-*"
CLIENT = "arn:aws:iot:eu-west-1:111122223333:client/press-line-*"
GREENGRASS_DATA_PLANE = [
    "greengrass:GetComponentVersionArtifact",
    "greengrass:ResolveComponentCandidates",
    "greengrass:GetDeploymentConfiguration",
    "greengrass:ListThingGroupsForCoreDevice",
]


def iot_policy(*statements: dict[str, Any]) -> Resource:
    return make(IOT_POLICY, "devices", {"name": "devices", "policy": document(*statements)})


def test_iot_policy_no_wildcard_compliant() -> None:
    # The Greengrass V2 minimal core-device policy (AWS docs), scoped to this fleet's things.
    assert (
        messages(
            "aws-iot-policy-no-wildcard",
            iot_policy(
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": CLIENT},
                {"Effect": "Allow", "Action": ["iot:GetThingShadow"], "Resource": [THING]},
                {"Effect": "Allow", "Action": GREENGRASS_DATA_PLANE, "Resource": "*"},
                {"Effect": "Deny", "Action": "iot:*", "Resource": "*"},
            ),
        )
        == []
    )


def test_iot_policy_no_wildcard_violations() -> None:
    assert messages(
        "aws-iot-policy-no-wildcard",
        iot_policy(
            {"Effect": "Allow", "Action": ["iot:*", "*"], "Resource": THING},
            {"Effect": "Allow", "Action": ["iot:Publish", *GREENGRASS_DATA_PLANE], "Resource": "*"},
            {"Effect": "Allow", "Action": "greengrass:*", "Resource": ["*"]},
            {"Effect": "Allow", "NotAction": "iot:DeleteThingShadow", "Resource": THING},
        ),
    ) == [
        "devices: policy allows the wildcard action 'iot:*'",
        "devices: policy allows the wildcard action '*'",
        "devices: policy allows iot:Publish on every resource ('*')",
        "devices: policy allows the wildcard action 'greengrass:*'",
        "devices: policy allows greengrass:* on every resource ('*')",
        "devices: policy allows through NotAction/NotResource (an implicit wildcard)",
    ]


@pytest.mark.parametrize("policy", ["{not json", "[secret]", json.dumps({"Statement": []}), None])
def test_iot_policy_unreadable(policy: Any) -> None:
    unreadable = make(IOT_POLICY, "devices", {"policy": policy})
    assert messages("aws-iot-policy-no-wildcard", unreadable) == [
        "devices: policy document is unreadable"
    ]


# --- ECR ------------------------------------------------------------------------------------

REPOSITORY = "aws:ecr/repository:Repository"
REPOSITORY_PROPS = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}],
}


def repository(name: str = "images", **props: Any) -> Resource:
    return make(REPOSITORY, name, REPOSITORY_PROPS | props)


def test_ecr_repository_immutable_tags() -> None:
    policy = "aws-ecr-repository-immutable-tags"
    assert messages(policy, repository()) == []
    assert messages(policy, repository(imageTagMutability=None)) == [
        "images: image tags are mutable (MUTABLE)"
    ]
    assert messages(policy, repository(imageTagMutability="MUTABLE_WITH_EXCLUSION")) == [
        "images: image tags are mutable (MUTABLE_WITH_EXCLUSION)"
    ]
    excluded = {
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "latest", "filterType": "WILDCARD"}],
    }
    assert messages(policy, repository(**excluded)) == [
        "images: tags matching the exclusion filters stay mutable (IMMUTABLE_WITH_EXCLUSION)"
    ]


def test_ecr_repository_scan_on_push() -> None:
    policy = "aws-ecr-repository-scan-on-push"
    assert messages(policy, repository()) == []
    expected = ["images: images are not scanned on push (imageScanningConfiguration.scanOnPush)"]
    assert (
        messages(policy, repository(imageScanningConfiguration={"scanOnPush": False})) == expected
    )
    assert messages(policy, repository(imageScanningConfiguration=None)) == expected


def test_ecr_repository_kms() -> None:
    policy = "aws-ecr-repository-kms"
    assert messages(policy, repository()) == []
    aes = [{"encryptionType": "AES256"}]
    assert messages(policy, repository(encryptionConfigurations=aes)) == [
        "images: images are not encrypted with KMS (encryptionType AES256)"
    ]
    assert messages(policy, repository(encryptionConfigurations=None)) == [
        "images: images are not encrypted with KMS (encryptionType AES256)"
    ]


LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


def test_ecr_repository_lifecycle_policy() -> None:
    policy = "aws-ecr-repository-lifecycle-policy"
    rules = json.dumps({"rules": []})
    offline = make(LIFECYCLE, "images-lifecycle", {"repository": "images", "policy": rules})
    physical = make(
        REPOSITORY, "serving", REPOSITORY_PROPS | {"name": "serving-7f3a"}
    )  # a state file's physical name
    physical_lifecycle = make(LIFECYCLE, "serving-lc", {"repository": "serving-7f3a"})
    assert messages(policy, repository(), offline, physical, physical_lifecycle) == []
    assert messages(policy, repository(), physical, physical_lifecycle) == [
        "images: repository has no lifecycle policy"
    ]


REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def repository_policy(*statements: dict[str, Any]) -> Resource:
    return make(
        REPOSITORY_POLICY,
        "images-policy",
        {"repository": "images", "policy": document(*statements)},
    )


def test_ecr_repository_policy_not_public_compliant() -> None:
    account = {"AWS": "arn:aws:iam::444455556666:root"}
    organization = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert (
        messages(
            "aws-ecr-repository-policy-not-public",
            repository_policy(
                {"Effect": "Allow", "Principal": account, "Action": PULL},
                {"Effect": "Allow", "Principal": "*", "Action": PULL, "Condition": organization},
                {"Effect": "Deny", "Principal": "*", "Action": "ecr:*"},
            ),
        )
        == []
    )


def test_ecr_repository_policy_not_public_violations() -> None:
    any_org = {"StringLike": {"aws:PrincipalOrgID": "*"}}
    vpc_only = {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
    assert messages(
        "aws-ecr-repository-policy-not-public",
        repository_policy(
            {"Effect": "Allow", "Principal": "*", "Action": PULL},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*", "Condition": any_org},
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": "ecr:PutImage",
                "Condition": vpc_only,
            },
        ),
    ) == [
        "images-policy: repository policy allows ecr:BatchGetImage, ecr:GetDownloadUrlForLayer "
        "to any principal ('*')",
        "images-policy: repository policy allows ecr:* to any principal ('*')",
        "images-policy: repository policy allows ecr:PutImage to any principal ('*')",
    ]
    unreadable = make(
        REPOSITORY_POLICY, "images-policy", {"repository": "images", "policy": "[secret]"}
    )
    assert messages("aws-ecr-repository-policy-not-public", unreadable) == [
        "images-policy: repository policy is unreadable"
    ]


# --- the Pulumi CLI's shapes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "resource", "expected"),
    [
        (
            "aws-sagemaker-feature-group-online-kms",
            make(
                FEATURE_GROUP_TYPES[0],
                "features",
                {"onlineStoreConfig": {"enableOnlineStore": True}, "offlineStoreConfig": OFFLINE},
            ),
            ["features: online store has no KMS key (onlineStoreConfig.securityConfig.kmsKeyId)"],
        ),
        (
            "aws-ec2-security-group-no-public-ingress",
            make(GROUP, "g", {"ingress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]}),
            ["g: ingress from 0.0.0.0/0 (all traffic)"],
        ),
        ("aws-ecr-repository-kms", repository(), []),
        ("aws-dynamodb-table-cmk", table(), []),
    ],
)
def test_checks_read_crossguard_proxies(policy: str, resource: Resource, expected: list) -> None:
    """Under `pulumi preview`, nested inputs arrive as Mapping/Sequence proxies, not dict/list."""
    proxied = dataclasses.replace(resource, props=unknown_checking_proxy(dict(resource.props)))
    assert not isinstance(proxied.props.get("tags"), dict)
    assert messages(policy, proxied) == expected


def test_aws_native_feature_group_tags_ignored() -> None:
    policy = "aws-native-feature-group-tags-ignored"
    native = make(FEATURE_GROUP_TYPES[0], "features", {"tags": [{"key": "a", "value": "b"}]})
    assert messages(policy, dataclasses.replace(native, ignore_changes=("tags",))) == []
    assert messages(policy, dataclasses.replace(native, ignore_changes=("description",))) == [
        "features: a tag change would replace the group and delete its data (ignore_changes: tags)"
    ]
    # pulumi-aws updates its feature groups' tags in place: not this control's concern.
    assert messages(policy, make(FEATURE_GROUP_TYPES[1], "features", {})) == []


def test_security_group_rules_are_described() -> None:
    policy = "aws-ec2-security-group-rule-described"
    described = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "description": "HTTPS"}
    bare = {"protocol": "tcp", "fromPort": 443, "toPort": 443}
    assert messages(policy, make(GROUP, "g", {"ingress": [described], "egress": []})) == []
    assert messages(
        policy,
        make(GROUP, "g", {"ingress": [described, bare], "egress": [bare | {"description": " "}]}),
    ) == ["g: ingress rule 1 has no description", "g: egress rule 0 has no description"]
    for rule_type in (
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    ):
        assert messages(policy, make(rule_type, "r", {"description": "why"})) == []
        assert messages(policy, make(rule_type, "r", {})) == ["r: rule has no description"]


def test_sagemaker_endpoints_log_to_a_group_of_the_stack() -> None:
    policy = "aws-sagemaker-endpoint-log-group"
    endpoint = make("aws:sagemaker/endpoint:Endpoint", "ep", {"name": "fraud"})
    group = make(
        "aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/aws/sagemaker/Endpoints/fraud"}
    )
    other = make("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/aws/sagemaker/Endpoints/x"})
    assert messages(policy, endpoint, group) == []
    assert messages(policy, endpoint, other) == [
        "ep: no log group /aws/sagemaker/Endpoints/fraud in the stack: SageMaker would make it "
        "unencrypted and never expiring"
    ]
    unnamed = make("aws:sagemaker/endpoint:Endpoint", "ep", {})
    assert messages(policy, unnamed, group) == [
        "ep: endpoint has no fixed name, so its log group cannot be made first"
    ]
