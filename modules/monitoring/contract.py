"""The monitoring role `signal`: turning captured data into the retraining signal. What its
backends give the rest of the platform, and their registry. A backend is
`(name, platform, MonitoringJobsArgs, opts) -> RetrainingSignal` (the args: `kit_jobs.py`)."""

from __future__ import annotations

from typing import Protocol

import pulumi

from modules.registry import Backends


class RetrainingSignal(Protocol):
    """What a monitoring backend gives: the alarms whose move into ALARM asks for retraining
    (the retraining trigger listens to both)."""

    drift_alarm_name: pulumi.Output[str]
    """Fires when captured inputs drift from the serving model's baseline."""
    quality_alarm_name: pulumi.Output[str]
    """Fires when live model quality (predictions vs late labels) falls below the gate."""


BACKENDS = Backends("monitoring", "signal")
