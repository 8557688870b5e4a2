"""Controls: training (SageMaker pipelines)."""
