"""Sections other apps add to a version's evidence pack.

Governance builds the pack but imports nothing from the apps above it. An app that holds
evidence of its own (monitoring: the deployments' decision logs) registers a section here when it
starts (its ``AppConfig.ready``). A section gets the version and the pack's period, runs inside
the version's tenant scope, and returns files by their path in the pack; a path starts with one
of the pack's heading folders (``governance.services.evidence.HEADINGS``), so the pack's README
and manifest list it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from portal.catalog.models import ModelVersion


class EvidenceSection(Protocol):
    def __call__(
        self, *, version: ModelVersion, start: datetime | None, end: datetime
    ) -> dict[str, bytes]: ...


_sections: dict[str, EvidenceSection] = {}


def evidence_section_register(name: str, section: EvidenceSection) -> None:
    """Add ``section`` to every evidence pack (registering a name again replaces it)."""
    _sections[name] = section


def evidence_sections() -> list[EvidenceSection]:
    """The registered sections, by name."""
    return [_sections[name] for name in sorted(_sections)]
