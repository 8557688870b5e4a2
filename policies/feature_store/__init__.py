"""Controls: feature store (SageMaker feature groups, their Glue catalog, DynamoDB, ElastiCache)."""
