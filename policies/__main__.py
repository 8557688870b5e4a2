"""The CrossGuard pack: `pulumi preview --policy-pack policies --policy-pack-config
policies/config/<environment>.json`. Everything is advisory unless the environment's config
makes it mandatory (configs are generated: `mlkit docs`)."""

import sys
from pathlib import Path

# The CLI runs this file with policies/ as the working directory; the controls import the
# package by name, so the project folder must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import controls

PolicyPack(
    name="mlkit",
    display_name="mlkit ML platform controls",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[control.to_policy() for control in controls()],
)
