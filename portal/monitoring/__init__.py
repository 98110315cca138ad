"""Drift monitoring: reference profiles and the drift engine that compares windows against them."""
