"""The kernel of the portal: what every app may import, and which imports no app nor the project.

Errors and their HTTP answers, settings helpers, paging, URL safety, rate limits, queued work,
downloads, the task outbox, email, the request-wide middleware, the API base (``portal.core.api``)
and the audit interface (``portal.core.audit``). Only Django, DRF, Celery, the standard library
and third-party packages are imported here.
"""
