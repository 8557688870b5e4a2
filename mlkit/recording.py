"""Run the Pulumi program in-process under Pulumi's mock runtime and record every resource.

One recorder, many readers: the plan, the policy pack, the cost model and the tests all read
the `Recording` this module returns, never the program's code.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc, settings, stack

from mlkit.settings import SECRET_PLACEHOLDER

PROJECT = "mlkit"
MOCK_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class RecordedResource:
    """One registered resource, as the engine would have been asked to create it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    retain_on_delete: bool
    depends_on: tuple[str, ...]
    inputs: Mapping[str, Any]
    ignore_changes: tuple[str, ...] = ()
    import_id: str | None = None
    """The `import` option: the ID of an existing cloud resource to adopt."""

    def as_plan(self) -> dict[str, Any]:
        """The plan JSON form (`resources[]`)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "dependsOn": list(self.depends_on),
            "ignoreChanges": list(self.ignore_changes),
            "importId": self.import_id,
            "inputs": self.inputs,
        }


@dataclass
class Recording:
    """What one run of the program registered, sorted by URN, and its stack outputs."""

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]


def _plain(value: Any) -> Any:
    """Wire values as plain JSON data: whole floats (the wire has no ints) back to ints,
    secrets masked."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping) and rpc._special_sig_key in value:
        return SECRET_PLACEHOLDER
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {type(value).__name__[0].lower() + type(value).__name__[1:]: value.path}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": _plain(value.assets)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# The real shape of ARNs the program reads (policies are checked against them).
ARN_FORMATS = {
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "aws:ecr/repository:Repository": "arn:aws:ecr:{region}:{account}:repository/{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:kinesis/stream:Stream": "arn:aws:kinesis:{region}:{account}:stream/{name}",
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/{id}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": (
        "arn:aws:lambda:{region}:{account}:code-signing-config:csc-{id}"
    ),
    "aws:signer/signingProfile:SigningProfile": (
        "arn:aws:signer:{region}:{account}:/signing-profiles/{name}"
    ),
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:sagemaker/featureGroup:FeatureGroup": (
        "arn:aws:sagemaker:{region}:{account}:feature-group/{name}"
    ),
    "aws-native:sagemaker:FeatureGroup": (
        "arn:aws:sagemaker:{region}:{account}:feature-group/{name}"
    ),
    "aws:sagemaker/endpoint:Endpoint": "arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}"
    ),
    "aws:sagemaker/pipeline:Pipeline": "arn:aws:sagemaker:{region}:{account}:pipeline/{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
}
# Resources whose physical name is not in a `name` input.
NAME_INPUTS = {
    "aws-native:sagemaker:ModelQualityJobDefinition": "jobDefinitionName",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:sagemaker/featureGroup:FeatureGroup": "featureGroupName",
    "aws-native:sagemaker:FeatureGroup": "featureGroupName",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "modelPackageGroupName",
    "aws:sagemaker/pipeline:Pipeline": "pipelineName",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": "trackingServerName",
}


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:17]


class _Mocks(pulumi.runtime.Mocks):
    """Stands in for the AWS provider: echoes inputs and fills in the computed outputs
    (ARNs, ids) the program reads, deterministically, for account MOCK_ACCOUNT_ID."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.local = threading.local()

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/plan",
                "userId": "PLAN",
                "id": MOCK_ACCOUNT_ID,
            }
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{letter}" for letter in "abc"]
            return {"names": names, "zoneIds": names, "id": self.region}
        raise NotImplementedError(f"the offline plan has no mock for {args.token}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.local.inputs = args.inputs
        state = dict(args.inputs)
        name = str(state.get(NAME_INPUTS.get(args.typ, "name")) or args.name)
        state.setdefault(NAME_INPUTS.get(args.typ, "name"), name)
        resource_id = f"{args.name}-id"
        if args.typ == "aws:kms/key:Key":
            resource_id = state["keyId"] = _short_hash(args.name)
        elif args.typ == "aws:s3/bucket:Bucket":
            resource_id = name
        elif args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{self.region}.amazonaws.com/{MOCK_ACCOUNT_ID}/{name}"
        elif args.typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            state["prefixListId"] = f"pl-{_short_hash(args.name)}"
        elif args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{MOCK_ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{name}"
        elif args.typ == "aws:apigatewayv2/api:Api":
            api_id = _short_hash(args.name)[:10]
            resource_id = api_id
            state["apiEndpoint"] = f"https://{api_id}.execute-api.{self.region}.amazonaws.com"
            state["executionArn"] = f"arn:aws:execute-api:{self.region}:{MOCK_ACCOUNT_ID}:{api_id}"
        elif args.typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            state["versionId"] = _short_hash(args.name, "version")
        elif args.typ == "aws:signer/signingProfile:SigningProfile":
            name = state["name"] = f"{state.get('namePrefix', '')}{_short_hash(args.name)}"
            state["version"] = "v1"
            state["versionArn"] = (
                f"arn:aws:signer:{self.region}:{MOCK_ACCOUNT_ID}:/signing-profiles/{name}/v1"
            )
        elif args.typ == "aws:signer/signingJob:SigningJob":
            job_id = resource_id = state["jobId"] = _short_hash(args.name)
            destination = (state.get("destination") or {}).get("s3") or {}
            state["signedObjects"] = [
                {
                    "s3s": [
                        {
                            "bucket": destination.get("bucket"),
                            "key": f"{destination.get('prefix', '')}{job_id}.zip",
                        }
                    ]
                }
            ]
        elif args.typ == "aws:apigatewayv2/stage:Stage":
            api_id = state.get("apiId", "api")
            state["invokeUrl"] = f"https://{api_id}.execute-api.{self.region}.amazonaws.com/"
        service = args.typ.split(":")[1].split("/")[0] if ":" in args.typ else "mock"
        arn = ARN_FORMATS.get(args.typ, "arn:aws:{service}:{region}:{account}:{name}")
        state["arn"] = arn.format(
            service=service, region=self.region, account=MOCK_ACCOUNT_ID, name=name, id=resource_id
        )
        if args.typ == "aws:lambda/function:Function":
            state["invokeArn"] = (
                f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                f"{state['arn']}/invocations"
            )
        return resource_id, state


class _RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, also keeping what MockResourceArgs lacks: parent, options,
    dependencies."""

    def __init__(self, mock: _Mocks) -> None:
        super().__init__(mock)
        self.mock = mock
        self.recorded: dict[str, RecordedResource] = {}
        self.lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's URNs; so do we, so URNs
        # match those in `pulumi stack export` and `pulumi preview --json`.
        if "::pulumi:pulumi:Stack::" in parent:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        is_default_provider = request.type.startswith("pulumi:providers:") and (
            request.name.startswith("default")
        )
        if request.type == "pulumi:pulumi:Stack" or is_default_provider:
            return response
        parent = "" if "::pulumi:pulumi:Stack::" in request.parent else request.parent
        resource = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=parent or None,
            custom=request.custom,
            protect=request.protect,
            retain_on_delete=request.retainOnDelete,
            depends_on=tuple(sorted(set(request.dependencies))),
            inputs=_plain(self.mock.local.inputs or {}),
            ignore_changes=tuple(request.ignoreChanges),
            import_id=request.importId or None,
        )
        with self.lock:
            self.recorded[resource.urn] = resource
        return response


def record(
    program: Callable[[], object],
    *,
    stack_name: str,
    config: Mapping[str, str],
    secret_keys: set[str] | frozenset[str] = frozenset(),
) -> Recording:
    """Run `program` as `pulumi up` would for `stack_name` with `config` (full keys, string
    values as in Pulumi's config map), with every resource mocked, and return what it
    registered. Exceptions the program raises propagate, after the runtime is shut down."""
    region = str(config.get("aws:region", "us-east-1"))
    monitor = _RecordingMonitor(_Mocks(region))
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_mocks(
        monitor.mock, project=PROJECT, stack=stack_name, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys))
    try:
        _await(stack.run_pulumi_func(program))
        root = settings.get_root_resource()
        exported = getattr(root, "outputs", {})
        outputs = {name: _resolve(value) for name, value in sorted(exported.items())}
    finally:
        pulumi.runtime.set_all_config({}, [])
        settings.ROOT.set(None)
    resources = [monitor.recorded[urn] for urn in sorted(monitor.recorded)]
    return Recording(stack=stack_name, resources=resources, outputs=_plain(outputs))


def _await(awaitable: Any) -> Any:
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(awaitable)


def _resolve(value: Any) -> Any:
    return _await(pulumi.Output.from_input(value).future())
