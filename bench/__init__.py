"""Benchmarks (`make bench`). Each measures its own reference in the same run and prints one
JSON line, so ratios hold on a noisy machine. Targets live in the issues, not in tests."""
