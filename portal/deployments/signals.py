"""What happens to revisions, for the apps beside deployments to act on.

- ``revision_live``: a revision went live on its target (``deployment``, ``actor``), sent inside
  the rollout's transaction with the endpoint's revisions locked. Monitoring receives it
  (connected in its ``AppConfig.ready``) and gives a revision whose request asked for drift
  monitoring a monitor and a baseline, in the same transaction.

A signal rather than a call: monitoring's services use the deployments workflow (a drifting
high-risk model goes back to review), which uses the rollout, so the rollout cannot import them.
"""

from __future__ import annotations

from django.dispatch import Signal

revision_live = Signal()
