"""Monitoring's receivers of other apps' signals; each calls one service."""

from __future__ import annotations

from typing import Any

from portal.core.audit import Actor
from portal.deployments.models import Deployment
from portal.monitoring.services import monitor_for_live_revision


def monitor_live_revision(*, deployment: Deployment, actor: Actor, **_: Any) -> None:
    """``portal.deployments.signals.revision_live``: monitoring by construction."""
    monitor_for_live_revision(actor=actor, deployment=deployment)
