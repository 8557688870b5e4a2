"""The training role `pipeline`: what its backends give the rest of the platform, and their
registry. A backend is `(name, platform, TrainingArgs, opts) -> TrainingPipeline`.

The role `ranking` (`RANKING_BACKENDS`): a recommender's training pipeline. A backend is
`(name, platform, RankingTrainingArgs, opts) -> RankingPipeline`."""

from __future__ import annotations

from typing import Protocol

import pulumi

from modules.registry import Backends


class TrainingPipeline(Protocol):
    """What a training backend gives: a pipeline monitoring can start, and its images."""

    pipeline_name: pulumi.Output[str]
    """Pipeline the retraining trigger starts (its evaluation gate decides promotion)."""
    pipeline_arn: pulumi.Output[str]
    """Its ARN (what a starter is granted)."""
    repository_url: pulumi.Output[str]
    """Repository for the stack's own training images."""


class RankingPipeline(Protocol):
    """What a ranking backend gives: the recommender's training pipeline."""

    pipeline_name: pulumi.Output[str]
    """Pipeline the schedule starts (its ranking gate decides what is registered)."""
    pipeline_arn: pulumi.Output[str]
    """Its ARN (what a starter is granted, and the failure alerts watch)."""


BACKENDS = Backends("training", "pipeline")
RANKING_BACKENDS = Backends("training", "ranking")
