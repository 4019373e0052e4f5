"""The test suite (the package makes `tests.isolation` importable as an early pytest plugin)."""
