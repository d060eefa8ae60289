"""Seeded generators of realistic partner traffic for the demo, tests and benchmarks."""
