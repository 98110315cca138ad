"""What governance decides about a model's live revisions, for the deployments app to act on.

Governance knows nothing of deployments; ``portal.deployments`` connects one receiver to each
signal in its ``AppConfig.ready`` and acts in the sender's transaction. Sending one that nothing
receives raises ``RuntimeError``, so a decision is never left unenforced.

- ``recertification_lapsed``: a high-risk model's re-certification is overdue past the grace
  period and the policy in force says to suspend (``actor``, ``model``, ``reason``); its live
  production revisions are suspended.
- ``model_recertified``: a new approval certified the model again (``actor``, ``model``); the
  revisions suspended for the overdue re-certification resume.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

recertification_lapsed = Signal()
model_recertified = Signal()


def enforcement_send(signal: Signal, *, model: Any, **kwargs: Any) -> None:
    """Send ``signal`` for ``model`` (a ``RegisteredModel``); its one receiver must be connected."""
    received = signal.send(sender=type(model), model=model, **kwargs)
    if len(received) != 1:
        raise RuntimeError(
            f"A governance signal has {len(received)} receivers instead of one: "
            "portal.deployments connects them when the apps are ready."
        )
