"""Deployment targets behind one interface, shaped like MLflow's deployment client.

A target serves one revision under a target-side name (``revision_target_name``). The methods
follow ``mlflow.deployments.BaseDeploymentClient``: ``create_deployment``, ``update_deployment``,
``delete_deployment``, ``get_deployment``, ``list_deployments`` and ``predict``, with dicts as
results. ``config`` carries what the portal decided: ``instance_type``, ``replicas``, ``tenant``,
``deployment_id``, ``revision``, ``environment``.

``get_deployment`` always answers a dict with at least ``name``, ``state`` (one of
``TargetState``), ``url`` (where predictions are sent, or "") and ``message`` (a sentence
saying what the target reported). ``get_target(kind)`` returns the target for a ``Target`` value;
``DEPLOYMENT_TARGETS`` in settings maps kinds to classes, so an operator can replace one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from portal.deployments.targets.base import (
    DeploymentTarget,
    TargetError,
    TargetNotFound,
    TargetState,
    revision_target_name,
)

__all__ = [
    "DeploymentTarget",
    "TargetError",
    "TargetNotFound",
    "TargetState",
    "get_target",
    "revision_target_name",
]

_cache: dict[str, DeploymentTarget] = {}


def get_target(kind: str, **options: Any) -> DeploymentTarget:
    """The target for ``kind`` (local, kserve, sagemaker); one instance per process unless
    ``options`` are given (tests pass clients and recorded transports that way)."""
    path = settings.DEPLOYMENT_TARGETS.get(kind)
    if path is None:
        raise TargetError(f"There is no deployment target called '{kind}'.")
    if options:
        return import_string(path)(**options)
    if kind not in _cache:
        _cache[kind] = import_string(path)()
    return _cache[kind]
