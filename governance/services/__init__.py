"""Governance actions: each changes state in one transaction and writes its audit events."""
