//! AWS client layer (IAM, STS, S3): partitions, ARNs, error mapping, bounded retries.
