"""``Idempotency-Key`` on every POST of the API: a retried request is answered, not done again.

A caller that sends ``Idempotency-Key: <1 to 200 characters>`` with a POST to an API view gets,
for ``IDEMPOTENCY_KEY_HOURS`` (24), the first answer to that key again: its status, body and
``Content-Type``/``Location`` headers, marked ``Idempotent-Replayed: true``, without the work
being done a second time. The same key with another request (another path, query or body) is a
409 ``idempotency_key_reused``; a repeat while the first is still being answered is a 409
``idempotency_key_in_progress``; a longer key is a 400.

Keys belong to a caller: a service token (``token:<prefix>``) or a person (``user:<id>``), whoever
the API's own authentication says it is, checked again on every repeat, so a revoked token or a
signed-out person is refused, not answered from the store; unauthenticated requests are served
as if they carried no key. Answers 5xx and 429 are not kept (the retry does the work), nor are
streamed ones. A view whose answer carries a secret shown once (``answer_shown_once = True``: a new
service token) keeps only that it was answered: a repeat is a 409 ``idempotency_key_used`` that
says so, rather than the secret a second time or a second token. The claim is committed before the view runs, so a concurrent repeat sees it; one
whose answer never came (its process died) is taken over after ``ABANDONED_AFTER``. Beat's
``portal.expire_idempotency_keys`` deletes expired keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.views import APIView

from portal.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "Location")
# Longer than any request is answered in (gunicorn's timeout, a rollout's first step).
ABANDONED_AFTER = timedelta(minutes=10)
_CLAIM = "_idempotency_claim"
_SHOWN_ONCE = "_idempotency_answer_shown_once"


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _caller(view_func: Any, request: HttpRequest) -> str | None:
    """Who sends ``request``, by the view's own authentication; None when no one is known."""
    view = view_func.cls(**getattr(view_func, "initkwargs", {}))
    view.args, view.kwargs = (), {}
    try:
        user = view.initialize_request(request).user
    except APIException:
        return None  # the view answers the 401 or 403 itself
    if not getattr(user, "is_authenticated", False):
        return None
    prefix = getattr(user, "token_prefix", None)
    return f"token:{prefix}" if prefix else f"user:{user.pk}"


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def idempotency_claim(*, caller: str, key: str, fingerprint: str) -> IdempotencyKey | HttpResponse:
    """The new claim on ``key`` for this request, or the answer a repeat gets instead."""
    now = timezone.now()
    IdempotencyKey.objects.filter(caller=caller, key=key, expires_at__lte=now).delete()
    IdempotencyKey.objects.filter(
        caller=caller, key=key, status_code=None, created_at__lte=now - ABANDONED_AFTER
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                caller=caller,
                key=key,
                fingerprint=fingerprint,
                created_at=now,
                expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS),
            )
    except IntegrityError:
        pass
    first = IdempotencyKey.objects.filter(caller=caller, key=key).first()
    if first is None or first.status_code is None:
        return _error(
            409,
            "idempotency_key_in_progress",
            "A request with this Idempotency-Key is still in progress; "
            "repeat it once that one has been answered.",
        )
    if first.fingerprint != fingerprint:
        return _error(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request; "
            "send a new key with a new request.",
        )
    if first.withheld:
        return _error(
            409,
            "idempotency_key_used",
            f"This request was already answered ({first.status_code}); that answer carried a "
            "secret that is shown once, so it is not shown again.",
        )
    replay = HttpResponse(bytes(first.body), status=first.status_code)
    for name, value in first.headers.items():
        replay[name] = value
    replay[REPLAYED_HEADER] = "true"
    return replay


def idempotency_keep(
    *, claim: IdempotencyKey, response: HttpResponse, shown_once: bool = False
) -> None:
    """Keep the answer to a claimed request, or free the key when the answer is not kept.

    ``shown_once``: the answer carries a secret; only its status is kept, and repeats are refused.
    """
    status = response.status_code
    if response.streaming or status >= 500 or status == 429:
        IdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    withheld = shown_once and status < 300
    # An update, not a save: a claim taken over as abandoned is gone, and the answer still goes out.
    IdempotencyKey.objects.filter(pk=claim.pk, status_code=None).update(
        status_code=status,
        withheld=withheld,
        body=b"" if withheld else response.content,
        headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    )


def idempotency_keys_expire() -> int:
    """Delete the keys whose time is over; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


class IdempotencyMiddleware:
    """Applies ``Idempotency-Key`` to POSTs of API views (DRF's), whatever app they belong to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except BaseException:
            claim = request.__dict__.pop(_CLAIM, None)
            if claim is not None:
                IdempotencyKey.objects.filter(pk=claim.pk).delete()
            raise
        claim = request.__dict__.pop(_CLAIM, None)
        if claim is not None:
            shown_once = request.__dict__.pop(_SHOWN_ONCE, False)
            idempotency_keep(claim=claim, response=response, shown_once=shown_once)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        key = request.headers.get(HEADER)
        view_class = getattr(view_func, "cls", None)
        if (
            key is None
            or request.method != "POST"
            or not (isinstance(view_class, type) and issubclass(view_class, APIView))
        ):
            return None
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            return _error(
                400,
                "invalid",
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters; "
                "a UUID per request is a good key.",
            )
        try:  # before authentication, whose CSRF check may read a form body as a stream
            fingerprint = _fingerprint(request)
        except (RequestDataTooBig, UnreadablePostError, RawPostDataException):
            return None  # the view answers with what to fix
        caller = _caller(view_func, request)
        if caller is None:
            return None
        outcome = idempotency_claim(caller=caller, key=key, fingerprint=fingerprint)
        if isinstance(outcome, HttpResponse):
            return outcome
        setattr(request, _CLAIM, outcome)
        setattr(request, _SHOWN_ONCE, bool(getattr(view_class, "answer_shown_once", False)))
        return None
