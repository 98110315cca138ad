"""Receiver for MLflow registry webhooks (MLflow 3.3+): a new version shows up in seconds.

MLflow signs each delivery: ``X-MLflow-Signature: v1,<base64 HMAC-SHA256>`` over
``"<delivery id>.<timestamp>.<body>"`` with the webhook's secret (``MLFLOW_WEBHOOK_SECRET`` here).
Unsigned, wrongly signed, old (``MLFLOW_WEBHOOK_MAX_AGE_SECONDS``) or replayed deliveries are
refused. A good delivery queues a targeted sync of the model it names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.catalog import tasks
from portal.core.ratelimit import CACHE_ERRORS

REGISTRY_ENTITIES = {
    "registered_model",
    "model_version",
    "model_version_tag",
    "model_version_alias",
}


def sign(*, secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    digest = hmac.new(
        secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"code": "webhook_refused", "detail": detail}, status=status)


@csrf_exempt
@require_POST
def mlflow_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.MLFLOW_WEBHOOK_SECRET
    if not secret:
        return _refuse(
            503, "MLflow webhooks are not configured here (MLFLOW_WEBHOOK_SECRET is empty)."
        )
    signature = request.headers.get("X-MLflow-Signature", "")
    delivery_id = request.headers.get("X-MLflow-Delivery-Id", "")
    timestamp = request.headers.get("X-MLflow-Timestamp", "")
    if not (signature and delivery_id and timestamp):
        return _refuse(401, "The delivery is not signed.")
    body = request.body.decode("utf-8", errors="replace")
    expected = sign(secret=secret, delivery_id=delivery_id, timestamp=timestamp, body=body)
    if not hmac.compare_digest(signature, expected):
        return _refuse(401, "The delivery's signature does not match.")
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return _refuse(400, "The delivery's timestamp is not a Unix time.")
    if age > settings.MLFLOW_WEBHOOK_MAX_AGE_SECONDS:
        return _refuse(401, "The delivery is too old.")
    try:
        first_time = cache.add(
            f"mlflow-webhook:{delivery_id[:80]}",
            1,
            timeout=2 * settings.MLFLOW_WEBHOOK_MAX_AGE_SECONDS,
        )
    except CACHE_ERRORS:  # MLflow retries a 503 with backoff
        return _refuse(
            503,
            "The portal cannot check this delivery against replays right now (its cache is "
            "unavailable); deliver it again in a minute.",
        )
    if not first_time:
        return JsonResponse({"detail": "Already received."}, status=200)
    try:
        event = json.loads(body)
        name = event["data"]["name"]
        entity = event["entity"]
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "The delivery is not an MLflow webhook event.")
    if entity not in REGISTRY_ENTITIES or not isinstance(name, str):
        return JsonResponse({"detail": "Ignored: not a registry event."}, status=200)
    tasks.sync_model.delay_on_commit(name=name, trigger="webhook")
    return JsonResponse({"detail": f"Sync of '{name}' queued."}, status=202)
