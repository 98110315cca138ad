"""Governance pages: the approval queue and requests, policies, classification, model cards,
incidents, the audit trail, and a unit's overview with its latest audit events. Views are thin: they check who may act, call one service, and
show a domain error (``portal.core.errors.PortalError``) on the page instead of failing."""
