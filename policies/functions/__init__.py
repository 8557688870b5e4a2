"""Controls: the Lambda functions themselves (their code, not what invokes them)."""
