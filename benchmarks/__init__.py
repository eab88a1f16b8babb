"""Benchmarks: ``python -m benchmarks.scheduler --nodes N --pods M``."""
