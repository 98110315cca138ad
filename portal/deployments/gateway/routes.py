"""Where the gateway sends a request: an endpoint's live revisions, their servers and weights.

Routes and tokens are kept in each gateway process for a moment (``GATEWAY_ROUTE_TTL_SECONDS``,
five seconds for tokens) so a prediction costs no database query; a rollback takes effect within
that moment. A kept token is used only while the revocation mark it was kept under is still the
latest (``tenants.revocations``, read from the shared cache at most twice a second), so a revoked
token, or one of a deactivated unit, is refused within a second.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from portal.core.ratelimit import Rate
from portal.deployments.models import Deployment, DeploymentState, Suspension
from portal.deployments.targets.base import TargetState
from portal.deployments.unix_http import read_secret
from tenants import services as tenant_services
from tenants.models import TokenScope
from tenants.revocations import revocation_forget, revocation_mark

TOKEN_TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Backend:
    deployment_id: int
    revision: int
    # A local model server: its Unix socket and secret, and ``url`` is the path; any other
    # target: ``url`` is the full URL.
    url: str
    weight: int
    signature: dict | None
    version: str
    socket: str = ""
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Route:
    tenant_id: int
    endpoint: str
    backends: tuple[Backend, ...]
    shadows: tuple[Backend, ...]
    # Revisions that are live but whose server is not answering yet (for the 503's sentence).
    waiting: int = 0
    # Why the endpoint's revisions are suspended, when none serves and they are.
    suspended: str = ""

    def choose(self) -> Backend | None:
        if not self.backends:
            return None
        if len(self.backends) == 1:
            return self.backends[0]
        return random.choices(  # noqa: S311 - traffic splitting, not security
            self.backends, weights=[b.weight for b in self.backends]
        )[0]


@dataclass(frozen=True, slots=True)
class Caller:
    token_id: int
    prefix: str
    tenant_id: int
    tenant_slug: str
    scopes: frozenset[str]
    rate_key: str = field(default="")

    @property
    def may_predict(self) -> bool:
        return TokenScope.PREDICT in self.scopes


class _Expiring:
    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_routes = _Expiring()
_tokens = _Expiring()


def forget() -> None:
    """Drop this process's cached routes and tokens (tests, and after a rollback here)."""
    _routes.clear()
    _tokens.clear()
    revocation_forget()


def caller_for(raw: str) -> Caller:
    """The service token ``raw`` stands for; raises ``Unauthenticated`` with the reason."""
    key = hashlib.sha256(raw.encode()).digest()
    mark = revocation_mark()  # read before the database, so a revocation in between is seen
    kept = _tokens.get(key)
    if kept is not None and kept[1] == mark:
        return kept[0]
    token = tenant_services.token_authenticate(raw=raw)
    caller = Caller(
        token_id=token.pk,
        prefix=token.prefix,
        tenant_id=token.tenant_id,
        tenant_slug=token.tenant.slug,
        scopes=frozenset(token.scopes or []),
    )
    ttl = TOKEN_TTL_SECONDS
    if token.expires_at is not None:
        ttl = min(ttl, max(0.0, (token.expires_at - timezone.now()).total_seconds()))
    _tokens.put(key, (caller, mark), ttl)
    return caller


def route_for(tenant_id: int, endpoint: str, *, fresh: bool = False) -> Route | None:
    """The live route of ``endpoint`` (its name, or a revision's id) in the tenant, or None;
    ``fresh`` reads it again instead of using this process's copy."""
    key = (tenant_id, endpoint)
    route = None if fresh else _routes.get(key)
    if route is None:
        route = _load(tenant_id, endpoint)
        _routes.put(key, route, settings.GATEWAY_ROUTE_TTL_SECONDS)
    return route if isinstance(route, Route) else None


def _load(tenant_id: int, endpoint: str) -> Route | bool:
    # Across tenants on purpose, narrowed to the token's tenant: the gateway serves no views.
    revisions = Deployment.objects.dangerously_across_tenants().filter(tenant_id=tenant_id)
    name = endpoint
    if endpoint.isdigit():
        found = revisions.filter(pk=int(endpoint)).values_list("name", flat=True).first()
        if found is None:
            return False
        name = found
    live = list(
        revisions.filter(name=name, state=DeploymentState.LIVE)
        .select_related("model_version__model")
        .defer("model_version__artifact_manifest")
        .order_by("-revision")
    )
    if not live and not revisions.filter(name=name).exists():
        return False
    backends, shadows, waiting = [], [], 0
    for revision in live:
        where = _server_of(revision.serving)
        if where is None:
            waiting += 1 if revision.traffic_weight else 0
            continue
        url, socket, secret = where
        backend = Backend(
            deployment_id=revision.pk,
            revision=revision.revision,
            url=url,
            weight=revision.traffic_weight,
            signature=revision.model_version.signature,
            version=f"{revision.model_version.model.name}/{revision.model_version.version}",
            socket=socket,
            secret=secret,
        )
        if revision.shadow:
            shadows.append(backend)
        elif revision.traffic_weight:
            backends.append(backend)
    suspended = ""
    if not backends and not waiting:
        suspended = (
            Suspension.objects.dangerously_across_tenants()
            .filter(
                tenant_id=tenant_id,
                deployment__name=name,
                deployment__state=DeploymentState.SUSPENDED,
                ended_at__isnull=True,
            )
            .values_list("reason", flat=True)
            .first()
        ) or ""
    return Route(
        tenant_id=tenant_id,
        endpoint=name,
        backends=tuple(backends),
        shadows=tuple(shadows),
        waiting=waiting,
        suspended=suspended,
    )


def _server_of(serving: dict) -> tuple[str, str, str] | None:
    """(url or path, socket, secret) of a ready revision's server, or None while it is not."""
    if serving.get("state") != TargetState.READY:
        return None
    if serving.get("socket"):
        try:
            secret = read_secret(serving["socket"])
        except OSError:  # the runtime stopped it, or is starting it again
            return None
        return "/invocations", str(serving["socket"]), secret
    if serving.get("url"):
        return str(serving["url"]).rstrip("/") + "/invocations", "", ""
    return None


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float) -> None:
        self.tokens, self.updated = tokens, time.monotonic()


class RateLimiter:
    """A token bucket per service token in this gateway process."""

    def __init__(self, rate: str) -> None:
        parsed = Rate.parse(rate)
        self.capacity = float(parsed.count)
        self.per_second = parsed.count / parsed.seconds
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, token_id: int) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(token_id)
            if bucket is None:
                bucket = self._buckets[token_id] = _Bucket(self.capacity)
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.per_second
