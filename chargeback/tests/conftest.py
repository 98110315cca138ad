"""Recorded answers of the public price APIs: no test of this app reaches the network."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from chargeback import fetch
from chargeback.fetch import PriceFetchError
from chargeback.models import PriceSource
from chargeback.price_sources import azure_first_page_url
from chargeback.services.prices import price_sources_ensure

RECORDED = Path(__file__).resolve().parent / "recorded"
AWS_HOST = "https://pricing.us-east-1.amazonaws.com"
AWS_OFFER_URL = f"{AWS_HOST}/offers/v1.0/aws/AmazonSageMaker/20250612180935/us-east-1/index.json"
AZURE_SECOND_PAGE = (
    "https://prices.azure.com:443/api/retail/prices?$filter=serviceName%20eq%20%27Azure%20Machine"
    "%20Learning%27%20and%20priceType%20eq%20%27Consumption%27%20and%20armRegionName%20eq%20"
    "%27eastus%27&$skip=100"
)


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class RecordedHttp:
    """Stands in for ``chargeback.fetch.http_get``: answers URLs it was given, fails the rest."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Exception] = {}
        self.calls: list[str] = []

    def serve(self, url: str, answer: bytes | Exception) -> None:
        self.routes[url] = answer

    def __call__(self, url: str, *, timeout: float | None = None) -> bytes:
        self.calls.append(url)
        answer = self.routes.get(url)
        if answer is None:
            raise PriceFetchError(f"{url} could not be reached: no recorded answer.")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def serve_aws(self, offer: bytes | None = None, *, offer_url: str = AWS_OFFER_URL) -> None:
        index = recorded("aws_sagemaker_region_index.json")
        if offer_url != AWS_OFFER_URL:
            index = index.replace(
                AWS_OFFER_URL.removeprefix(AWS_HOST).encode(),
                offer_url.removeprefix(AWS_HOST).encode(),
            )
        self.serve(settings.PRICE_AWS_REGION_INDEX_URL, index)
        self.serve(
            offer_url, offer if offer is not None else recorded("aws_sagemaker_us-east-1.json")
        )

    def serve_azure(self) -> None:
        self.serve(azure_first_page_url(source("azure-ml")), recorded("azure_ml_eastus_page1.json"))
        self.serve(AZURE_SECOND_PAGE, recorded("azure_ml_eastus_page2.json"))


def source(name: str) -> PriceSource:
    price_sources_ensure()
    return PriceSource.objects.get(name=name)


@pytest.fixture(autouse=True)
def http(monkeypatch) -> RecordedHttp:
    fake = RecordedHttp()
    monkeypatch.setattr(fetch, "http_get", fake)
    return fake
