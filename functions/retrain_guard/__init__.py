"""Retraining guard: a drift alarm starts the training pipeline, at most once per interval."""
