"""Controls: monitoring (alarms, the monitoring jobs' schedules, Model Monitor jobs)."""
