"""Controls: serving (SageMaker models, endpoints, the scoring API)."""
