"""A fixed-window rate limiter on the shared cache, used by the login page and the API throttles.

Rates are written as ``"<count>/<period>"`` where the period is ``s``, ``min``, ``hour`` or ``day``
with an optional multiplier: ``"10/5min"`` allows ten hits per five minutes.

While the cache is unreachable the limiter lets requests through (and logs it): refusing everyone
would turn a Redis outage into an outage of sign-in and of the API.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What the cache backends raise when their store is down: Redis's errors, the file cache's OSError.
CACHE_ERRORS = (RedisError, OSError)

_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "hour": 3600, "h": 3600, "day": 86400, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"{text!r} is not a rate such as '10/min' or '20/hour'.")
        multiplier = int(match.group(2) or 1)
        return cls(count=int(match.group(1)), seconds=multiplier * _UNITS[match.group(3)])


def rate_limit_hit(*, key: str, rate: Rate) -> int | None:
    """Count one hit; return None when allowed, else the seconds until the window reopens."""
    now = int(time.time())
    window_start = now - now % rate.seconds
    cache_key = f"ratelimit:{key}:{window_start}"
    try:
        hits = _count(cache_key, timeout=rate.seconds + 1)
    except CACHE_ERRORS as error:
        logger.warning("Rate limit on %s not applied: the cache is unavailable (%s)", key, error)
        return None
    if hits > rate.count:
        return max(1, window_start + rate.seconds - now)
    return None


def _count(cache_key: str, *, timeout: int) -> int:
    cache.add(cache_key, 0, timeout=timeout)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=timeout)
        return 1
