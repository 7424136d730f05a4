"""Benchmark scripts (python -m benchmarks.<name>); not part of the test suite."""
