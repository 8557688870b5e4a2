"""Security: the stack's KMS key, secure buckets and least-privilege IAM helpers."""

from modules.security.bucket import SecureBucket, SecureBucketArgs
from modules.security.key import StackKey, StackKeyArgs

__all__ = ["SecureBucket", "SecureBucketArgs", "StackKey", "StackKeyArgs"]
