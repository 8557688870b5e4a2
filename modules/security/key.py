"""One customer-managed KMS key per stack, with rotation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from modules.common import Durability, resource_tags
from modules.security.iam import policy_document

# What CloudWatch Logs needs to encrypt log groups with a customer-managed key.
LOGS_KEY_ACTIONS = [
    "kms:Decrypt*",
    "kms:Describe*",
    "kms:Encrypt*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]


@dataclass
class StackKeyArgs:
    account_id: pulumi.Input[str]
    """Account that owns the key; its IAM policies govern use of the key."""
    region: str
    """Region of the stack, for the CloudWatch Logs service principal."""
    durability: Durability
    """Whether the key is protected and retained."""
    deletion_window_days: int = 30
    """Days a scheduled deletion waits (7-30)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags."""


class StackKey(pulumi.ComponentResource):
    """A customer-managed key (rotated yearly) and its alias `alias/<name>`. Its policy lets
    the account's IAM policies grant use, and lets CloudWatch Logs, CloudWatch alarms and
    EventBridge use it for encrypted log groups and topics of this account only."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlkit:security:StackKey", name, None, opts)
        if not 7 <= args.deletion_window_days <= 30:
            raise ValueError("deletion_window_days must be between 7 and 30")
        tags = dict(args.tags) | {"mlkit:component": "security"}
        account_root = pulumi.Output.concat("arn:aws:iam::", args.account_id, ":root")
        log_groups = pulumi.Output.concat(
            "arn:aws:logs:", args.region, ":", args.account_id, ":log-group:*"
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"mlkit {name}: data, logs and topics of the stack",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=policy_document(
                {
                    "Sid": "AccountIamPoliciesGovernUse",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
                    "Action": LOGS_KEY_ACTIONS,
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
                },
                # No source condition: the key requests CloudWatch and EventBridge make while
                # publishing to an encrypted topic carry no aws:SourceAccount, so a condition
                # would drop every alert silently (AWS's examples grant these principals
                # without one). The topic policy admits only this account's alarms and rules.
                {
                    "Sid": "AlarmsAndEventsToEncryptedTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ),
            tags=resource_tags(f"{name}-key", tags),
            opts=args.durability.options(self),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{name}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs(
            {"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name}
        )
