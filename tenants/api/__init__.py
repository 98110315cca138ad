"""The tenants API: tenants, members, service tokens and webhook endpoints."""
