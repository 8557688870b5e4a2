"""Controls: iam."""
