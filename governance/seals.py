"""The keyed digests that seal audit events and sign their anchors, under ``AUDIT_CHAIN_KEY``."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings


def canonical(payload: dict) -> bytes:
    """The one byte form of a payload that seals and signatures are computed over."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def keyed_digest(purpose: str, payload: dict) -> str:
    """HMAC-SHA256 under ``AUDIT_CHAIN_KEY`` of ``payload``, bound to ``purpose`` (an event seal
    is never a valid anchor signature, nor the reverse)."""
    message = purpose.encode() + b"\n" + canonical(payload)
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode(), message, hashlib.sha256).hexdigest()


def seals_match(stored: str, expected: str) -> bool:
    return hmac.compare_digest(stored.encode(), expected.encode())
