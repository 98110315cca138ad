"""Reading price sources: the built-in catalog, AWS Price List bulk files, Azure Retail Prices.

Each loader turns what a source publishes into ``ParsedItem`` rows and nothing else: no database
writes happen here (``chargeback.services.prices`` stores them). Anything that does not look like
the documented format raises ``PriceFormatError`` with a sentence naming what was wrong, so a
broken answer never replaces good prices.

AWS (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html):
the source URL is AmazonSageMaker's ``region_index.json`` (or one region's offer file); the loader
follows the region's ``currentVersionUrl`` and reads ``products`` and ``terms.OnDemand``. Only
``ml.*`` instances whose usage type names hosting (``Host``) or training (``Train``) are kept,
priced per hour in USD.

Azure (https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices):
``GET {url}?$filter=...`` pages through ``Items`` by ``NextPageLink``; Linux pay-as-you-go items
per "1 Hour" with an ``armSkuName`` are kept (no spot, no low priority, no Windows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import yaml
from django.conf import settings
from django.utils.dateparse import parse_datetime

from chargeback import fetch
from chargeback.fetch import PriceFormatError
from chargeback.models import PriceService, PriceSource, PricingUnit, SourceKind

DEFAULT_PRICES_PATH = Path(__file__).resolve().parent / "default_prices.yaml"
PRICE_PLACES = Decimal("1e-10")
MAX_PRICE = Decimal("1e8")  # what Decimal(max_digits=18, decimal_places=10) can hold
AWS_HOUR_UNITS = {"hrs", "hr", "hour", "hours"}
AZURE_DEFAULT_FILTER = "serviceName eq 'Azure Machine Learning' and priceType eq 'Consumption'"


@dataclass(frozen=True)
class ParsedItem:
    service: str
    sku: str
    region: str
    instance_type: str
    pricing_unit: str
    unit_price: Decimal
    currency: str
    description: str = ""
    effective_from: datetime | None = None
    effective_to: datetime | None = None

    def key(self) -> tuple[str, ...]:
        return (
            self.service,
            self.instance_type,
            self.region,
            self.sku,
            self.pricing_unit,
            str(self.unit_price),
            self.currency,
            self.effective_from.isoformat() if self.effective_from else "",
            self.effective_to.isoformat() if self.effective_to else "",
        )


@dataclass
class ParsedCatalog:
    """What one read of a source produced."""

    items: list[ParsedItem]
    published_at: datetime | None = None
    version: str = ""
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.items = sorted(self.items, key=ParsedItem.key)
        canonical = json.dumps([item.key() for item in self.items], separators=(",", ":"))
        self.content_hash = hashlib.sha256(canonical.encode()).hexdigest()


def _json(body: bytes, *, what: str) -> Any:
    try:
        # Floats are read as Decimal: Azure sends prices as JSON numbers.
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        raise PriceFormatError(f"{what} is not valid JSON ({error}).") from None


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        parsed = parse_datetime(text)
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _price(value: Any, *, what: str) -> Decimal:
    try:
        price = Decimal(str(value)).quantize(PRICE_PLACES)
    except (InvalidOperation, ValueError, TypeError):
        raise PriceFormatError(f"{what} has a price that is not a number: {value!r}.") from None
    if not price.is_finite() or price < 0 or price >= MAX_PRICE:
        raise PriceFormatError(f"{what} has a price out of range: {value!r}.")
    return price


def _require_items(items: list[ParsedItem], *, what: str) -> list[ParsedItem]:
    if not items:
        raise PriceFormatError(f"{what} holds no prices the portal can use; nothing was loaded.")
    return items


# --- Built-in catalog ------------------------------------------------------------------------------


def load_builtin(source: PriceSource, *, path: Path = DEFAULT_PRICES_PATH) -> ParsedCatalog:
    """The catalog bundled with the portal (``chargeback/default_prices.yaml``)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PriceFormatError(
            f"The built-in catalog {path.name} cannot be read: {error}"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise PriceFormatError(f"The built-in catalog {path.name} has no list of items.")
    currency = str(document.get("currency") or "USD")
    region = str(document.get("region") or "")
    items = []
    for number, row in enumerate(document["items"], start=1):
        what = f"Item {number} of the built-in catalog"
        if not isinstance(row, dict) or row.get("service") not in PriceService.values:
            raise PriceFormatError(f"{what} needs a service ({', '.join(PriceService.values)}).")
        if row.get("unit") not in PricingUnit.values:
            raise PriceFormatError(f"{what} needs a unit ({', '.join(PricingUnit.values)}).")
        instance_type = str(row.get("instance_type") or "")
        items.append(
            ParsedItem(
                service=row["service"],
                sku=str(row.get("sku") or f"{row['service']}:{instance_type}"),
                region=region,
                instance_type=instance_type,
                pricing_unit=row["unit"],
                unit_price=_price(row.get("price"), what=what),
                currency=currency,
                description=str(row.get("description") or "")[:300],
            )
        )
    return ParsedCatalog(
        _require_items(items, what="The built-in catalog"),
        published_at=_datetime(document.get("published_at")),
        version=str(document.get("published_at") or ""),
    )


# --- AWS Price List bulk offer file ----------------------------------------------------------------


def _same_host(url: str, other: str, *, what: str) -> None:
    if urlsplit(url).hostname != urlsplit(other).hostname:
        raise PriceFormatError(f"{what} points to another host ({url}); not followed.")


def aws_offer_url(source: PriceSource) -> str:
    """The URL of the region's current offer file, read from the region index when given one."""
    if not source.url.endswith("region_index.json"):
        return source.url
    index = _json(fetch.http_get(source.url), what="The AWS region index")
    regions = index.get("regions") if isinstance(index, dict) else None
    if not isinstance(regions, dict):
        raise PriceFormatError("The AWS region index has no 'regions'; is the URL right?")
    entry = regions.get(source.region)
    if not isinstance(entry, dict) or not entry.get("currentVersionUrl"):
        known = ", ".join(sorted(regions)[:20])
        raise PriceFormatError(
            f"The AWS region index has no region '{source.region}' (it has: {known})."
        )
    url = urljoin(source.url, str(entry["currentVersionUrl"]))
    _same_host(url, source.url, what="The AWS region index")
    return url


def _aws_service(usagetype: str) -> str | None:
    if "Spot" in usagetype:
        return None
    if "Host" in usagetype:  # "USE1-Host:ml.m5.large", "...-Hosting:..."
        return PriceService.INFERENCE
    if "Train" in usagetype:
        return PriceService.TRAINING
    return None


def _aws_prices(terms: Any, *, sku: str) -> Iterable[tuple[Decimal, str, datetime | None]]:
    if not isinstance(terms, dict):
        raise PriceFormatError(f"The AWS offer file's on-demand terms of {sku} are not an object.")
    for term in terms.values():
        dimensions = term.get("priceDimensions") if isinstance(term, dict) else None
        if not isinstance(dimensions, dict):
            raise PriceFormatError(f"An on-demand term of {sku} has no priceDimensions.")
        for dimension in dimensions.values():
            unit = str(dimension.get("unit", "")).lower()
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if unit not in AWS_HOUR_UNITS or usd is None:
                continue
            price = _price(usd, what=f"SKU {sku} of the AWS offer file")
            description = str(dimension.get("description") or "")
            yield price, description, _datetime(term.get("effectiveDate"))


def parse_aws_offer(offer: Any, *, region: str = "") -> ParsedCatalog:
    """SageMaker hosting and training instance prices (``ml.*``, per hour, USD) of an offer file."""
    if not isinstance(offer, dict) or not isinstance(offer.get("products"), dict):
        raise PriceFormatError("The AWS offer file has no 'products'; is it an offer file?")
    on_demand = (offer.get("terms") or {}).get("OnDemand")
    if not isinstance(on_demand, dict):
        raise PriceFormatError("The AWS offer file has no 'terms.OnDemand'; is it an offer file?")
    items = []
    for sku, product in offer["products"].items():
        attributes = product.get("attributes") if isinstance(product, dict) else None
        if not isinstance(attributes, dict):
            raise PriceFormatError(f"Product {sku} of the AWS offer file has no attributes.")
        instance_type = str(attributes.get("instanceType") or "")
        service = _aws_service(str(attributes.get("usagetype") or ""))
        product_region = str(attributes.get("regionCode") or region)
        if not instance_type.startswith("ml.") or service is None or len(instance_type) > 64:
            continue
        if region and product_region != region:
            continue
        for price, description, effective_from in _aws_prices(on_demand.get(sku, {}), sku=sku):
            if price == 0:
                continue  # free-tier and bundled dimensions are not what an hour costs
            items.append(
                ParsedItem(
                    service=service,
                    sku=str(sku)[:128],
                    region=product_region,
                    instance_type=instance_type,
                    pricing_unit=PricingUnit.HOUR,
                    unit_price=price,
                    currency="USD",
                    description=description[:300],
                    effective_from=effective_from,
                )
            )
    return ParsedCatalog(
        _require_items(items, what="The AWS offer file"),
        published_at=_datetime(offer.get("publicationDate")),
        version=str(offer.get("version") or ""),
    )


def load_aws_bulk(source: PriceSource) -> ParsedCatalog | None:
    """The region's SageMaker prices; None when the offer file is the one already loaded."""
    url = aws_offer_url(source)
    if url == source.last_version and source.current_snapshot_id is not None:
        return None
    catalog = parse_aws_offer(
        _json(fetch.http_get(url), what="The AWS offer file"), region=source.region
    )
    catalog.version = url
    return catalog


# --- Azure Retail Prices API -----------------------------------------------------------------------


def azure_first_page_url(source: PriceSource) -> str:
    if "$filter" in source.url:
        return source.url
    query = AZURE_DEFAULT_FILTER
    if source.region:
        query += f" and armRegionName eq '{source.region}'"
    separator = "&" if "?" in source.url else "?"
    return f"{source.url}{separator}{urlencode({'$filter': query})}"


def _azure_item(row: Any, *, page: int) -> ParsedItem | None:
    if not isinstance(row, dict):
        raise PriceFormatError(
            f"Page {page} of the Azure answer has an item that is not an object."
        )
    names = f"{row.get('meterName', '')} {row.get('skuName', '')} {row.get('productName', '')}"
    instance_type = str(row.get("armSkuName") or "")
    if (
        row.get("unitOfMeasure") != "1 Hour"
        or row.get("type", "Consumption") != "Consumption"
        or not instance_type
        or len(instance_type) > 64
        or any(word in names for word in ("Spot", "Low Priority", "Windows"))
    ):
        return None
    what = f"Azure item {row.get('meterId') or instance_type}"
    return ParsedItem(
        service=PriceService.INFERENCE,
        sku=str(row.get("skuId") or row.get("meterId") or instance_type)[:128],
        region=str(row.get("armRegionName") or "")[:64],
        instance_type=instance_type,
        pricing_unit=PricingUnit.HOUR,
        unit_price=_price(row.get("retailPrice", row.get("unitPrice")), what=what),
        currency=str(row.get("currencyCode") or "USD")[:3],
        description=f"{row.get('productName', '')} {row.get('meterName', '')}".strip()[:300],
        effective_from=_datetime(row.get("effectiveStartDate")),
    )


def load_azure_retail(source: PriceSource, *, max_pages: int | None = None) -> ParsedCatalog:
    """Every page of the filtered Azure answer; a bad page fails the whole read."""
    max_pages = max_pages or settings.PRICE_AZURE_MAX_PAGES
    url: str | None = azure_first_page_url(source)
    first = url
    items: list[ParsedItem] = []
    page = 0
    while url:
        page += 1
        if page > max_pages:
            raise PriceFormatError(
                f"The Azure answer has more than {max_pages} pages (PRICE_AZURE_MAX_PAGES); "
                "narrow the source's filter."
            )
        body = _json(fetch.http_get(url), what=f"Page {page} of the Azure answer")
        rows = body.get("Items") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise PriceFormatError(f"Page {page} of the Azure answer has no 'Items' list.")
        items.extend(item for row in rows if (item := _azure_item(row, page=page)))
        url = body.get("NextPageLink") or None
        if url is not None:
            url = str(url)
            _same_host(url, str(first), what=f"Page {page} of the Azure answer")
    items = _require_items(items, what="The Azure answer")
    newest = max((item.effective_from for item in items if item.effective_from), default=None)
    return ParsedCatalog(items, published_at=newest)


LOADERS: dict[str, Callable[[PriceSource], ParsedCatalog | None]] = {
    SourceKind.BUILTIN: load_builtin,
    SourceKind.AWS_BULK: load_aws_bulk,
    SourceKind.AZURE_RETAIL: load_azure_retail,
}
