"""Work a page queued for a worker, followed on the page before the worker picks it up.

A page that queues long work (a sync, a month's close) redirects to the page that shows it with
``?queued=<epoch seconds>``. Until a run that started at or after that moment shows up, the page
says the work waits for a worker and keeps refreshing; after ``PATIENCE`` it says instead that
no worker took it, which is what a person needs to know when the workers are stopped or busy.
The marker lives in the address only: nothing is stored, and a stale link shows nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

PARAMETER = "queued"
PATIENCE = timedelta(minutes=5)
FORGOTTEN = timedelta(hours=1)  # an older marker (a bookmark, a shared link) is ignored


@dataclass(frozen=True)
class Queued:
    """Work asked for at ``at`` that no worker has started yet."""

    at: datetime
    stalled: bool  # waited longer than PATIENCE

    @property
    def waiting(self) -> bool:
        """Still within the patience: the page keeps following it."""
        return not self.stalled


def following(queued: Queued | None, *, running: bool) -> bool:
    """Whether the page keeps refreshing: work runs, or queued work still waits for a worker."""
    return running or bool(queued and queued.waiting)


def queued_address(address: str, *, now: datetime | None = None) -> str:
    """``address`` with the marker of work queued now."""
    moment = int((now or timezone.now()).timestamp())
    separator = "&" if "?" in address else "?"
    return f"{address}{separator}{PARAMETER}={moment}"


def _marker(request: HttpRequest, now: datetime) -> datetime | None:
    raw = request.GET.get(PARAMETER, "")
    if not raw.isdecimal() or len(raw) > 12:
        return None
    at = datetime.fromtimestamp(int(raw), tz=UTC)
    if at > now + timedelta(minutes=1) or now - at > FORGOTTEN:
        return None
    return at


def queued_work(
    request: HttpRequest, *, started: Iterable[datetime | None], now: datetime | None = None
) -> Queued | None:
    """The work the request's address says was queued, if none of the ``started`` times (of the
    runs the page shows) is at or after it; None when there is no such work or it has started."""
    now = now or timezone.now()
    at = _marker(request, now)
    if at is None or any(when is not None and when >= at for when in started):
        return None
    return Queued(at=at, stalled=now - at > PATIENCE)
