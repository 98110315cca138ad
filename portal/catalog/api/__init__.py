"""The catalog API: models and versions, the sync and its jobs, unassigned and conflicting models."""
