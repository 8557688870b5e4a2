"""The recording harness: what it captures, and that plans are deterministic."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from mlkit.plan import plan_stack
from mlkit.recording import MOCK_ACCOUNT_ID


class Box(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("mlkit:test:Box", name, None, None)
        self.first = aws.sqs.Queue(
            f"{name}-first",
            message_retention_seconds=60,
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        self.second = aws.sqs.Queue(
            f"{name}-second",
            delay_seconds=self.first.arn.apply(lambda _: 5),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.first]),
        )
        self.register_outputs({})


def test_captures_parent_options_dependencies_and_plain_inputs(record_program) -> None:
    recording = record_program(lambda: Box("box"))
    box, first, second = (recording.named(n) for n in ("box", "box-first", "box-second"))
    assert box.parent is None and box.custom is False
    assert box.urn == "urn:pulumi:test::mlkit::mlkit:test:Box::box"
    assert first.parent == box.urn and second.parent == box.urn
    assert (first.protect, first.retain_on_delete) == (True, True)
    assert (second.protect, second.retain_on_delete) == (False, False)
    assert first.urn in second.depends_on
    # Numbers arrive as floats on the wire; the recording turns whole ones back into ints.
    assert first.inputs == {"messageRetentionSeconds": 60}
    assert first.urn == "urn:pulumi:test::mlkit::mlkit:test:Box$aws:sqs/queue:Queue::box-first"
    assert second.inputs["delaySeconds"] == 5
    assert isinstance(second.inputs["delaySeconds"], int)
    assert recording.children(box) == [first, second]


def test_exports_are_resolved_and_invokes_see_the_mock_account(record_program) -> None:
    def program() -> None:
        pulumi.export("account", aws.get_caller_identity_output().account_id)
        pulumi.export("zones", aws.get_availability_zones(state="available").names)

    recording = record_program(program)
    assert recording.outputs == {
        "account": MOCK_ACCOUNT_ID,
        "zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    }
    assert recording.resources == []


def test_program_errors_propagate(record_program) -> None:
    def program() -> None:
        raise ValueError("boom")

    try:
        record_program(program)
    except ValueError as error:
        assert str(error) == "boom"
    else:
        raise AssertionError("the program's error was swallowed")


def test_two_plans_of_one_stack_are_identical() -> None:
    first = json.dumps(plan_stack("base-prod").as_json(), sort_keys=True)
    second = json.dumps(plan_stack("base-prod").as_json(), sort_keys=True)
    assert first == second
