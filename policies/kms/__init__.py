"""Controls: kms."""
