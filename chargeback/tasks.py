"""Price refresh: a daily beat task that refreshes every enabled price source, each on its own."""

from __future__ import annotations

from celery import shared_task

from chargeback.services.prices import prices_refresh_all


@shared_task(name="chargeback.refresh_prices", acks_late=True)
def refresh_prices(*, sources: list[str] | None = None) -> dict[str, str]:
    """Refresh the enabled sources (or the named ones); one source's failure is recorded on it
    and does not stop the others. Safe to run twice: unchanged content writes nothing."""
    return {result.source: result.outcome for result in prices_refresh_all(names=sources)}
