"""The price catalog and source health over the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargeback.services.prices import price_source_refresh
from chargeback.tests.builders import source
from tests.builders import client_for

pytestmark = pytest.mark.django_db
PRICES = "/api/v1/prices/"
SOURCES = "/api/v1/price-sources/"


def test_finance_may_read_prices(company):
    answer = client_for(company.fiona).get(
        PRICES, {"service": "training", "instance_type": "gpu.a100"}
    )

    assert answer.status_code == 200
    [item] = answer.json()["results"]
    assert (item["unit_price"], item["pricing_unit"], item["currency"]) == (
        "13.8300000000",
        "hour",
        "USD",
    )
    assert (item["source"], item["source_kind"]) == ("builtin", "builtin")


def test_prices_need_a_signed_in_caller(api):
    assert api.get(PRICES).status_code == 401


def test_prices_filter_by_source_and_list_with_a_constant_number_of_queries(company, http):
    http.serve_aws()
    price_source_refresh(source=source("aws-sagemaker"))
    engineer = client_for(company.amir)
    engineer.get(PRICES)  # the built-in catalog loads on first use

    with CaptureQueriesContext(connection) as small:
        few = engineer.get(PRICES, {"page_size": 2})
    with CaptureQueriesContext(connection) as large:
        many = engineer.get(PRICES, {"page_size": 100})
    aws = engineer.get(PRICES, {"source": "aws-sagemaker", "service": "inference"}).json()

    assert len(few.json()["results"]) == 2 and many.json()["count"] == 14 + 6
    assert len(small) == len(large)
    assert {item["instance_type"] for item in aws["results"]} == {
        "ml.m5.large",
        "ml.m5.xlarge",
        "ml.g4dn.xlarge",
        "ml.g5.xlarge",
    }


def test_a_bad_filter_is_a_400(company):
    answer = client_for(company.amir).get(PRICES, {"service": "lunch"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("service:")


def test_platform_admins_see_the_health_of_price_sources_and_others_do_not(company, http):
    price_source_refresh(source=source("aws-sagemaker"))  # no recorded answer: fails

    admin = {s["name"]: s for s in client_for(company.adam).get(SOURCES).json()["results"]}
    engineer = {s["name"]: s for s in client_for(company.amir).get(SOURCES).json()["results"]}

    assert set(admin) == set(engineer) == {"aws-sagemaker", "azure-ml", "builtin"}
    aws = admin["aws-sagemaker"]
    assert aws["status"] == "failed" and "could not be reached" in aws["last_error"]
    assert aws["last_attempt_at"] and aws["last_success_at"] is None and aws["snapshot"] is None
    assert "last_error" not in engineer["aws-sagemaker"]
    assert "url" not in engineer["aws-sagemaker"]


def test_only_platform_admins_ask_for_a_refresh(company, django_capture_on_commit_callbacks):
    assert client_for(company.amir).post(f"{SOURCES}refresh/").status_code == 403
    assert client_for(company.fiona).post(f"{SOURCES}refresh/").status_code == 403

    with django_capture_on_commit_callbacks() as queued:
        answer = client_for(company.adam).post(f"{SOURCES}refresh/")

    assert answer.status_code == 202
    assert len(queued) == 1
