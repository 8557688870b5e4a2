"""Generated docs match the code; the check notices when they do not."""

from __future__ import annotations

from mlkit import docs
from mlkit.cli import EXIT_OK, EXIT_VIOLATIONS, main


def test_generated_docs_are_current(cached_plans: None) -> None:
    assert docs.stale_docs() == [], "run `mlkit docs` and commit the result"


def test_check_fails_when_the_code_changes_and_docs_do_not(monkeypatch, capsys) -> None:
    monkeypatch.setitem(docs.GENERATED, "docs/configuration.md", lambda: "changed\n")
    assert main(["docs", "--check"]) == EXIT_VIOLATIONS
    assert capsys.readouterr().err == ("docs/configuration.md is stale: run `mlkit docs`\n")


def test_configuration_reference_lists_every_setting_with_profile_defaults() -> None:
    text = docs.render_configuration()
    assert (
        "| `mlkit:network.azCount` | integer 2-6 | `2` | `2` | `3` |"
        " Availability zones to spread private subnets over (2-6). |"
    ) in text.splitlines()
    assert "| `mlkit:tags.cost-center` | string | **required** |" in text
    assert main(["docs", "--check"]) == EXIT_OK
