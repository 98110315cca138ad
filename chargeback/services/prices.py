"""Refreshing the price catalog: one source at a time, all or nothing, never losing good prices.

``price_source_refresh`` reads a source through its loader (``chargeback.price_sources``) and:

- stores a new snapshot with its items in one transaction when the content is new;
- changes nothing when the content hash is the one in force (a re-sync is a no-op), and points
  back at an older snapshot when the source returns to content it served before;
- on any failure (network, malformed answer, no usable prices) keeps the snapshot in force and
  writes a readable ``last_error`` on the source. It never raises for a source's fault.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from chargeback.fetch import PriceSourceError
from chargeback.models import PriceItem, PriceSnapshot, PriceSource, RefreshStatus, SourceKind
from chargeback.price_sources import LOADERS, ParsedCatalog
from portal.core.errors import InvalidRequest

logger = logging.getLogger(__name__)

BUILTIN_SOURCE = "builtin"


@dataclass(frozen=True)
class RefreshResult:
    source: str
    outcome: str  # loaded | unchanged | restored | failed | skipped
    snapshot_id: int | None = None
    item_count: int = 0
    error: str = ""

    def sentence(self) -> str:
        if self.outcome == "failed":
            return f"{self.source}: failed, the prices in force are kept. {self.error}"
        if self.outcome == "skipped":
            return f"{self.source}: skipped ({self.error})"
        return (
            f"{self.source}: {self.outcome} (snapshot {self.snapshot_id}, {self.item_count} prices)"
        )


def _default_sources() -> list[dict]:
    cloud = settings.PRICE_CLOUD_SOURCES_ENABLED
    return [
        {
            "name": BUILTIN_SOURCE,
            "kind": SourceKind.BUILTIN,
            "url": "",
            "region": "",
            "enabled": True,
        },
        {
            "name": "aws-sagemaker",
            "kind": SourceKind.AWS_BULK,
            "url": settings.PRICE_AWS_REGION_INDEX_URL,
            "region": settings.PRICE_AWS_REGION,
            "enabled": cloud,
        },
        {
            "name": "azure-ml",
            "kind": SourceKind.AZURE_RETAIL,
            "url": settings.PRICE_AZURE_URL,
            "region": settings.PRICE_AZURE_REGION,
            "enabled": cloud,
        },
    ]


def price_sources_ensure() -> None:
    """Create the built-in, AWS and Azure sources once; later changes by admins are kept."""
    existing = set(PriceSource.objects.values_list("name", flat=True))
    for fields in _default_sources():
        if fields["name"] not in existing:
            name = fields.pop("name")
            PriceSource.objects.get_or_create(name=name, defaults=fields)


def price_catalog_ensure() -> None:
    """Load the built-in catalog the first time prices are needed, so estimates work offline."""
    if PriceSource.objects.filter(kind=SourceKind.BUILTIN, current_snapshot__isnull=False).exists():
        return
    price_sources_ensure()
    for source in PriceSource.objects.filter(kind=SourceKind.BUILTIN, enabled=True):
        price_source_refresh(source=source)


def _mark(source: PriceSource, **fields: object) -> None:
    # An update, not a save: an admin's edit of url or region made meanwhile is not overwritten.
    PriceSource.objects.filter(pk=source.pk).update(**fields)
    for name, value in fields.items():
        setattr(source, name, value)


def _failed(source: PriceSource, error: str) -> RefreshResult:
    logger.warning("Price source %s failed: %s", source.name, error)
    _mark(source, status=RefreshStatus.FAILED, last_error=error[:2000])
    return RefreshResult(
        source=source.name,
        outcome="failed",
        snapshot_id=source.current_snapshot_id,
        error=error,
    )


def _item_rows(snapshot: PriceSnapshot, catalog: ParsedCatalog) -> Iterable[PriceItem]:
    for item in catalog.items:
        yield PriceItem(
            snapshot=snapshot,
            service=item.service,
            sku=item.sku,
            region=item.region,
            instance_type=item.instance_type,
            pricing_unit=item.pricing_unit,
            unit_price=item.unit_price,
            currency=item.currency,
            description=item.description,
            effective_from=item.effective_from,
            effective_to=item.effective_to,
        )


def _store(source: PriceSource, catalog: ParsedCatalog | None) -> RefreshResult:
    """Put ``catalog`` in force (None: the source said its version has not moved)."""
    with transaction.atomic():
        locked = PriceSource.objects.select_for_update().get(pk=source.pk)
        snapshot = locked.current_snapshot
        outcome = "unchanged"
        if catalog is not None:
            snapshot = PriceSnapshot.objects.filter(
                source=locked, content_hash=catalog.content_hash
            ).first()
            if snapshot is None:
                snapshot = PriceSnapshot.objects.create(
                    source=locked,
                    published_at=catalog.published_at,
                    content_hash=catalog.content_hash,
                    item_count=len(catalog.items),
                    version=catalog.version[:500],
                )
                PriceItem.objects.bulk_create(_item_rows(snapshot, catalog), batch_size=2000)
                outcome = "loaded"
            elif snapshot.pk != locked.current_snapshot_id:
                outcome = "restored"
        fields = {
            "current_snapshot": snapshot,
            "status": RefreshStatus.OK,
            "last_success_at": timezone.now(),
            "last_error": "",
        }
        if catalog is not None:
            fields["last_version"] = catalog.version[:500]
        _mark(locked, **fields)
        for name, value in fields.items():
            setattr(source, name, value)
    return RefreshResult(
        source=source.name,
        outcome=outcome,
        snapshot_id=snapshot.pk if snapshot else None,
        item_count=snapshot.item_count if snapshot else 0,
    )


def price_snapshot_store(*, source: PriceSource, catalog: ParsedCatalog) -> RefreshResult:
    """Put ``catalog`` in force on ``source`` as a refresh would: a new snapshot for new content,
    nothing new for the content in force, the older snapshot back for content seen before."""
    return _store(source, catalog)


def price_source_refresh(*, source: PriceSource) -> RefreshResult:
    """Read ``source`` and put its prices in force; a failure is recorded on it, never raised."""
    loader = LOADERS.get(source.kind)
    if loader is None:
        return RefreshResult(
            source=source.name, outcome="skipped", error="its prices are entered by hand"
        )
    _mark(source, status=RefreshStatus.RUNNING, last_attempt_at=timezone.now())
    try:
        catalog = loader(source)
        return _store(source, catalog)
    except PriceSourceError as error:
        return _failed(source, str(error))
    except DatabaseError as error:
        logger.exception("Storing the prices of %s failed", source.name)
        return _failed(source, f"The prices could not be stored ({type(error).__name__}).")
    except Exception as error:
        # A source's bad answer must not stop the other sources or surface as a 500.
        logger.exception("Reading the prices of %s failed unexpectedly", source.name)
        return _failed(
            source, f"Unexpected error while reading the source: {type(error).__name__}: {error}"
        )


def prices_refresh_all(*, names: Iterable[str] | None = None) -> list[RefreshResult]:
    """Refresh every enabled source (or the named ones, enabled or not), each on its own."""
    price_sources_ensure()
    sources = PriceSource.objects.order_by("name")
    if names is None:
        sources = sources.filter(enabled=True)
    else:
        wanted = set(names)
        sources = sources.filter(name__in=wanted)
        missing = wanted - {source.name for source in sources}
        if missing:
            raise InvalidRequest(f"There is no price source named {', '.join(sorted(missing))}.")
    return [price_source_refresh(source=source) for source in sources]
