"""Benchmark suites (TOML), shipped as e3gym.bench.suites."""
