"""The interface every deployment target implements, after ``mlflow.deployments``."""

from __future__ import annotations

import abc
import re
from enum import StrEnum
from typing import Any

from portal.core.errors import PortalError


class TargetState(StrEnum):
    PENDING = "pending"  # accepted by the target, not serving yet
    READY = "ready"  # healthy and serving
    FAILED = "failed"  # will not become ready without a change (the message says why)
    STOPPED = "stopped"  # deleted or scaled to nothing


class TargetError(PortalError):
    """The target refused or could not be reached; the message is a sentence for a person."""

    status_code = 502
    code = "target_error"


class TargetNotFound(TargetError):
    status_code = 404
    code = "target_not_found"


def revision_target_name(*, tenant: str, name: str, revision: int, limit: int = 63) -> str:
    """The name a revision has on its target: DNS-safe, unique per tenant, endpoint and revision.

    Kubernetes names and SageMaker endpoint names are at most 63 characters of letters, digits
    and hyphens; a long endpoint name is shortened, keeping the revision suffix.
    """
    suffix = f"-r{revision}"
    base = re.sub(r"[^a-z0-9-]+", "-", f"{tenant}-{name}".lower()).strip("-")
    return base[: limit - len(suffix)].rstrip("-") + suffix


def replica_count(value: Any) -> int:
    """The replicas a target's ``config`` asks for: a whole number of at least 1."""
    try:
        replicas = int(value)
    except (TypeError, ValueError):
        replicas = 0
    if replicas < 1:
        raise TargetError(f"Replicas must be a whole number of at least 1, not '{value}'.")
    return replicas


class DeploymentTarget(abc.ABC):
    """A place model versions are served. Implementations keep no per-request state."""

    kind: str = ""

    @abc.abstractmethod
    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start serving ``model_uri`` under ``name``; returns ``get_deployment``'s answer."""

    @abc.abstractmethod
    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change what ``name`` serves or how (replicas, instance type)."""

    @abc.abstractmethod
    def delete_deployment(self, name: str, config: dict[str, Any] | None = None) -> None:
        """Stop serving ``name``; deleting what is already gone is not an error."""

    @abc.abstractmethod
    def get_deployment(self, name: str) -> dict[str, Any]:
        """``{"name", "state", "url", "message", ...}``; raises ``TargetNotFound``."""

    @abc.abstractmethod
    def list_deployments(self) -> list[dict[str, Any]]:
        """Every deployment this target serves for the portal, each with at least ``name``."""

    @abc.abstractmethod
    def predict(self, deployment_name: str, inputs: Any) -> Any:
        """Score ``inputs`` (a scoring-protocol payload) on ``deployment_name``."""
