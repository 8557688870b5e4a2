"""The fraud model's SageMaker training pipeline: job scripts, the generated definition and the
code that renders it per stack."""
