"""The embedded default target: model servers on this machine, run by ``manage.py run_serving``.

The target itself only records what should be served; the serving runtime
(``portal.deployments.runtime``) sees every local revision that is deploying or live, starts
one sandboxed model server per revision on a Unix socket, checks it on ``/ping`` and writes what
it sees into the revision's ``serving`` field, which ``get_deployment`` reads back. A server
answers only requests that present its secret (``SERVING_DIR/run/<id>/secret``).
"""

from __future__ import annotations

from typing import Any

import urllib3
from django.utils import timezone

from portal.deployments.models import Deployment, Target
from portal.deployments.targets.base import (
    DeploymentTarget,
    TargetError,
    TargetNotFound,
    TargetState,
)
from portal.deployments.unix_http import UnixPools, read_secret

_http = UnixPools(maxsize=4, timeout=urllib3.Timeout(connect=2, read=60), retries=False)


def _revisions() -> Any:
    # Across tenants on purpose: the target name already names the tenant and revision.
    return Deployment.objects.dangerously_across_tenants().filter(target=Target.LOCAL)


def _reply(name: str, serving: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "state": serving.get("state", TargetState.PENDING),
        "socket": serving.get("socket", "") if serving.get("state") == TargetState.READY else "",
        "message": serving.get("message", ""),
        "restarts": serving.get("restarts", 0),
        "checked_at": serving.get("checked_at"),
    }


class LocalTarget(DeploymentTarget):
    kind = Target.LOCAL

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        deployment_id = (config or {}).get("deployment_id")
        if deployment_id is None:
            raise TargetError("The local target needs the deployment id in its config.")
        serving = {
            "target_name": name,
            "model_uri": model_uri,
            "state": TargetState.PENDING,
            "message": "Waiting for the serving runtime to start the model server.",
            "requested_at": timezone.now().isoformat(),
        }
        if not _revisions().filter(pk=deployment_id).update(serving=serving):
            raise TargetNotFound(f"There is no local deployment {deployment_id}.")
        return _reply(name, serving)

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # A revision never changes what it serves; a change is a new revision.
        return self.get_deployment(name)

    def delete_deployment(self, name: str, config: dict[str, Any] | None = None) -> None:
        # The runtime stops every server whose revision is no longer deploying or live.
        return None

    def get_deployment(self, name: str) -> dict[str, Any]:
        found = _revisions().filter(serving__target_name=name).values_list("serving", flat=True)
        serving = found.first()
        if serving is None:
            raise TargetNotFound(f"The local target serves nothing called '{name}'.")
        return _reply(name, serving)

    def list_deployments(self) -> list[dict[str, Any]]:
        return [
            _reply(serving["target_name"], serving)
            for serving in _revisions()
            .filter(state__in=["deploying", "live"])
            .values_list("serving", flat=True)
            if serving.get("target_name")
        ]

    def predict(self, deployment_name: str, inputs: Any) -> Any:
        reply = self.get_deployment(deployment_name)
        if reply["state"] != TargetState.READY:
            raise TargetError(f"'{deployment_name}' is not serving yet: {reply['message']}")
        try:
            response = _http.request(
                "POST",
                reply["socket"],
                "/invocations",
                secret=read_secret(reply["socket"]),
                json=inputs,
            )
        except (OSError, urllib3.exceptions.HTTPError) as error:
            raise TargetError(
                f"The model server of '{deployment_name}' did not answer: {error}"
            ) from error
        if response.status != 200:
            raise TargetError(
                f"The model server answered {response.status}: {response.data[:300]!r}"
            )
        return response.json()
