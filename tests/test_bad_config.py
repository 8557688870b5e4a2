"""Bad stack files: each gives one clear message naming the file and the field path, exit 2,
no traceback, and nothing written. Each file in tests/bad_stacks/ states its expected
message on its first line (`# expect: <field path>: <message>`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlkit.cli import EXIT_INVALID, main
from mlkit.stackfile import PROJECT_ROOT, display_path

CORPUS = sorted((Path(__file__).parent / "bad_stacks").glob("Pulumi.*.yaml"))


def expected_line(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return f"{display_path(path)}: {first.removeprefix('# expect: ')}"


def test_corpus_covers_the_cases_the_kit_promises() -> None:
    names = {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in CORPUS}
    promised = {
        "unknown-key",
        "wrong-type",
        "unknown-blueprint",
        "negative-size",
        "missing-tag",
        "invalid-yaml",
    }
    assert promised <= names


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_bad_stack_file_exits_2_with_the_field_path(path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plans"
    assert main(["plan", str(path), "--json", "--out", str(out)]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [expected_line(path)]
    assert captured.out == ""
    assert not out.exists()


def test_missing_stack_names_the_file_and_the_shipped_stacks(capsys) -> None:
    assert main(["plan", "no-such-stack"]) == EXIT_INVALID
    message = capsys.readouterr().err.strip()
    assert message.startswith("stacks/Pulumi.no-such-stack.yaml: file: no such stack file")
    assert "base-dev" in message


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["plan"])
    assert exited.value.code == EXIT_INVALID
    assert "STACK|FILE" in capsys.readouterr().err


def test_whole_process_prints_no_traceback() -> None:
    bad = PROJECT_ROOT / "tests" / "bad_stacks" / "Pulumi.unknown-key.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "mlkit", "plan", str(bad)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_INVALID
    assert result.stderr.splitlines() == [expected_line(bad)]
