"""Benchmark scripts (``python -m benchmarks.<name>``); not part of the package or the tests."""
