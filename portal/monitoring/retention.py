"""How long a deployment's decision log (its captured traffic) is kept.

The risk tier in force of the deployed model decides (``CAPTURE_RETENTION_DAYS_BY_TIER``), read
when retention runs: a model whose tier rose keeps every older hour still inside its new
retention. A model not classified yet, or a deployment the portal no longer knows, keeps its logs
as long as the longest tier does, since it may turn out to be high risk.
"""

from __future__ import annotations

from django.conf import settings

from portal.deployments.models import Deployment


def retention_days(tier: str) -> int:
    """Days the decision logs of a model of ``tier`` are kept."""
    by_tier: dict[str, int] = settings.CAPTURE_RETENTION_DAYS_BY_TIER
    if tier in by_tier:
        return by_tier[tier]
    return max([settings.CAPTURE_RETENTION_DAYS, *by_tier.values()])


def deployment_tiers() -> dict[int, str]:
    """The risk tier in force of each deployment's model, for the tenant in scope."""
    return dict(Deployment.objects.values_list("pk", "model_version__model__risk_tier"))
