"""The one door to public price APIs: an HTTP GET with a deadline, a size bound and few retries.

Every price source reads the network through ``http_get``, so tests replace this one function
with recorded responses, and nothing else in the chargeback app opens a connection. Neither the
AWS Price List bulk files nor the Azure Retail Prices API need credentials; nothing is sent but
the URL. The URL is checked (``portal.core.urls_safety``): no private addresses unless
``PRICE_ALLOW_PRIVATE_HOSTS`` is on, never link-local or metadata addresses, no proxy from the
environment, and redirects are not followed. Each read waits at most
``PRICE_FETCH_TIMEOUT_SECONDS`` and the whole call, retries included, ends by
``PRICE_FETCH_DEADLINE_SECONDS``, so a source that trickles its answer cannot hold a worker. The
callers hold no transaction while they fetch (``chargeback.services.prices``).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from django.conf import settings

from portal.core.errors import InvalidRequest
from portal.core.urls_safety import (
    DeadlinePassed,
    PrivateAddressRefused,
    check_outgoing_url,
    open_url,
)

USER_AGENT = "mlops-portal-price-refresh/1.0"
TRANSIENT_STATUS = {429, 500, 502, 503, 504}


class PriceSourceError(Exception):
    """A price source could not be read; the message is a sentence for the source's health."""


class PriceFetchError(PriceSourceError):
    """The network or the server failed (timeouts, refused connections, HTTP errors)."""


class PriceFormatError(PriceSourceError):
    """The answer arrived but is not what the source documents (malformed or empty)."""


def _check_url(url: str) -> None:
    try:
        check_outgoing_url(
            url,
            allow_private=settings.PRICE_ALLOW_PRIVATE_HOSTS,
            setting="PRICE_ALLOW_PRIVATE_HOSTS",
        )
    except InvalidRequest as refused:
        raise PriceFetchError(f"{url!r} is not fetched: {refused.detail}") from None


def _get_once(url: str, *, timeout: float, deadline: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(  # noqa: S310 (_check_url allows http and https only)
        url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
    )
    allow_private = settings.PRICE_ALLOW_PRIVATE_HOSTS
    with open_url(
        request, timeout=timeout, allow_private=allow_private, deadline=deadline
    ) as response:
        body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise PriceFetchError(
            f"{url} answered more than {max_bytes:,} bytes (PRICE_FETCH_MAX_BYTES); not loaded."
        )
    return body


def http_get(url: str, *, timeout: float | None = None) -> bytes:
    """The body of ``url``; retries twice on transient failures, then raises ``PriceFetchError``.

    The whole call, retries and their waits included, ends by ``PRICE_FETCH_DEADLINE_SECONDS``.
    """
    _check_url(url)
    timeout = timeout or settings.PRICE_FETCH_TIMEOUT_SECONDS
    budget = settings.PRICE_FETCH_DEADLINE_SECONDS
    deadline = time.monotonic() + budget
    cut = PriceFetchError(
        f"{url} did not answer in full within {budget} seconds (PRICE_FETCH_DEADLINE_SECONDS); "
        "not loaded."
    )
    max_bytes = settings.PRICE_FETCH_MAX_BYTES
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            return _get_once(url, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
        except PrivateAddressRefused as refused:
            raise PriceFetchError(str(refused)) from None
        except DeadlinePassed:
            raise cut from None
        except urllib.error.HTTPError as error:
            if error.code not in TRANSIENT_STATUS or attempt == attempts:
                raise PriceFetchError(f"{url} answered HTTP {error.code} {error.reason}.") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, DeadlinePassed):
                raise cut from None
            if attempt == attempts:
                raise PriceFetchError(f"{url} could not be reached: {reason}.") from None
        if time.monotonic() + 2**attempt >= deadline:
            raise cut
        time.sleep(2**attempt)
    raise PriceFetchError(f"{url} could not be read.")  # not reached: the loop returns or raises
