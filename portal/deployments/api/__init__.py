"""The deployments API: deployments, and the approvals, classification and dry runs that move them."""
