"""Key policies grant nothing to every principal."""

from __future__ import annotations

from collections.abc import Iterable

from policies.control import Control, Resource
from policies.iam._documents import is_allow, is_public, label, policy_statements

# Keys (and key policies) and the input holding the key policy.
POLICY_INPUTS = {
    "aws:kms/key:Key": "policy",
    "aws:kms/replicaKey:ReplicaKey": "policy",
    "aws:kms/externalKey:ExternalKey": "policy",
    "aws:kms/replicaExternalKey:ReplicaExternalKey": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws-native:kms:Key": "keyPolicy",
}


def check(key: Resource) -> Iterable[str]:
    document = key.props.get(POLICY_INPUTS[key.type])
    if document is None or document == "":
        return  # AWS's default key policy: the account's IAM policies govern use
    statements = policy_statements(document)
    if statements is None:
        yield "key policy is not a readable policy document"
        return
    for index, statement in enumerate(statements):
        if is_allow(statement) and is_public(statement):
            yield f"key policy statement {label(statement, index)} allows any principal ('*')"


CONTROL = Control(
    id="aws-kms-key-policy-no-public-principal",
    description="KMS key policies have no Allow statement whose principal is '*' "
    '(or {"AWS": "*"}).',
    why="The stack key decrypts every data store of the platform; a key policy open to '*' "
    "leaves its use to conditions alone and to every account's IAM policies. A key without "
    "a policy input gets AWS's default policy (the account's IAM policies govern use) and "
    "passes.",
    severity="critical",
    mirrors=(
        "CKV_AWS_33",
        "cfn-nag F76",
        "prowler kms_key_not_publicly_accessible",
    ),
    remediation="Name the principals (the account root, roles or service principals, with "
    "conditions where the service's requests carry them) in every Allow statement of the key "
    "policy (modules.security.StackKey does).",
    resource_types=tuple(POLICY_INPUTS),
    check=check,
    tags=("kms", "access"),
)
