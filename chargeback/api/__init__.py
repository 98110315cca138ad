"""The chargeback API: estimates, prices and rate cards, statements, budgets."""
