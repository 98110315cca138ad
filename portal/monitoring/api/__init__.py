"""The monitoring API: drift reports, monitors and baselines."""
