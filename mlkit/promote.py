"""`mlkit promote STACK VERSION`: serve a model version of the stack's own package group.

Checks with boto3, in the account and region the credentials and the stack name, that the
version exists and is Approved, then writes `mlkit:serving.modelVersion` into the stack file
(comments kept), a change to review and deploy like any other. Nothing is written when a
check fails.
"""

from __future__ import annotations

import io
from typing import Any

from mlkit.settings import NAMESPACE, ConfigError
from mlkit.stackfile import StackFile, write_atomically

SERVING_KEY = f"{NAMESPACE}:serving"
GROUP_OUTPUT = "modelPackageGroup"


def model_package_arn(region: str, account: str, group: str, version: int) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"


def check_approved(session: Any, region: str, group: str, version: int) -> str:
    """The package ARN of `group`/`version`, or a ConfigError saying why it cannot be served."""
    from botocore.exceptions import BotoCoreError, ClientError

    source = f"model package group {group}"
    try:
        account = session.client("sts", region_name=region).get_caller_identity()["Account"]
        arn = model_package_arn(region, account, group, version)
        package = session.client("sagemaker", region_name=region).describe_model_package(
            ModelPackageName=arn
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ValidationException":  # SageMaker's answer for a missing package
            raise ConfigError(
                source, [("version", f"{version} does not exist in {region}: {error}")]
            ) from None
        raise ConfigError(source, [("aws", str(error))]) from None
    except BotoCoreError as error:
        raise ConfigError(source, [("credentials", str(error))]) from None
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise ConfigError(
            source,
            [
                (
                    "version",
                    f"{version} is {status}, not Approved: approve it first (SageMaker Studio,"
                    f" or `aws sagemaker update-model-package --model-package-name {arn}"
                    " --model-approval-status Approved`)",
                )
            ],
        )
    return arn


def write_model_version(stack: StackFile, version: int) -> int | None:
    """Set `mlkit:serving.modelVersion` in the stack file, keeping its comments and layout;
    returns the version it replaces. Written atomically."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(stack.path.read_text(encoding="utf-8"))
    config = document["config"]
    serving = config.get(SERVING_KEY)
    if serving is None:
        config[SERVING_KEY] = serving = {}
    previous = serving.get("modelVersion")
    serving["modelVersion"] = version
    text = io.StringIO()
    yaml.dump(document, text)
    write_atomically(stack.path, text.getvalue())
    return previous
