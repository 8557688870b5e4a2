"""Controls: metadata stores (RDS for a self-managed registry or MLflow)."""
