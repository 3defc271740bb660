"""Benchmarks: scripts that print figures and write JSON (not tests, not installed)."""
