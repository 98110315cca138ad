"""A revocation mark in the shared cache, so a process that keeps tokens for a moment (the
inference gateway keeps them five seconds) drops them within a second of a revocation.

``revocation_announce`` writes a fresh mark after a token is revoked or a unit deactivated (once
the change is committed). ``revocation_mark`` is what a process compares the mark it saw when it
kept a token with: it reads the cache at most every ``CHECK_SECONDS`` per process, so a prediction
costs at most one cache read. The mark is random, not a counter, so a cache that lost the key and
started again can never show a mark a process already holds.

While the cache cannot be read the mark stands still: tokens then live their own few seconds, and
the cache is tried again only after ``RETRY_AFTER_ERROR_SECONDS``, so an unreachable Redis costs
no prediction its timeout more than once in a while.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from django.core.cache import cache

from portal.core.ratelimit import CACHE_ERRORS

log = logging.getLogger(__name__)

KEY = "tenants:token-revocation-mark"
CHECK_SECONDS = 0.5
RETRY_AFTER_ERROR_SECONDS = 5.0


class _Seen:
    def __init__(self) -> None:
        self.mark: str | None = None
        self.next_read = 0.0
        self.lock = threading.Lock()


_seen = _Seen()


def revocation_announce() -> None:
    """A new mark: every process drops the tokens it keeps. Call it after the commit."""
    try:
        cache.set(KEY, uuid.uuid4().hex, timeout=None)
    except CACHE_ERRORS as error:
        log.warning("A token revocation was not announced: the cache is unavailable (%s)", error)


def revocation_mark() -> str | None:
    """The latest mark this process knows, at most ``CHECK_SECONDS`` old when the cache answers."""
    now = time.monotonic()
    if now < _seen.next_read:
        return _seen.mark
    with _seen.lock:
        if now < _seen.next_read:  # another thread has just read it
            return _seen.mark
        # Other threads keep the known mark while this one reads.
        _seen.next_read = now + RETRY_AFTER_ERROR_SECONDS
        try:
            _seen.mark = cache.get(KEY)
        except CACHE_ERRORS as error:
            log.warning("Token revocations not checked: the cache is unavailable (%s)", error)
            return _seen.mark
        _seen.next_read = time.monotonic() + CHECK_SECONDS
        return _seen.mark


def revocation_forget() -> None:
    """Read the mark again on the next call (tests)."""
    with _seen.lock:
        _seen.mark, _seen.next_read = None, 0.0
