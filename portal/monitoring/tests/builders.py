"""Builders for monitoring tests: a model version, a live deployment of it, captured traffic, and
training data to take a baseline from."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.utils import timezone

from portal.catalog.models import ModelVersion, RegisteredModel
from portal.core.audit import Actor
from portal.deployments.models import Deployment, DeploymentState
from portal.monitoring import services
from portal.monitoring.capture import CaptureRecord, capture_write_many
from tenants.models import Tenant
from tenants.scoping import tenant_scope

SIGNATURE = {
    "inputs": [
        {"name": "income", "type": "double"},
        {"name": "age", "type": "long"},
        {"name": "region", "type": "string"},
    ],
    "outputs": [{"type": "long"}],
}


def make_deployment(
    tenant: Tenant, *, name: str = "credit-prod", risk_tier: str = "minimal", revision: int = 1
) -> Deployment:
    with tenant_scope(tenant):
        model, _ = RegisteredModel.objects.get_or_create(
            tenant=tenant, name=f"{name}-model", defaults={"risk_tier": risk_tier}
        )
        version = ModelVersion.objects.create(
            tenant=tenant, model=model, version=revision, run_id="r1", signature=SIGNATURE
        )
        return Deployment.objects.create(
            tenant=tenant,
            name=name,
            revision=revision,
            model_version=version,
            environment="production",
            instance_type="cpu.small",
            state=DeploymentState.LIVE,
            traffic_weight=100,
            requested_by_label="test",
        )


def traffic(
    rows: int, *, shift: float = 0.0, seed: int = 0, regions: tuple[str, ...] = ("north", "south")
) -> tuple[list[list], list[int]]:
    random = np.random.default_rng(seed)
    income = random.normal(50_000 + shift * 10_000, 10_000, rows).round(2)
    age = random.integers(18, 80, rows)
    region = random.choice(list(regions), rows)
    values = [[float(i), int(a), str(r)] for i, a, r in zip(income, age, region, strict=True)]
    predictions = [int(i > 50_000) for i in income]
    return values, predictions


def capture(
    deployment: Deployment,
    rows: int,
    *,
    at: datetime | None = None,
    per_request: int = 50,
    **shape,
) -> int:
    values, predictions = traffic(rows, **shape)
    at = at or timezone.now() - timedelta(seconds=5)
    records = [
        CaptureRecord(
            tenant_id=deployment.tenant_id,
            deployment_id=deployment.pk,
            received_at=at + timedelta(milliseconds=start),
            columns=["income", "age", "region"],
            rows=values[start : start + per_request],
            predictions=predictions[start : start + per_request],
            latency_ms=3.5,
        )
        for start in range(0, rows, per_request)
    ]
    return capture_write_many(records)


def training_csv(rows: int = 2000, **shape) -> bytes:
    values, predictions = traffic(rows, **shape)
    frame = pd.DataFrame(values, columns=["income", "age", "region"]).assign(
        label=predictions, ignored=1
    )
    return frame.to_csv(index=False).encode()


def with_baseline(tenant, **kwargs):
    deployment = make_deployment(tenant, **kwargs)
    with tenant_scope(tenant):
        services.baseline_from_upload(
            version=deployment.model_version,
            content=training_csv(3000),
            filename="train.csv",
            prediction_column="label",
            actor=Actor.system("test"),
        )
    return deployment
