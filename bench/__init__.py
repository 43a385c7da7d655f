"""Benchmarks and long reliability runs: they print figures; they are not tests."""
