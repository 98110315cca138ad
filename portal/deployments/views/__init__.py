"""Deployment pages: deployments and serving, and the approval, classification and policy pages that move them."""
