"""Controls: s3."""
