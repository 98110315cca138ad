"""Chargeback: price catalog, metering, rating, statements and budgets (models land with their issue)."""
