"""`python -m mlkit VERB`, the same as the `mlkit` command."""

from mlkit.cli import run

run()
