"""Benchmarks against named peers; run with ``make bench``, never part of ``make test``."""
