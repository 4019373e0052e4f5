"""Developer tooling: local stand-ins for AWS, the Lambda package builder, and `make deploy`."""
