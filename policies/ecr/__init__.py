"""Controls: ecr (training and serving image repositories)."""
