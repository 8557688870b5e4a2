"""Data and identity controls (S3, KMS, IAM) and the cross-cutting baseline (tags,
protection, SageMaker instance types, log groups, topics, queues): a compliant fixture
passes, then one change per rule branch fails with its exact message; prod-only controls
leave dev alone; the checks read the CLI's proxied inputs like plain data."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from mlkit.plan import policy_resources
from modules.security.iam import ALLOWED_ON_ANY_RESOURCE as KIT_ALLOWED_ON_ANY_RESOURCE
from policies.baseline.aws_tags_required import taggable
from policies.control import Resource
from policies.evaluate import evaluate
from policies.iam.aws_iam_policy_no_wildcard_resource import (
    SERVICE_CHECKED_UNSCOPED_ACTIONS,
    UNSCOPED_ACTIONS,
)
from tests.policies.conftest import make, messages

KEY = "arn:aws:kms:eu-west-1:111122223333:key/1b2c3d4e"
ROLE_ARN = "arn:aws:iam::111122223333:role/training"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def proxied(resource: Resource) -> Resource:
    """The resource as `pulumi preview --policy-pack` hands it over: inputs behind proxies."""
    return dataclasses.replace(resource, props=unknown_checking_proxy(dict(resource.props)))


# --- S3 -------------------------------------------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"


def bucket() -> Resource:
    """A bucket as a state file has it: companions name it by its physical name."""
    return make(BUCKET, "data", {"bucket": "data-bucket"})


def sse(algorithm: str | None = "aws:kms", key: str | None = KEY) -> Resource:
    default = {"sseAlgorithm": algorithm, "kmsMasterKeyId": key}
    rule = {"applyServerSideEncryptionByDefault": {k: v for k, v in default.items() if v}}
    return make(SSE, "data-sse", {"bucket": "data-bucket", "rules": [rule]})


def test_sse_kms_compliant() -> None:
    assert messages("aws-s3-bucket-sse-kms", bucket(), sse()) == []
    assert messages("aws-s3-bucket-sse-kms", bucket(), sse("aws:kms:dsse")) == []


def test_sse_kms_joins_logical_names_and_v2_aliases() -> None:
    recorded = make("aws:s3/bucketV2:BucketV2", "logs", {"forceDestroy": False})
    config = dataclasses.replace(sse(), type=SSE.replace("Configuration", "ConfigurationV2"))
    config = dataclasses.replace(config, props={**config.props, "bucket": "logs"})
    assert messages("aws-s3-bucket-sse-kms", recorded, config) == []


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        (None, "data: bucket has no server-side encryption configuration"),
        (sse("AES256", None), "data-sse: default encryption is AES256, not aws:kms"),
        (sse(key=None), "data-sse: default encryption is aws:kms without a kmsMasterKeyId"),
        (
            sse(key="alias/aws/s3"),
            "data-sse: default encryption uses the AWS managed key alias/aws/s3",
        ),
        (
            make(SSE, "data-sse", {"bucket": "data-bucket", "rules": [{"bucketKeyEnabled": True}]}),
            "data-sse: encryption configuration sets no default encryption",
        ),
    ],
)
def test_sse_kms_fails(configuration: Resource | None, message: str) -> None:
    resources = [bucket()] + ([configuration] if configuration else [])
    assert messages("aws-s3-bucket-sse-kms", *resources) == [message]


def versioning(configuration: dict[str, Any]) -> Resource:
    return make(
        VERSIONING,
        "data-versioning",
        {"bucket": "data-bucket", "versioningConfiguration": configuration},
    )


def test_versioning() -> None:
    policy = "aws-s3-bucket-versioning"
    assert messages(policy, bucket(), versioning({"status": "Enabled"})) == []
    assert messages(policy, bucket()) == ["data: bucket has no versioning configuration"]
    assert messages(policy, bucket(), versioning({"status": "Suspended"})) == [
        "data-versioning: bucket versioning is Suspended, not Enabled"
    ]
    assert messages(policy, bucket(), versioning({})) == [
        "data-versioning: bucket versioning is unset, not Enabled"
    ]


DENY_HTTP = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READ = {
    "Effect": "Allow",
    "Principal": {"AWS": ROLE_ARN},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::data-bucket/*",
}
NOT_DENIED = (
    "data-policy: bucket policy does not deny requests without TLS (aws:SecureTransport "
    "false) to the bucket and its objects"
)


def bucket_policy(*statements: dict[str, Any]) -> Resource:
    return make(
        BUCKET_POLICY, "data-policy", {"bucket": "data-bucket", "policy": document(*statements)}
    )


def test_tls_only_compliant() -> None:
    policy = "aws-s3-bucket-tls-only"
    assert messages(policy, bucket(), bucket_policy(READ, DENY_HTTP)) == []
    # A boolean condition value, {"AWS": "*"}, Action "*" and a wildcard resource also do.
    broad = DENY_HTTP | {
        "Principal": {"AWS": "*"},
        "Action": ["*"],
        "Resource": "arn:aws:s3:::data-*",
        "Condition": {"BoolIfExists": {"aws:SecureTransport": False}},
    }
    assert messages(policy, bucket(), bucket_policy(broad)) == []


@pytest.mark.parametrize(
    "statement",
    [
        READ,
        DENY_HTTP | {"Resource": "arn:aws:s3:::data-bucket/*"},  # objects only
        DENY_HTTP | {"Resource": ["arn:aws:s3:::other", "arn:aws:s3:::other/*"]},
        DENY_HTTP | {"Action": ["s3:GetObject", "s3:PutObject"]},
        DENY_HTTP | {"Principal": {"AWS": ROLE_ARN}},
        DENY_HTTP | {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        DENY_HTTP | {"Effect": "Allow"},
    ],
)
def test_tls_only_fails(statement: dict[str, Any]) -> None:
    assert messages("aws-s3-bucket-tls-only", bucket(), bucket_policy(statement)) == [NOT_DENIED]


def test_tls_only_missing_or_unreadable_policy() -> None:
    policy = "aws-s3-bucket-tls-only"
    assert messages(policy, bucket()) == ["data: bucket has no policy denying requests without TLS"]
    unreadable = make(BUCKET_POLICY, "data-policy", {"bucket": "data-bucket", "policy": "{"})
    assert messages(policy, bucket(), unreadable) == [NOT_DENIED]


def test_bucket_policy_no_public_principal() -> None:
    policy = "aws-s3-bucket-policy-no-public-principal"
    assert messages(policy, bucket_policy(READ, DENY_HTTP)) == []
    public = READ | {"Sid": "PublicRead", "Principal": "*"}
    everyone = READ | {"Principal": {"AWS": [ROLE_ARN, "*"]}}
    assert messages(policy, bucket_policy(public, DENY_HTTP, everyone)) == [
        "data-policy: bucket policy statement 'PublicRead' allows any principal ('*')",
        "data-policy: bucket policy statement 3 allows any principal ('*')",
    ]
    unreadable = make(BUCKET_POLICY, "data-policy", {"bucket": "data-bucket", "policy": "[secret]"})
    assert messages(policy, unreadable) == [
        "data-policy: bucket policy is not a readable policy document"
    ]
    native = make(
        "aws-native:s3:BucketPolicy",
        "native-policy",
        {"bucket": "data-bucket", "policyDocument": {"Statement": [READ | {"Principal": "*"}]}},
    )
    assert messages(policy, native) == [
        "native-policy: bucket policy statement 1 allows any principal ('*')"
    ]


ABORT = {
    "id": "abort-incomplete-uploads",
    "status": "Enabled",
    "filter": {},
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
}
EXPIRE = {"id": "expire", "status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 9}}


def lifecycle(*rules: dict[str, Any]) -> Resource:
    return make(LIFECYCLE, "data-lifecycle", {"bucket": "data-bucket", "rules": list(rules)})


def test_lifecycle_abort_uploads_compliant() -> None:
    policy = "aws-s3-bucket-lifecycle-abort-uploads"
    assert messages(policy, bucket(), lifecycle(EXPIRE, ABORT)) == []
    float_days = ABORT | {"abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0}}
    assert messages(policy, bucket(), lifecycle(float_days | {"filter": {"prefix": ""}})) == []


@pytest.mark.parametrize(
    "rule",
    [
        EXPIRE,
        ABORT | {"status": "Disabled"},
        ABORT | {"filter": {"prefix": "tmp/"}},
        ABORT | {"prefix": "tmp/"},
        ABORT | {"abortIncompleteMultipartUpload": {"daysAfterInitiation": 0}},
        ABORT | {"abortIncompleteMultipartUpload": {}},
    ],
)
def test_lifecycle_abort_uploads_fails(rule: dict[str, Any]) -> None:
    assert messages("aws-s3-bucket-lifecycle-abort-uploads", bucket(), lifecycle(rule)) == [
        "data-lifecycle: lifecycle configuration has no enabled rule aborting incomplete "
        "multipart uploads for the whole bucket"
    ]


def test_lifecycle_abort_uploads_missing() -> None:
    assert messages("aws-s3-bucket-lifecycle-abort-uploads", bucket()) == [
        "data: bucket has no lifecycle configuration"
    ]


def ownership(rule: dict[str, Any]) -> Resource:
    return make(OWNERSHIP, "data-ownership", {"bucket": "data-bucket", "rule": rule})


def test_ownership_enforced() -> None:
    policy = "aws-s3-bucket-ownership-enforced"
    assert messages(policy, bucket(), ownership({"objectOwnership": "BucketOwnerEnforced"})) == []
    assert messages(policy, bucket()) == [
        "data: bucket has no ownership controls enforcing BucketOwnerEnforced"
    ]
    assert messages(policy, bucket(), ownership({"objectOwnership": "ObjectWriter"})) == [
        "data-ownership: object ownership is ObjectWriter, not BucketOwnerEnforced (ACLs stay "
        "enabled)"
    ]
    assert messages(policy, bucket(), ownership({})) == [
        "data-ownership: object ownership is unset, not BucketOwnerEnforced (ACLs stay enabled)"
    ]


# --- KMS ------------------------------------------------------------------------------------

KMS_KEY = "aws:kms/key:Key"
ACCOUNT = {
    "Sid": "AccountIamPoliciesGovernUse",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "kms:*",
    "Resource": "*",
}
LOGS = {
    "Effect": "Allow",
    "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
    "Action": ["kms:Decrypt*", "kms:GenerateDataKey*"],
    "Resource": "*",
}


def test_key_policy_no_public_principal() -> None:
    policy = "aws-kms-key-policy-no-public-principal"
    assert messages(policy, make(KMS_KEY, "k", {"policy": document(ACCOUNT, LOGS)})) == []
    assert messages(policy, make(KMS_KEY, "k", {})) == []  # AWS's default key policy
    public = ACCOUNT | {"Sid": "Everyone", "Principal": "*"}
    any_account = LOGS | {"Principal": {"AWS": "*"}}
    assert messages(policy, make(KMS_KEY, "k", {"policy": document(public, any_account)})) == [
        "k: key policy statement 'Everyone' allows any principal ('*')",
        "k: key policy statement 2 allows any principal ('*')",
    ]
    assert messages(policy, make(KMS_KEY, "k", {"policy": "not json"})) == [
        "k: key policy is not a readable policy document"
    ]
    separate = make("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": document(public)})
    native = make("aws-native:kms:Key", "nk", {"keyPolicy": {"Statement": [any_account]}})
    assert messages(policy, separate, native) == [
        "nk: key policy statement 1 allows any principal ('*')",
        "kp: key policy statement 'Everyone' allows any principal ('*')",
    ]


def test_key_deletion_window_prod() -> None:
    policy = "aws-kms-key-deletion-window-prod"
    assert messages(policy, make(KMS_KEY, "k", {"deletionWindowInDays": 30})) == []
    assert messages(policy, make(KMS_KEY, "k", {"deletionWindowInDays": 30.0})) == []
    assert messages(policy, make(KMS_KEY, "k", {})) == []  # AWS's default, 30 days
    assert messages(policy, make(KMS_KEY, "k", {"deletionWindowInDays": 7})) == [
        "k: key deletion window is 7 days, not 30"
    ]
    assert messages(policy, make(KMS_KEY, "k", {"deletionWindowInDays": "week"})) == [
        "k: key deletion window 'week' is not a number of days"
    ]
    native = make("aws-native:kms:Key", "nk", {"pendingWindowInDays": 10.0})
    assert messages(policy, native) == ["nk: key deletion window is 10 days, not 30"]


def test_key_deletion_window_leaves_dev_alone() -> None:
    short = make(KMS_KEY, "k", {"deletionWindowInDays": 7}, environment="dev")
    assert messages("aws-kms-key-deletion-window-prod", short, environment="dev") == []


# --- IAM ------------------------------------------------------------------------------------

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PASS_ROLE = {"Sid": "PassTraining", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}


def role_policy(*statements: dict[str, Any], name: str = "p") -> Resource:
    return make(ROLE_POLICY, name, {"policy": document(*statements), "role": "r"})


def test_no_passrole_wildcard_compliant() -> None:
    policy = "aws-iam-policy-no-passrole-wildcard"
    named = PASS_ROLE | {"Resource": [ROLE_ARN]}
    excluded = {"Effect": "Allow", "NotAction": ["iam:PassRole", "s3:*"], "Resource": "*"}
    deny = PASS_ROLE | {"Effect": "Deny"}
    assert messages(policy, role_policy(named, excluded, deny)) == []


@pytest.mark.parametrize(
    ("statement", "via"),
    [
        (PASS_ROLE, "'iam:PassRole'"),
        (PASS_ROLE | {"Action": ["s3:GetObject", "iam:*"]}, "'iam:*'"),
        (PASS_ROLE | {"Action": "*"}, "'*'"),
        (PASS_ROLE | {"Action": "IAM:pass*"}, "'IAM:pass*'"),
        (
            {"Sid": "PassTraining", "Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
            "NotAction",
        ),
    ],
)
def test_no_passrole_wildcard_fails(statement: dict[str, Any], via: str) -> None:
    assert messages("aws-iam-policy-no-passrole-wildcard", role_policy(statement)) == [
        f"p: policy statement 'PassTraining' allows iam:PassRole (via {via}) on resource '*'"
    ]


def test_no_passrole_wildcard_other_policy_shapes() -> None:
    policy = "aws-iam-policy-no-passrole-wildcard"
    inline = make(
        "aws:iam/role:Role",
        "r",
        {"inlinePolicies": [{"name": "jobs", "policy": document(PASS_ROLE | {"Sid": None})}]},
    )
    native = make("aws-native:iam:ManagedPolicy", "m", {"policyDocument": {"Statement": PASS_ROLE}})
    unreadable = make(ROLE_POLICY, "u", {"policy": "[secret]"})
    assert messages(policy, inline, native, unreadable) == [
        "m: policy statement 'PassTraining' allows iam:PassRole (via 'iam:PassRole') on "
        "resource '*'",
        "r: inline policy 'jobs' statement 1 allows iam:PassRole (via 'iam:PassRole') on "
        "resource '*'",
        "u: policy is not a readable policy document",
    ]


ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def test_no_full_access_managed_policy() -> None:
    policy = "aws-iam-role-no-full-access-managed-policy"
    fine = [
        make(ATTACHMENT, "a", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        # A customer-managed policy may carry any name.
        make(
            ATTACHMENT,
            "b",
            {"role": "r", "policyArn": "arn:aws:iam::111122223333:policy/S3FullAccess"},
        ),
        make("aws:iam/role:Role", "r", {"managedPolicyArns": []}),
    ]
    assert messages(policy, *fine) == []
    broad = [
        make(
            ATTACHMENT,
            "a",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
        ),
        make(
            "aws:iam/role:Role",
            "r",
            {
                "managedPolicyArns": [
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws-cn:iam::aws:policy/AdministratorAccess",
                ]
            },
        ),
        make(
            "aws:iam/policyAttachment:PolicyAttachment",
            "pa",
            {
                "roles": ["r"],
                "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonS3FullAccess",
            },
        ),
        make(
            "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
            "x",
            {"roleName": "r", "policyArns": ["arn:aws:iam::aws:policy/IAMFullAccess"]},
        ),
    ]
    assert messages(policy, *broad) == [
        "pa: attaches the AWS managed policy AmazonS3FullAccess",
        "r: attaches the AWS managed policy AdministratorAccess",
        "a: attaches the AWS managed policy AmazonSageMakerFullAccess",
        "x: attaches the AWS managed policy IAMFullAccess",
    ]  # in report order: by type token, then name


ROLE = "aws:iam/role:Role"
SERVICE_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
}


def role(*statements: dict[str, Any]) -> Resource:
    return make(ROLE, "r", {"assumeRolePolicy": document(*statements)})


def test_trust_scoped_compliant() -> None:
    policy = "aws-iam-role-trust-scoped"
    by_arn = SERVICE_TRUST | {
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:eu-west-1:1:rule/x"}},
    }
    account = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:*"}
    assert messages(policy, role(SERVICE_TRUST, by_arn, account)) == []


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            SERVICE_TRUST | {"Principal": "*"},
            "r: trust policy statement 1 lets any principal ('*') assume the role",
        ),
        (
            SERVICE_TRUST | {"Sid": "Anyone", "Principal": {"AWS": "*"}},
            "r: trust policy statement 'Anyone' lets any principal ('*') assume the role",
        ),
        (
            {k: v for k, v in SERVICE_TRUST.items() if k != "Condition"},
            "r: trust policy statement 1 lets sagemaker.amazonaws.com assume the role without "
            "an aws:SourceAccount or aws:SourceArn condition",
        ),
        (
            SERVICE_TRUST
            | {
                "Principal": {"Service": ["lambda.amazonaws.com", "events.amazonaws.com"]},
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            },
            "r: trust policy statement 1 lets lambda.amazonaws.com, events.amazonaws.com "
            "assume the role without an aws:SourceAccount or aws:SourceArn condition",
        ),
    ],
)
def test_trust_scoped_fails(statement: dict[str, Any], message: str) -> None:
    assert messages("aws-iam-role-trust-scoped", role(statement)) == [message]


def test_trust_scoped_other_shapes() -> None:
    policy = "aws-iam-role-trust-scoped"
    assert messages(policy, make(ROLE, "r", {"assumeRolePolicy": "{}"})) == [
        "r: trust policy is not a readable policy document"
    ]
    native = make(
        "aws-native:iam:Role",
        "n",
        {"assumeRolePolicyDocument": {"Statement": [SERVICE_TRUST | {"Principal": "*"}]}},
    )
    assert messages(policy, native) == [
        "n: trust policy statement 1 lets any principal ('*') assume the role"
    ]


def test_no_wildcard_resource_compliant() -> None:
    policy = "aws-iam-policy-no-wildcard-resource"
    unscoped = {
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken", "EC2:describeVpcs", "cloudwatch:PutMetricData"],
        "Resource": ["*"],
    }
    scoped = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert messages(policy, role_policy(unscoped, scoped, deny)) == []


def test_no_wildcard_resource_fails() -> None:
    policy = "aws-iam-policy-no-wildcard-resource"
    mixed = {
        "Sid": "Jobs",
        "Effect": "Allow",
        "Action": ["sagemaker:CreateTrainingJob", "ecr:GetAuthorizationToken", "ec2:Describe*"],
        "Resource": "*",
    }
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert messages(policy, role_policy(mixed, not_action)) == [
        "p: policy statement 'Jobs' allows ec2:Describe*, sagemaker:CreateTrainingJob on "
        "resource '*'",
        "p: policy statement 2 allows every action but its NotAction on resource '*'",
    ]
    assert messages(policy, make(ROLE_POLICY, "u", {"policy": None})) == [
        "u: policy is not a readable policy document"
    ]


def test_no_wildcard_resource_allows_what_the_kit_may_leave_unscoped() -> None:
    assert set(KIT_ALLOWED_ON_ANY_RESOURCE) <= UNSCOPED_ACTIONS | SERVICE_CHECKED_UNSCOPED_ACTIONS


def test_sagemakers_network_interface_actions_pass_on_any_resource_and_nothing_else() -> None:
    """SageMaker fails a VPC processing job whose role scopes these; a scopable neighbour in
    the same statement is still reported."""
    policy = "aws-iam-policy-no-wildcard-resource"
    interfaces = {
        "Sid": "VpcInterfaces",
        "Effect": "Allow",
        "Action": sorted(SERVICE_CHECKED_UNSCOPED_ACTIONS),
        "Resource": "*",
    }
    assert messages(policy, role_policy(interfaces)) == []
    widened = interfaces | {"Action": [*interfaces["Action"], "ec2:AttachNetworkInterface"]}
    assert messages(policy, role_policy(widened)) == [
        "p: policy statement 'VpcInterfaces' allows ec2:AttachNetworkInterface on resource '*'"
    ]


# --- baseline -------------------------------------------------------------------------------

TAGS = {
    "owner": "fraud-ml",
    "cost-center": "4711",
    "mlkit:blueprint": "realtime-fraud",
    "mlkit:environment": "prod",
}
TOPIC = "aws:sns/topic:Topic"


def test_tags_required() -> None:
    policy = "aws-tags-required"
    native = make(
        "aws-native:sns:Topic", "n", {"tags": [{"key": k, "value": v} for k, v in TAGS.items()]}
    )
    untaggable = make(BUCKET_POLICY, "bp", {"bucket": "b", "policy": "{}"}, environment=None)
    component = make("mlkit:security:StackKey", "c", {}, environment=None)
    assert messages(policy, make(TOPIC, "t", {"tags": TAGS}), native, untaggable, component) == []
    partial = make(TOPIC, "t", {"tags": TAGS | {"owner": " ", "cost-center": None}})
    untagged = make("aws:lambda/function:Function", "f", {"tags": {}}, environment=None)
    assert messages(policy, partial, untagged) == [
        "f: missing required tags: owner, cost-center, mlkit:blueprint, mlkit:environment",
        "t: missing required tags: owner, cost-center",
    ]


def test_taggable_reads_the_sdk_classes() -> None:
    assert taggable("aws:lambda/function:Function")
    assert not taggable("aws:lambda/permission:Permission")
    assert not taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert taggable("aws-native:sns:Topic")
    assert taggable("aws-native:nosuchmodule:Thing")  # aws-native: taggable unless known
    assert not taggable("aws:nosuchmodule/thing:Thing")
    assert not taggable("pulumi:providers:aws")


def test_stateful_resources_protected_prod() -> None:
    policy = "aws-stateful-resources-protected-prod"
    kept = make(KMS_KEY, "k", {}, protect=True, retain_on_delete=True)
    unknown = make("aws:cloudwatch/logGroup:LogGroup", "g", {}, protect=True, retain_on_delete=None)
    stateless = make(ROLE, "r", {})
    assert messages(policy, kept, unknown, stateless) == []
    exposed = make("aws:sagemaker/featureGroup:FeatureGroup", "fg", {})
    assert messages(policy, exposed) == [
        "fg: stateful resource is not protected (protect=True)",
        "fg: stateful resource is not retained on delete (retain_on_delete=True)",
    ]
    native = make("aws-native:dynamodb:Table", "t", {}, protect=True)
    assert messages(policy, native) == [
        "t: stateful resource is not retained on delete (retain_on_delete=True)"
    ]


def test_stateful_resources_protected_leaves_dev_alone() -> None:
    table = make("aws:dynamodb/table:Table", "t", {}, environment="dev")
    assert messages("aws-stateful-resources-protected-prod", table, environment="dev") == []


ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def endpoint_config(environment: str | None, *types: str, shadow: str | None = None) -> Resource:
    variants = [{"variantName": f"v{i}", "instanceType": t} for i, t in enumerate(types)]
    variants.append({"variantName": "serverless", "serverlessConfig": {"maxConcurrency": 5}})
    props: dict[str, Any] = {"productionVariants": variants}
    if shadow:
        props["shadowProductionVariants"] = [{"variantName": "s", "instanceType": shadow}]
    return make(ENDPOINT_CONFIG, "ec", props, environment=environment)


def test_instance_types_compliant() -> None:
    policy = "aws-sagemaker-instance-type-allowlist"
    assert messages(policy, endpoint_config("dev", "ml.m5.large", "ml.t3.medium")) == []
    assert messages(policy, endpoint_config("staging", "ml.c5.2xlarge")) == []
    assert messages(policy, endpoint_config("prod", "ml.g5.2xlarge", shadow="ml.m5.4xlarge")) == []
    assert messages(policy, endpoint_config(None, "ml.g5.xlarge")) == []  # untagged: prod's


def test_instance_types_fail() -> None:
    policy = "aws-sagemaker-instance-type-allowlist"
    assert messages(policy, endpoint_config("dev", "ml.m5.large", "ml.m5.2xlarge")) == [
        "ec: productionVariants[1].instanceType is ml.m5.2xlarge, not allowed in dev"
    ]
    assert messages(policy, endpoint_config("staging", "ml.m5.large", shadow="ml.g5.xlarge")) == [
        "ec: shadowProductionVariants[0].instanceType is ml.g5.xlarge, not allowed in staging"
    ]
    assert messages(policy, endpoint_config(None, "ml.p4d.24xlarge")) == [
        "ec: productionVariants[0].instanceType is ml.p4d.24xlarge, not allowed in prod"
    ]
    job = make(
        "aws-native:sagemaker:ModelQualityJobDefinition",
        "mq",
        {
            "jobResources": {"clusterConfig": {"instanceType": "ml.m5.24xlarge"}},
            "tags": [{"key": "mlkit:environment", "value": "dev"}],
        },
    )
    notebook = make(
        "aws:sagemaker/notebookInstance:NotebookInstance",
        "nb",
        {"instanceType": 3},
        environment="dev",
    )
    assert messages(policy, job, notebook, environment="dev") == [
        "mq: jobResources.clusterConfig.instanceType is ml.m5.24xlarge, not allowed in dev",
        "nb: instanceType is not an instance type",
    ]


PIPELINE = "aws:sagemaker/pipeline:Pipeline"


def pipeline_definition(train_type: Any, *, default: Any = "ml.m5.large") -> str:
    parameters = [{"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": default}]
    if default is None:
        parameters = []
    train = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {"ResourceConfig": {"InstanceCount": 1, "InstanceType": train_type}},
    }
    process = {
        "Name": "Evaluate",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge"}},
        },
    }
    condition = {
        "Name": "CheckAuc",
        "Type": "Condition",
        "Arguments": {"IfSteps": [train], "ElseSteps": []},
    }
    return json.dumps({"Parameters": parameters, "Steps": [process, condition]})


def pipeline(definition: str | None, environment: str = "dev") -> Resource:
    props = {"pipelineDefinition": definition} if definition is not None else {}
    return make(PIPELINE, "pl", props, environment=environment)


def test_pipeline_instance_types_compliant() -> None:
    policy = "aws-sagemaker-instance-type-allowlist"
    reference = {"Get": "Parameters.TrainingInstanceType"}
    assert messages(policy, pipeline(pipeline_definition(reference)), environment="dev") == []
    assert messages(policy, pipeline(pipeline_definition("ml.c5.xlarge")), environment="dev") == []
    native = make(
        "aws-native:sagemaker:Pipeline",
        "np",
        {"pipelineDefinition": {"pipelineDefinitionBody": pipeline_definition(reference)}},
    )
    assert messages(policy, native) == []


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            pipeline_definition({"Get": "Parameters.TrainingInstanceType"}, default="ml.g5.xlarge"),
            "pl: step Train ResourceConfig.InstanceType (Parameters.TrainingInstanceType "
            "default) is ml.g5.xlarge, not allowed in dev",
        ),
        (
            pipeline_definition("ml.p3.2xlarge"),
            "pl: step Train ResourceConfig.InstanceType is ml.p3.2xlarge, not allowed in dev",
        ),
        (
            pipeline_definition({"Get": "Parameters.TrainingInstanceType"}, default=None),
            "pl: step Train ResourceConfig.InstanceType refers to "
            "Parameters.TrainingInstanceType, which has no default",
        ),
        (
            pipeline_definition({"Get": "Steps.Tune.BestInstanceType"}),
            "pl: step Train ResourceConfig.InstanceType is neither an instance type nor a "
            "parameter",
        ),
        ("{not json", "pl: pipeline definition is not readable JSON"),
        (
            None,
            "pl: pipeline definition is not inline (S3 location): its instance types cannot "
            "be checked",
        ),
    ],
)
def test_pipeline_instance_types_fail(definition: str | None, message: str) -> None:
    policy = "aws-sagemaker-instance-type-allowlist"
    assert messages(policy, pipeline(definition), environment="dev") == [message]


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_log_group_retention_kms() -> None:
    policy = "aws-cloudwatch-log-group-retention-kms"
    assert messages(policy, make(LOG_GROUP, "g", {"retentionInDays": 365, "kmsKeyId": KEY})) == []
    native = make("aws-native:logs:LogGroup", "n", {"retentionInDays": 30.0, "kmsKeyId": KEY})
    assert messages(policy, native) == []
    assert messages(policy, make(LOG_GROUP, "g", {})) == [
        "g: log group keeps logs forever (retentionInDays unset or 0)",
        "g: log group is not encrypted with a KMS key (kmsKeyId)",
    ]
    assert messages(policy, make(LOG_GROUP, "g", {"retentionInDays": 0, "kmsKeyId": KEY})) == [
        "g: log group keeps logs forever (retentionInDays unset or 0)"
    ]
    assert messages(policy, make(LOG_GROUP, "g", {"retentionInDays": "1y", "kmsKeyId": KEY})) == [
        "g: log group retentionInDays '1y' is not a number of days"
    ]


def test_sns_topic_kms() -> None:
    policy = "aws-sns-topic-kms"
    assert messages(policy, make(TOPIC, "t", {"kmsMasterKeyId": KEY})) == []
    assert messages(policy, make(TOPIC, "t", {})) == [
        "t: topic is not encrypted with a KMS key (kmsMasterKeyId)"
    ]
    assert messages(
        policy, make("aws-native:sns:Topic", "n", {"kmsMasterKeyId": "alias/aws/sns"})
    ) == ["n: topic uses the AWS managed key alias/aws/sns, not a customer-managed key"]


QUEUE = "aws:sqs/queue:Queue"


def test_sqs_queue_kms() -> None:
    policy = "aws-sqs-queue-kms"
    assert messages(policy, make(QUEUE, "q", {"kmsMasterKeyId": KEY})) == []
    aws_managed = {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:111122223333:alias/aws/sqs"}
    assert messages(policy, make(QUEUE, "q", aws_managed)) == [
        "q: queue uses the AWS managed key alias/aws/sqs, not a customer-managed key"
    ]
    assert messages(policy, make(QUEUE, "q", {"sqsManagedSseEnabled": True})) == [
        "q: queue uses SQS-managed encryption (SSE-SQS), not a customer-managed KMS key"
    ]
    assert messages(policy, make(QUEUE, "q", {"sqsManagedSseEnabled": False})) == [
        "q: queue is not encrypted with a KMS key (kmsMasterKeyId)"
    ]


# --- as the Pulumi CLI runs them -------------------------------------------------------------


def test_checks_read_the_clis_proxied_inputs() -> None:
    assert messages("aws-s3-bucket-sse-kms", proxied(bucket()), proxied(sse("AES256", None))) == [
        "data-sse: default encryption is AES256, not aws:kms"
    ]
    rules = lifecycle(ABORT | {"status": "Disabled"})
    assert len(messages("aws-s3-bucket-lifecycle-abort-uploads", bucket(), proxied(rules))) == 1
    native = make("aws-native:sns:Topic", "n", {"tags": [{"key": "owner", "value": "x"}]})
    assert messages("aws-tags-required", proxied(native)) == [
        "n: missing required tags: cost-center, mlkit:blueprint, mlkit:environment"
    ]
    assert messages(
        "aws-iam-role-no-full-access-managed-policy",
        proxied(
            make(ROLE, "r", {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]})
        ),
    ) == ["r: attaches the AWS managed policy AdministratorAccess"]


def test_unknown_inputs_during_preview() -> None:
    """Unknown values elsewhere do not hide an instance type; an unknown instance type
    raises, which the CLI reports as "can't run policy during preview"."""
    policy = "aws-sagemaker-instance-type-allowlist"
    variant = {
        "variantName": "v",
        "modelName": UNKNOWN_STRING_VALUE,
        "instanceType": "ml.p3.2xlarge",
    }
    config = make(ENDPOINT_CONFIG, "ec", {"productionVariants": [variant]}, environment="dev")
    assert messages(policy, proxied(config), environment="dev") == [
        "ec: productionVariants[0].instanceType is ml.p3.2xlarge, not allowed in dev"
    ]
    unknown = make(
        ENDPOINT_CONFIG,
        "ec",
        {"productionVariants": [variant | {"instanceType": UNKNOWN_STRING_VALUE}]},
    )
    with pytest.raises(UnknownValueError):
        messages(policy, proxied(unknown))


# --- a shipped stack, broken -----------------------------------------------------------------


def test_a_broken_copy_of_fraud_prod_fails_these_controls(plan_of) -> None:
    resources = {r.name: r for r in policy_resources(plan_of("fraud-prod").recording)}

    def change(name: str, **props: Any) -> None:
        resources[name] = dataclasses.replace(
            resources[name], props={**resources[name].props, **props}
        )

    change("fraud-prod-artifacts-encryption", rules=[])
    change(
        "fraud-prod-features-offline-versioning", versioningConfiguration={"status": "Suspended"}
    )
    del resources["fraud-prod-artifacts-policy"]
    change("fraud-prod-ingestion-dead-letters", kmsMasterKeyId=None, sqsManagedSseEnabled=True)
    change("fraud-prod-observability-alerts", kmsMasterKeyId=None)
    change("fraud-prod-network-flow-logs", retentionInDays=0)
    trust = json.loads(resources["fraud-prod-training-role"].props["assumeRolePolicy"])
    del trust["Statement"][0]["Condition"]
    change("fraud-prod-training-role", assumeRolePolicy=json.dumps(trust))
    resources["fraud-prod-kms-key"] = dataclasses.replace(
        resources["fraud-prod-kms-key"], protect=False
    )
    report = evaluate(list(resources.values()), "prod")
    found = {(v.policy, v.urn.rsplit("::", 1)[-1]) for v in report.mandatory}
    assert {
        ("aws-s3-bucket-sse-kms", "fraud-prod-artifacts-encryption"),
        ("aws-s3-bucket-versioning", "fraud-prod-features-offline-versioning"),
        ("aws-s3-bucket-tls-only", "fraud-prod-artifacts-bucket"),
        ("aws-sqs-queue-kms", "fraud-prod-ingestion-dead-letters"),
        ("aws-sns-topic-kms", "fraud-prod-observability-alerts"),
        ("aws-cloudwatch-log-group-retention-kms", "fraud-prod-network-flow-logs"),
        ("aws-iam-role-trust-scoped", "fraud-prod-training-role"),
        ("aws-stateful-resources-protected-prod", "fraud-prod-kms-key"),
    } <= found


LOGGING = "aws:s3/bucketLogging:BucketLogging"


def logs_to(source: str, target: str, name: str = "") -> Resource:
    return make(LOGGING, name or f"{source}-logging", {"bucket": source, "targetBucket": target})


def log_bucket_sse(algorithm: str = "AES256") -> Resource:
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}
    return make(SSE, "logs-sse", {"bucket": "logs-bucket", "rules": [rule]})


def test_sse_kms_wants_sse_s3_on_a_bucket_receiving_access_logs() -> None:
    policy = "aws-s3-bucket-sse-kms"
    logs = make(BUCKET, "logs", {"bucket": "logs-bucket"})
    delivery = logs_to("data-bucket", "logs-bucket")
    assert messages(policy, bucket(), sse(), logs, log_bucket_sse(), delivery) == []
    # Without the delivery the same log bucket is an ordinary bucket: SSE-S3 is refused.
    assert messages(policy, logs, log_bucket_sse()) == [
        "logs-sse: default encryption is AES256, not aws:kms"
    ]
    assert messages(policy, bucket(), sse(), logs, log_bucket_sse("aws:kms"), delivery) == [
        "logs-sse: bucket receives server access logs, but its default encryption is aws:kms: "
        "S3 delivers them only to SSE-S3 (AES256) buckets"
    ]


def test_prod_buckets_deliver_access_logs() -> None:
    policy = "aws-s3-bucket-access-logging-prod"
    logs = make(BUCKET, "logs", {"bucket": "logs-bucket"})
    delivery = logs_to("data-bucket", "logs-bucket")
    assert messages(policy, bucket(), logs, delivery) == []
    assert messages(policy, bucket()) == [
        "data: bucket has no server access logging (aws.s3.BucketLogging)"
    ]
    looping = logs_to("logs-bucket", "logs-bucket", "logs-self")
    assert messages(policy, bucket(), logs, delivery, looping) == [
        "logs: access-log bucket logs its own access (S3 advises against it)"
    ]
    # Dev and staging skip it.
    for environment in ("dev", "staging"):
        unlogged = make(BUCKET, "data", {"bucket": "data-bucket"}, environment=environment)
        assert messages(policy, unlogged, environment=environment) == []
