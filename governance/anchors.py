"""Anchors: signed copies of the chain heads, kept outside the database.

Every chain's head (last sequence and seal) is written once a day, and again as the day goes on,
to ``AUDIT_ANCHOR_URI/<chain>/<YYYY-MM-DD>.json``, signed with an HMAC under ``AUDIT_CHAIN_KEY``.
Verification then checks that every anchored event is still in its chain with the same seal and
that no chain ends before its newest anchor: cutting events from the end of a chain, with its head
moved back or deleted, is found as far back as the newest anchor. An anchor never moves back: a
head behind what a chain's newest anchor records is left for verification to report.

The folder is best on storage the database's administrators cannot write (another host, a
write-once bucket mounted as a folder); object-store URIs are not supported yet.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from governance.audit import keyed_digest, seals_match
from governance.models import AuditChainHead, AuditEvent

logger = logging.getLogger(__name__)

PURPOSE = "portal.audit.anchor.v1"


@dataclass(frozen=True)
class Anchor:
    chain: str
    day: str
    sequence: int
    seal: str
    signed: bool  # False: the file's signature does not match its content
    name: str  # the file, relative to the anchor folder


def anchor_root() -> Path:
    uri = settings.AUDIT_ANCHOR_URI
    return Path(uri.removeprefix("file://"))


def _folder(chain: str) -> str:
    return chain.replace(":", "-")


def _signed_fields(chain: str, day: str, sequence: int, seal: str, anchored_at: str) -> dict:
    return {
        "chain": chain,
        "day": day,
        "sequence": sequence,
        "seal": seal,
        "anchored_at": anchored_at,
    }


def _read(path: Path, root: Path) -> Anchor:
    name = str(path.relative_to(root))
    try:
        data = json.loads(path.read_text())
        fields = _signed_fields(
            str(data["chain"]),
            str(data["day"]),
            int(data["sequence"]),
            str(data["seal"]),
            str(data["anchored_at"]),
        )
        signed = seals_match(str(data["signature"]), keyed_digest(PURPOSE, fields))
        return Anchor(
            fields["chain"], fields["day"], fields["sequence"], fields["seal"], signed, name
        )
    except (OSError, ValueError, KeyError, TypeError):
        chain = path.parent.name.replace("-", ":", 1)
        return Anchor(chain, path.stem, 0, "", False, name)


def anchors_read(chains: Iterable[str] | None = None) -> dict[str, list[Anchor]]:
    """The anchors in the folder (of ``chains``, or every one), by chain, oldest day first."""
    root = anchor_root()
    folders = ["*"] if chains is None else [_folder(chain) for chain in chains]
    paths = sorted({path for folder in folders for path in root.glob(f"{folder}/*.json")})
    found: dict[str, list[Anchor]] = {}
    for path in paths if root.is_dir() else []:
        anchor = _read(path, root)
        found.setdefault(anchor.chain, []).append(anchor)
    for anchors in found.values():
        anchors.sort(key=lambda anchor: (anchor.day, anchor.sequence))
    return found


def _write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(draft, path)


def _extends(head: AuditChainHead, anchor: Anchor) -> bool:
    """Whether ``head`` is at or after ``anchor`` with the anchored event still in place."""
    if head.last_sequence < anchor.sequence:
        return False
    # A cross-tenant read by design: anchoring covers every chain.
    anchored = (
        AuditEvent.objects.dangerously_across_tenants()
        .filter(chain=head.chain, sequence=anchor.sequence)
        .values_list("seal", flat=True)
        .first()
    )
    return anchored is not None and seals_match(anchored, anchor.seal)


def audit_anchor_heads(*, now: datetime | None = None) -> int:
    """Write today's anchor of every chain that has events; returns how many were written.

    A chain whose head is behind its newest anchor is not anchored (that would hide the cut);
    the error is logged and ``audit_verify`` reports the chain.
    """
    now = now or timezone.now()
    day = now.astimezone(UTC).date().isoformat()
    root = anchor_root()
    existing = anchors_read()
    written = 0
    for head in AuditChainHead.objects.filter(last_sequence__gt=0).order_by("chain"):
        signed = [anchor for anchor in existing.get(head.chain, []) if anchor.signed]
        newest = max(signed, key=lambda anchor: anchor.sequence, default=None)
        if newest is not None and not _extends(head, newest):
            logger.error(
                "audit chain %s: its head (%s events) does not extend its anchor of %s "
                "(%s events); not anchored, verify_audit_trail names the break",
                head.chain,
                head.last_sequence,
                newest.day,
                newest.sequence,
            )
            continue
        fields = _signed_fields(
            head.chain, day, head.last_sequence, head.last_seal, now.isoformat()
        )
        _write(
            root / _folder(head.chain) / f"{day}.json",
            {**fields, "signature": keyed_digest(PURPOSE, fields)},
        )
        written += 1
    return written
