"""Anchors: signed copies of the chain heads, kept outside the database.

Every chain's head (last sequence and seal) is written once a day, and again as the day goes on,
to ``AUDIT_ANCHOR_URI/<chain>/<YYYY-MM-DD>.json``, signed with an HMAC under ``AUDIT_CHAIN_KEY``.
Verification then checks that every anchored event is still in its chain with the same seal and
that no chain ends before its newest anchor: cutting events from the end of a chain, with its head
moved back or deleted, is found as far back as the newest anchor. An anchor never moves back: a
head behind what a chain's newest anchor records is left for verification to report.

``AUDIT_ANCHOR_URI`` is a folder (a path or ``file://``) or an S3 bucket (``s3://bucket/prefix``,
through boto3 with its usual credentials and ``AWS_ENDPOINT_URL_S3`` for S3-compatible stores).
Either is best on storage the database's administrators cannot write: another host, or a bucket
with object lock (write-once) and no delete right for the portal's credential.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from governance.models import AuditChainHead, AuditEvent
from governance.seals import keyed_digest, seals_match

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


class AnchorStore(Protocol):
    """Where anchors are kept; names are ``<chain folder>/<day>.json``."""

    def names(self, folder: str) -> list[str]:
        """The anchor names in ``folder`` (``*``: in every folder), sorted."""
        ...

    def read(self, name: str) -> bytes: ...

    def write(self, name: str, data: bytes) -> None: ...


class FolderStore:
    def __init__(self, root: Path):
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def names(self, folder: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.glob(f"{folder}/*.json"))

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_bytes(data)
        os.replace(draft, path)


class BucketStore:
    """An S3 bucket (or an S3-compatible store) under a key prefix."""

    def __init__(self, bucket: str, prefix: str):
        import boto3  # only deployments that keep anchors in S3 need it

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.s3: Any = boto3.client("s3")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def names(self, folder: str) -> list[str]:
        base = self._key("")
        start = base if folder == "*" else self._key(f"{folder}/")
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        ):
            for item in page.get("Contents", []):
                name = item["Key"][len(base) :]
                if name.endswith(".json") and name.count("/") == 1:
                    found.append(name)
        return sorted(found)

    def read(self, name: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=self._key(name), Body=data, ContentType="application/json"
        )


def anchor_store() -> AnchorStore:
    """The store ``AUDIT_ANCHOR_URI`` names."""
    uri = settings.AUDIT_ANCHOR_URI
    if uri.startswith("s3://"):
        parts = urlsplit(uri)
        return BucketStore(parts.netloc, parts.path)
    return FolderStore(Path(uri.removeprefix("file://")))


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


def _read(store: AnchorStore, name: str) -> Anchor:
    try:
        data = json.loads(store.read(name))
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
        folder, _, file = name.partition("/")
        return Anchor(folder.replace("-", ":", 1), file.removesuffix(".json"), 0, "", False, name)


def anchors_read(chains: Iterable[str] | None = None) -> dict[str, list[Anchor]]:
    """The anchors in the store (of ``chains``, or every one), by chain, oldest day first."""
    store = anchor_store()
    folders = ["*"] if chains is None else [_folder(chain) for chain in chains]
    names = sorted({name for folder in folders for name in store.names(folder)})
    found: dict[str, list[Anchor]] = {}
    for name in names:
        anchor = _read(store, name)
        found.setdefault(anchor.chain, []).append(anchor)
    for anchors in found.values():
        anchors.sort(key=lambda anchor: (anchor.day, anchor.sequence))
    return found


def _newest_signed(store: AnchorStore, chain: str) -> Anchor | None:
    """The chain's newest anchor that carries a valid signature, reading from the newest day back
    (one file per chain, usually)."""
    for name in reversed(store.names(_folder(chain))):
        anchor = _read(store, name)
        if anchor.signed and anchor.chain == chain:
            return anchor
    return None


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
    store = anchor_store()
    written = 0
    for head in AuditChainHead.objects.filter(last_sequence__gt=0).order_by("chain"):
        newest = _newest_signed(store, head.chain)
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
        document = {**fields, "signature": keyed_digest(PURPOSE, fields)}
        store.write(
            f"{_folder(head.chain)}/{day}.json",
            (json.dumps(document, indent=2, sort_keys=True) + "\n").encode(),
        )
        written += 1
    return written
