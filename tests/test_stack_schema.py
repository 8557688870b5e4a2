"""Every shipped stack file names its blueprint's generated JSON Schema (for editors), and
the schema accepts the shipped files and refuses what the settings refuse."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from mlkit.docs import SCHEMA_DIR, render_stack_schema
from mlkit.stackfile import PROJECT_ROOT, resolve


def stack_document(stack: str) -> tuple[str, dict]:
    text = resolve(stack).read_text(encoding="utf-8")
    return text.splitlines()[0], yaml.safe_load(text)


def test_every_stack_file_references_its_blueprint_schema(shipped_stack) -> None:
    first_line, document = stack_document(shipped_stack)
    blueprint = document["config"]["mlkit:blueprint"]
    assert first_line == f"# yaml-language-server: $schema=schema/{blueprint}.json"
    assert (PROJECT_ROOT / SCHEMA_DIR / f"{blueprint}.json").is_file()


def test_shipped_stack_files_validate_against_their_schema(shipped_stack) -> None:
    _, document = stack_document(shipped_stack)
    schema = json.loads(render_stack_schema(document["config"]["mlkit:blueprint"]))
    jsonschema.Draft202012Validator(schema).validate(document)


def errors(document: dict, blueprint: str = "realtime-fraud") -> list[str]:
    schema = json.loads(render_stack_schema(blueprint))
    found = jsonschema.Draft202012Validator(schema).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found)


@pytest.fixture
def fraud_dev() -> dict:
    return stack_document("fraud-dev")[1]


def test_a_misspelled_key_fails_the_schema(fraud_dev) -> None:
    fraud_dev["config"]["mlkit:serving"] = {"instanceTyp": "ml.m5.large"}
    assert errors(fraud_dev) == [
        "config/mlkit:serving: Additional properties are not allowed ('instanceTyp' was unexpected)"
    ]


def test_a_bad_enum_and_a_plaintext_secret_fail_the_schema(fraud_dev) -> None:
    fraud_dev["config"]["mlkit:serving"] = {"mode": "always-on"}
    fraud_dev["config"]["mlkit:observability"] = {"alertHttpsEndpoint": "https://x"}
    assert errors(fraud_dev) == [
        "config/mlkit:observability/alertHttpsEndpoint: 'https://x' is not valid under any of"
        " the given schemas",
        "config/mlkit:serving/mode: 'always-on' is not one of ['serverless', 'instances']",
    ]


def test_a_section_of_another_blueprint_fails_the_schema() -> None:
    _, document = stack_document("base-dev")
    document["config"]["mlkit:streaming"] = {"shardCount": 2}
    assert errors(document, "platform-base") == [
        "config: 'mlkit:streaming' does not match any of the regexes: "
        "'^(aws|aws-native|kubernetes|pulumi):'"
    ]
