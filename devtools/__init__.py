"""Developer tooling: local stand-ins for the AWS services the gallery uses."""
