"""Controls: monitoring (alarms, Model Monitor jobs)."""
