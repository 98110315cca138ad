"""Chargeback actions: price refreshes, rate card versions, cost estimates."""
