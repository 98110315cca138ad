"""Chargeback pages: the unit's costs and statements, finance's review queue, the price catalog."""
