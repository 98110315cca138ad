"""What the catalog's artifact checks find, for the layers above it to act on.

The registry sync hashes again the files of approved and serving versions (``portal.catalog.sync``)
but approvals, deployments and incidents are not the catalog's: governance and the deployments
workflow receive these signals (connected in their ``AppConfig.ready``) and act in the sync's
transaction. Each must have exactly one receiver; sending one that nothing receives raises
``RuntimeError``, so a tampered version is never left unhandled.

- ``version_manifest_found``: a version recorded before content manifests still has the files it
  was recorded with (``actor``, ``version``, ``manifest``, ``digest``); governance records the
  manifest and binds the version's approvals to it.
- ``version_files_changed``: a version's files differ from those recorded (``actor``,
  ``version``, ``found_digest``, ``changes``); the workflow marks it tampered, voids its approvals
  and opens an incident.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

version_manifest_found = Signal()
version_files_changed = Signal()


def signal_send_to_one(signal: Signal, *, version: Any, **kwargs: Any) -> None:
    """Send ``signal`` for ``version`` (a ``ModelVersion``); its one receiver must be connected."""
    received = signal.send(sender=type(version), version=version, **kwargs)
    if len(received) != 1:
        raise RuntimeError(
            f"A catalog signal has {len(received)} receivers instead of one: governance and "
            "portal.deployments connect them when the apps are ready."
        )
