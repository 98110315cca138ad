"""Refreshing prices from recorded AWS and Azure answers; failures keep the good snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chargeback.fetch import PriceFetchError
from chargeback.models import PriceItem, PriceSnapshot, RefreshStatus
from chargeback.price_sources import azure_first_page_url
from chargeback.services.prices import price_source_refresh
from chargeback.tasks import refresh_prices
from chargeback.tests.builders import AWS_HOST, AWS_OFFER_URL, recorded, source

pytestmark = pytest.mark.django_db
NEXT_OFFER_URL = f"{AWS_HOST}/offers/v1.0/aws/AmazonSageMaker/20250701000000/us-east-1/index.json"


def prices_of(snapshot: PriceSnapshot, service: str) -> dict[str, Decimal]:
    return dict(
        PriceItem.objects.filter(snapshot=snapshot, service=service).values_list(
            "instance_type", "unit_price"
        )
    )


def offer_with_price(sku: str, price: str) -> bytes:
    offer = json.loads(recorded("aws_sagemaker_us-east-1.json"))
    for term in offer["terms"]["OnDemand"][sku].values():
        for dimension in term["priceDimensions"].values():
            dimension["pricePerUnit"]["USD"] = price
    return json.dumps(offer).encode()


def test_an_aws_recorded_offer_file_loads_sagemaker_hosting_prices(http):
    http.serve_aws()
    aws = source("aws-sagemaker")

    result = price_source_refresh(source=aws)

    assert result.outcome == "loaded"
    aws.refresh_from_db()
    snapshot = aws.current_snapshot
    assert prices_of(snapshot, "inference") == {
        "ml.m5.large": Decimal("0.115"),
        "ml.m5.xlarge": Decimal("0.23"),
        "ml.g4dn.xlarge": Decimal("0.7364"),
        "ml.g5.xlarge": Decimal("1.408"),
    }
    # Training instances are kept too; notebooks, processing, spot training and storage are not.
    assert prices_of(snapshot, "training") == {
        "ml.m5.large": Decimal("0.115"),
        "ml.p4d.24xlarge": Decimal("37.688"),
    }
    assert snapshot.item_count == 6
    assert snapshot.published_at == datetime(2025, 6, 12, 18, 9, 35, tzinfo=UTC)
    assert set(
        PriceItem.objects.filter(snapshot=snapshot).values_list(
            "region", "currency", "pricing_unit"
        )
    ) == {("us-east-1", "USD", "hour")}
    assert aws.status == RefreshStatus.OK and aws.last_error == ""
    assert aws.last_success_at is not None
    assert http.calls == [settings.PRICE_AWS_REGION_INDEX_URL, AWS_OFFER_URL]


def test_a_second_refresh_of_the_same_aws_file_is_a_no_op(http):
    http.serve_aws()
    aws = source("aws-sagemaker")
    first = price_source_refresh(source=aws)
    http.calls.clear()

    second = price_source_refresh(source=aws)

    assert second.outcome == "unchanged"
    assert second.snapshot_id == first.snapshot_id
    assert PriceSnapshot.objects.filter(source=aws).count() == 1
    assert PriceItem.objects.filter(snapshot__source=aws).count() == 6
    # The region index still names the same offer file, so it is not downloaded again.
    assert http.calls == [settings.PRICE_AWS_REGION_INDEX_URL]


def test_a_new_aws_version_with_the_same_prices_writes_no_snapshot(http):
    http.serve_aws()
    aws = source("aws-sagemaker")
    first = price_source_refresh(source=aws)
    http.serve_aws(offer_url=NEXT_OFFER_URL)

    second = price_source_refresh(source=aws)

    assert (second.outcome, second.snapshot_id) == ("unchanged", first.snapshot_id)
    assert PriceSnapshot.objects.filter(source=aws).count() == 1


def test_new_aws_prices_become_a_new_snapshot_and_old_content_points_back(http):
    http.serve_aws()
    aws = source("aws-sagemaker")
    first = price_source_refresh(source=aws)
    http.serve_aws(offer_with_price("2BYE3YWKZWMYJ4QR", "0.1200000000"), offer_url=NEXT_OFFER_URL)

    second = price_source_refresh(source=aws)
    aws.refresh_from_db()

    assert second.outcome == "loaded" and second.snapshot_id != first.snapshot_id
    assert prices_of(aws.current_snapshot, "inference")["ml.m5.large"] == Decimal("0.12")

    http.serve_aws(
        offer_url=f"{AWS_HOST}/offers/v1.0/aws/AmazonSageMaker/20250801000000/us-east-1/index.json"
    )
    third = price_source_refresh(source=aws)
    assert (third.outcome, third.snapshot_id) == ("restored", first.snapshot_id)


def test_an_azure_recorded_two_page_response_loads(http):
    http.serve_azure()
    azure = source("azure-ml")

    result = price_source_refresh(source=azure)

    assert result.outcome == "loaded"
    azure.refresh_from_db()
    # Low priority, Windows and per-GB items are left out; prices stay exact decimals.
    assert prices_of(azure.current_snapshot, "inference") == {
        "Standard_DS3_v2": Decimal("0.229"),
        "Standard_E4s_v3": Decimal("0.252"),
        "Standard_NC4as_T4_v3": Decimal("0.526"),
        "Standard_NC6s_v3": Decimal("3.06"),
    }
    assert azure.current_snapshot.published_at == datetime(2025, 5, 1, tzinfo=UTC)
    assert len(http.calls) == 2
    assert "armRegionName+eq+%27eastus%27" in http.calls[0]


def test_an_azure_next_page_on_another_host_is_not_followed(http):
    page = json.loads(recorded("azure_ml_eastus_page1.json"))
    page["NextPageLink"] = "http://169.254.169.254/latest/meta-data/"
    azure = source("azure-ml")
    http.serve(azure_first_page_url(azure), json.dumps(page).encode())

    result = price_source_refresh(source=azure)

    assert result.outcome == "failed"
    assert "another host" in result.error
    assert all("169.254" not in url for url in http.calls)


def test_a_malformed_response_keeps_the_last_good_snapshot_and_records_the_error(http):
    http.serve_aws()
    aws = source("aws-sagemaker")
    good = price_source_refresh(source=aws)
    http.serve_aws(b'{"formatVersion": "v1.0", "products": {"2BYE3YWKZ', offer_url=NEXT_OFFER_URL)

    result = price_source_refresh(source=aws)

    aws.refresh_from_db()
    assert result.outcome == "failed"
    assert aws.current_snapshot_id == good.snapshot_id
    assert aws.status == RefreshStatus.FAILED
    assert aws.last_error.startswith("The AWS offer file is not valid JSON")
    assert PriceSnapshot.objects.filter(source=aws).count() == 1
    assert PriceItem.objects.filter(snapshot__source=aws).count() == 6

    http.serve_aws(offer_url=NEXT_OFFER_URL)
    assert price_source_refresh(source=aws).outcome == "unchanged"
    aws.refresh_from_db()
    assert (aws.status, aws.last_error) == (RefreshStatus.OK, "")


@pytest.mark.parametrize(
    ("offer", "sentence"),
    [
        (b'{"formatVersion": "v1.0", "terms": {}}', "The AWS offer file has no 'products'"),
        (
            b'{"products": {}, "terms": {"OnDemand": {}}}',
            "The AWS offer file holds no prices the portal can use",
        ),
    ],
)
def test_an_answer_in_the_wrong_shape_loads_nothing_and_says_why(http, offer, sentence):
    http.serve_aws(offer)
    aws = source("aws-sagemaker")

    result = price_source_refresh(source=aws)

    aws.refresh_from_db()
    assert result.outcome == "failed"
    assert aws.last_error.startswith(sentence)
    assert aws.current_snapshot is None
    assert not PriceSnapshot.objects.filter(source=aws).exists()


def test_a_network_failure_is_recorded_on_the_source_never_raised(http):
    aws = source("aws-sagemaker")
    http.serve(
        settings.PRICE_AWS_REGION_INDEX_URL,
        PriceFetchError(
            f"{settings.PRICE_AWS_REGION_INDEX_URL} answered HTTP 503 Service Unavailable."
        ),
    )

    result = price_source_refresh(source=aws)

    aws.refresh_from_db()
    assert result.outcome == "failed"
    assert "HTTP 503" in aws.last_error
    assert aws.last_attempt_at is not None and aws.last_success_at is None


def test_the_beat_task_refreshes_every_enabled_source_and_one_failure_does_not_stop_the_others(
    http,
):
    http.serve_azure()  # AWS has no recorded answer: it fails

    outcomes = refresh_prices()

    assert outcomes == {"aws-sagemaker": "failed", "azure-ml": "loaded", "builtin": "loaded"}
    assert source("aws-sagemaker").last_error
    assert source("azure-ml").current_snapshot is not None


def test_a_disabled_source_is_not_refreshed(http):
    aws = source("aws-sagemaker")
    aws.enabled = False
    aws.save()
    http.serve_azure()

    assert "aws-sagemaker" not in refresh_prices()


def test_the_refresh_runs_daily_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-prices-daily"]
    assert entry == {"task": "chargeback.refresh_prices", "schedule": 24 * 3600}


def test_the_refresh_prices_command_prints_one_line_per_source(http, capsys):
    call_command("refresh_prices", "--source", "builtin")
    assert "builtin: loaded" in capsys.readouterr().out

    with pytest.raises(CommandError, match="Some price sources failed"):
        call_command("refresh_prices", "--source", "aws-sagemaker")
    with pytest.raises(CommandError, match="no price source named nowhere"):
        call_command("refresh_prices", "--source", "nowhere")
