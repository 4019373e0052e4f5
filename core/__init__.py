"""Shared kernel: errors, AWS clients, S3 storage, short-lived records, pagination, validation, API base."""
