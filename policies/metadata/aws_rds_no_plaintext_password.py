"""RDS master passwords are managed by RDS or passed as Pulumi secrets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.common import is_object
from policies.control import Control, Resource
from policies.metadata._rds import CLUSTER, INSTANCE

# Inputs that carry a master password, per type.
PASSWORD_INPUTS = {
    INSTANCE: ("password", "passwordWo"),
    CLUSTER: ("masterPassword", "masterPasswordWo"),
}
MASKED = "[secret]"
"""How the kit's recorder and `pulumi preview --json` show a secret."""
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""How a state file (`pulumi stack export`) stores a secret: {SIG_KEY: SECRET_SIG, ...}."""


def is_secret(value: Any) -> bool:
    if is_object(value):
        return value.get(SIG_KEY) == SECRET_SIG
    return value == MASKED


def check(database: Resource) -> Iterable[str]:
    for name in PASSWORD_INPUTS[database.type]:
        value = database.props.get(name)
        if value is not None and not is_secret(value):
            yield f"{name} is plain text: use manageMasterUserPassword or a secret"


CONTROL = Control(
    id="aws-rds-no-plaintext-password",
    description="RDS master passwords are absent (manageMasterUserPassword) or Pulumi secrets.",
    why="A plain-text password lands unencrypted in the state file and in every preview; "
    "whoever reads the state owns the metadata database. Limitation: CrossGuard hands "
    "policies secret values already decrypted (pulumi/pulumi-policy#241), so under "
    "`pulumi preview --policy-pack` any password input is reported; `plan` and `check` see "
    "the secret marker. manageMasterUserPassword passes everywhere.",
    severity="critical",
    mirrors=("cfn-nag F23", "cfn-nag F34"),
    remediation="Set manage_master_user_password=True (RDS keeps the password in Secrets "
    "Manager, encrypted with master_user_secret_kms_key_id) instead of password / "
    "master_password; otherwise pass pulumi.Output.secret(...) or a config secret.",
    resource_types=tuple(PASSWORD_INPUTS),
    check=check,
    tags=("metadata", "rds"),
)
