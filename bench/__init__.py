"""Benchmarks of order-service against the real local servers (``python -m bench.run``).

Separate from the tests: they measure, they do not assert; the targets are printed as
PASS/MISS. See docs/benchmarks.md for the latest results and how to reproduce them.
"""
