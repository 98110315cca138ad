"""Settings for every environment, read from environment variables.

Environments differ by variables, not by settings classes. The defaults are the embedded default
that ``make run`` uses: SQLite under ``var/``, a Celery broker on the filesystem, a local MLflow.
Set ``DATABASE_URL``, ``REDIS_URL`` (or ``CELERY_BROKER_URL``) and ``MLFLOW_TRACKING_URI`` to use
real servers. README.md lists every variable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration

from portal.core.env import Env, private_key_file

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

# What the portal writes (database, secrets, caches, model copies, captures) is its user's alone:
# other users of the machine, model servers included, read none of it.
os.umask(0o077)


def _private(path: Path, mode: int) -> None:
    # Not the portal's own folder or file: left as its owner set it.
    with contextlib.suppress(PermissionError):
        path.chmod(mode)


VAR_DIR = Path(env.str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
_private(VAR_DIR, 0o700)

DEBUG = env.bool("DEBUG", False)

_DEV_SECRET_KEY = "insecure-development-key-only-for-debug-mode"  # noqa: S105 (refused when DEBUG is off)
SECRET_KEY = env.str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off; generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key; set a real one when DEBUG is off."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "portal.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_guid",
    "csp",
    "portal.core",
    "tenants",
    "portal.catalog",
    "portal.deployments",
    "portal.monitoring",
    "governance",
    "chargeback",
    "portal.insights",
    "portal",
]

MIDDLEWARE = [
    "portal.core.middleware.TrustedProxyMiddleware",
    "portal.core.middleware.RequestIdMiddleware",
    "portal.core.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.core.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.db'}")}
for _suffix in ("", "-wal", "-shm", "-journal"):
    _sqlite = Path(f"{VAR_DIR / 'portal.db'}{_suffix}")
    if _sqlite.exists():
        _private(_sqlite, 0o600)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs web, worker and beat on one file: WAL lets readers and a writer
    # work at once, and IMMEDIATE transactions wait for the lock instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# The owner of the tables, for `migrate` only (PostgreSQL): the same database as DATABASE_URL,
# whose role then owns nothing and is held by row-level security (tenants/row_security.py).
# Only its user, password, host and port are used. Unset: migrations run as DATABASE_URL's role.
DATABASE_MIGRATE: dict | None = None
if env.str("DATABASE_MIGRATE_URL", ""):
    DATABASE_MIGRATE = env.database("DATABASE_MIGRATE_URL", "")
    if not USING_POSTGRES or DATABASE_MIGRATE["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured(
            "DATABASE_MIGRATE_URL is for PostgreSQL: set it, and DATABASE_URL, to postgres:// "
            "URLs of the same database, or unset it."
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- MLflow -------------------------------------------------------------------------------------

MLFLOW_TRACKING_URI = env.url(
    "MLFLOW_TRACKING_URI", "http://127.0.0.1:5500", schemes=("http", "https")
)
MLFLOW_TIMEOUT_SECONDS = env.int("MLFLOW_TIMEOUT_SECONDS", 10, minimum=1)
# The whole of one call to MLflow (a read waits at most MLFLOW_TIMEOUT_SECONDS; this bounds them
# all), and the whole of one model download for the serving runtime.
MLFLOW_DEADLINE_SECONDS = env.int("MLFLOW_DEADLINE_SECONDS", 30, minimum=1)
MLFLOW_DOWNLOAD_DEADLINE_SECONDS = env.int("MLFLOW_DOWNLOAD_DEADLINE_SECONDS", 900, minimum=1)
MLFLOW_CONCURRENT_CALLS = env.int("MLFLOW_CONCURRENT_CALLS", 8, minimum=1)
# The checks a web request makes before it queues a registration (the run's experiment).
MLFLOW_CHECK_TIMEOUT_SECONDS = env.int("MLFLOW_CHECK_TIMEOUT_SECONDS", 3, minimum=1)
MLFLOW_WEBHOOK_SECRET = env.str("MLFLOW_WEBHOOK_SECRET", "")
MLFLOW_WEBHOOK_MAX_AGE_SECONDS = env.int("MLFLOW_WEBHOOK_MAX_AGE_SECONDS", 300, minimum=10)

# The local serving runtime (``manage.py run_serving``) and the inference gateway.
SERVING_DIR = Path(env.str("SERVING_DIR", str(VAR_DIR / "serving")))
SERVING_WORKERS = env.int("SERVING_WORKERS", 1, minimum=1)
# Each model server runs in a bubblewrap sandbox; `off` runs model code with the portal's rights.
SERVING_SANDBOX = env.choice("SERVING_SANDBOX", "bwrap", choices=("bwrap", "off"))
SERVING_START_TIMEOUT_SECONDS = env.int("SERVING_START_TIMEOUT_SECONDS", 180, minimum=5)
SERVING_DOWNLOAD_TIMEOUT_SECONDS = env.int("SERVING_DOWNLOAD_TIMEOUT_SECONDS", 900, minimum=5)
SERVING_VERIFIED_KEEP_DAYS = env.int("SERVING_VERIFIED_KEEP_DAYS", 30, minimum=1)
SERVING_MAX_RESTARTS = env.int("SERVING_MAX_RESTARTS", 3, minimum=0)
SERVING_RESTART_WINDOW_SECONDS = env.int("SERVING_RESTART_WINDOW_SECONDS", 300, minimum=10)
ROLLBACK_GRACE_SECONDS = env.int("ROLLBACK_GRACE_SECONDS", 3600, minimum=0)
GATEWAY_RATE_LIMIT = env.str("GATEWAY_RATE_LIMIT", "6000/min")
GATEWAY_TIMEOUT_SECONDS = env.int("GATEWAY_TIMEOUT_SECONDS", 60, minimum=1)
GATEWAY_ROUTE_TTL_SECONDS = env.float("GATEWAY_ROUTE_TTL_SECONDS", 1.0, minimum=0.0)
GATEWAY_CAPTURE_BUFFER = env.int("GATEWAY_CAPTURE_BUFFER", 10000, minimum=0)
GATEWAY_CAPTURE_BUFFER_BYTES = env.int("GATEWAY_CAPTURE_BUFFER_BYTES", 8 * 1024 * 1024, minimum=0)
GATEWAY_CAPTURE_MAX_BYTES = env.int("GATEWAY_CAPTURE_MAX_BYTES", 1024 * 1024, minimum=0)
GATEWAY_FLUSH_SECONDS = env.float("GATEWAY_FLUSH_SECONDS", 1.0, minimum=0.05)

# Deployment targets: kind -> class implementing portal.deployments.targets.DeploymentTarget.
DEPLOYMENT_TARGETS = {
    "local": "portal.deployments.targets.local.LocalTarget",
    "kserve": "portal.deployments.targets.kserve.KServeTarget",
    "sagemaker": "portal.deployments.targets.sagemaker.SageMakerTarget",
}
# KServe target: InferenceServices are created in this Kubernetes namespace.
KSERVE_NAMESPACE = env.str("KSERVE_NAMESPACE", "portal-models")
# Only the portal's gateway pods (labelled app.kubernetes.io/name=mlops-portal) in this namespace
# may call a predictor; predictors reach DNS and, for the storage initializer, these CIDRs only.
KSERVE_GATEWAY_NAMESPACE = env.str("KSERVE_GATEWAY_NAMESPACE", "mlops-portal")
KSERVE_EGRESS_CIDRS = env.list("KSERVE_EGRESS_CIDRS", [])
# SageMaker target: the region endpoints live in, the role SageMaker runs models with (empty: the
# caller's role) and the serving image built by `mlflow sagemaker build-and-push-container`
# (empty: MLflow's default image in the account's ECR).
SAGEMAKER_REGION = env.str("SAGEMAKER_REGION", "us-east-1")
SAGEMAKER_EXECUTION_ROLE_ARN = env.str("SAGEMAKER_EXECUTION_ROLE_ARN", "")
SAGEMAKER_IMAGE_URL = env.str("SAGEMAKER_IMAGE_URL", "")
CATALOG_SYNC_INTERVAL_SECONDS = env.int("CATALOG_SYNC_INTERVAL_SECONDS", 300, minimum=10)
CATALOG_DEEP_SYNC_SECONDS = env.int("CATALOG_DEEP_SYNC_SECONDS", 3600, minimum=60)

# --- Monitoring (portal/monitoring) --------------------------------------------------------------

# Where compacted captured traffic lives: a local folder or any pyarrow filesystem URI (s3://...).
CAPTURE_STORE_URI = env.str("CAPTURE_STORE_URI", str(VAR_DIR / "capture"))
CAPTURE_COMPACT_AFTER_MINUTES = env.int("CAPTURE_COMPACT_AFTER_MINUTES", 10, minimum=1)
CAPTURE_COMPACT_INTERVAL_SECONDS = env.int("CAPTURE_COMPACT_INTERVAL_SECONDS", 300, minimum=10)
# Captured traffic is a deployment's decision log. It is kept by the risk tier in force of the
# deployed model: high-risk (and prohibited) systems' logs at least six months (AI Act Articles 19
# and 26(6)); tiers not named keep CAPTURE_RETENTION_DAYS, and a model not yet classified keeps its
# logs as long as the longest of them.
CAPTURE_RETENTION_DAYS = env.int("CAPTURE_RETENTION_DAYS", 30, minimum=1)
RISK_TIERS = ("prohibited", "high", "limited", "minimal")
CAPTURE_RETENTION_DAYS_BY_TIER = env.int_map(
    "CAPTURE_RETENTION_DAYS_BY_TIER",
    {
        "prohibited": 190,
        "high": 190,
        "limited": CAPTURE_RETENTION_DAYS,
        "minimal": CAPTURE_RETENTION_DAYS,
    },
    keys=RISK_TIERS,
    minimum=1,
)
for _tier in ("prohibited", "high"):
    if CAPTURE_RETENTION_DAYS_BY_TIER[_tier] < 183:
        raise ImproperlyConfigured(
            f"CAPTURE_RETENTION_DAYS_BY_TIER: {_tier} must be at least 183 days (six months, "
            f"EU AI Act Articles 19 and 26(6)), got {CAPTURE_RETENTION_DAYS_BY_TIER[_tier]}."
        )
# The decision-log export of a deployment covers at most this many days per download.
DECISION_LOG_EXPORT_MAX_DAYS = env.int("DECISION_LOG_EXPORT_MAX_DAYS", 366, minimum=1)
BASELINE_FROM_CAPTURE_ROWS = env.int("BASELINE_FROM_CAPTURE_ROWS", 1000, minimum=10)
BASELINE_UPLOAD_MAX_BYTES = env.int("BASELINE_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, minimum=1024)
# Local folders a run's logged dataset may be read from (other local paths are refused).
BASELINE_DATASET_ROOTS = env.list("BASELINE_DATASET_ROOTS", [str(VAR_DIR / "datasets")])
BASELINE_SKETCH_SIZE = env.int("BASELINE_SKETCH_SIZE", 0, minimum=0)
DRIFT_CHUNK_ROWS = env.int("DRIFT_CHUNK_ROWS", 200_000, minimum=1000)
MONITOR_CHECK_INTERVAL_SECONDS = env.int("MONITOR_CHECK_INTERVAL_SECONDS", 60, minimum=10)

# --- Governance -----------------------------------------------------------------------------------

PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
APPROVAL_EXPIRY_DAYS = env.int("APPROVAL_EXPIRY_DAYS", 30, minimum=1)
# A pending request reminds its undecided reviewers after this many days, and is escalated to
# every governance lead after the second; each happens once per request.
APPROVAL_REMINDER_DAYS = env.int("APPROVAL_REMINDER_DAYS", 2, minimum=1)
APPROVAL_ESCALATION_DAYS = env.int("APPROVAL_ESCALATION_DAYS", 5, minimum=1)
if APPROVAL_ESCALATION_DAYS <= APPROVAL_REMINDER_DAYS:
    raise ImproperlyConfigured(
        f"APPROVAL_ESCALATION_DAYS ({APPROVAL_ESCALATION_DAYS}) must be more than "
        f"APPROVAL_REMINDER_DAYS ({APPROVAL_REMINDER_DAYS}): reviewers are reminded before the "
        "request is escalated."
    )
# The evidence pack carries the decision logs of its version's deployments up to this many bytes;
# beyond it, their manifest (hashes and locations) only.
EVIDENCE_DECISION_LOG_MAX_BYTES = env.int(
    "EVIDENCE_DECISION_LOG_MAX_BYTES", 20 * 1024 * 1024, minimum=0
)
RECERTIFICATION_DAYS = env.int("RECERTIFICATION_DAYS", 180, minimum=1)
RECERTIFICATION_DUE_WINDOW_DAYS = env.int("RECERTIFICATION_DUE_WINDOW_DAYS", 14, minimum=0)
# Days an overdue certification may stay overdue before a policy that says
# ``on_recertification_overdue: suspend`` suspends the model's live production revisions.
RECERTIFICATION_GRACE_DAYS = env.int("RECERTIFICATION_GRACE_DAYS", 14, minimum=0)

# --- Prices (chargeback/price_sources.py) --------------------------------------------------------

PRICE_REFRESH_INTERVAL_SECONDS = env.int("PRICE_REFRESH_INTERVAL_SECONDS", 24 * 3600, minimum=300)
PRICE_FETCH_TIMEOUT_SECONDS = env.int("PRICE_FETCH_TIMEOUT_SECONDS", 60, minimum=1)
# The whole download of one price file (retries included) ends by then, however it trickles.
PRICE_FETCH_DEADLINE_SECONDS = env.int("PRICE_FETCH_DEADLINE_SECONDS", 900, minimum=1)
PRICE_FETCH_MAX_BYTES = env.int("PRICE_FETCH_MAX_BYTES", 300_000_000, minimum=1024)
PRICE_CLOUD_SOURCES_ENABLED = env.bool("PRICE_CLOUD_SOURCES_ENABLED", True)
# Price source URLs may point at private, loopback or link-local addresses (a mirror inside).
PRICE_ALLOW_PRIVATE_HOSTS = env.bool("PRICE_ALLOW_PRIVATE_HOSTS", DEBUG)
PRICE_AWS_REGION_INDEX_URL = env.url(
    "PRICE_AWS_REGION_INDEX_URL",
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/region_index.json",
    schemes=("http", "https"),
)
PRICE_AWS_REGION = env.str("PRICE_AWS_REGION", "us-east-1")
PRICE_AZURE_URL = env.url(
    "PRICE_AZURE_URL", "https://prices.azure.com/api/retail/prices", schemes=("http", "https")
)
PRICE_AZURE_REGION = env.str("PRICE_AZURE_REGION", "eastus")
PRICE_AZURE_MAX_PAGES = env.int("PRICE_AZURE_MAX_PAGES", 50, minimum=1)

# --- Metering and statements (chargeback/services/metering.py, close.py) -------------------------

CHARGEBACK_METERING_INTERVAL_SECONDS = env.int(
    "CHARGEBACK_METERING_INTERVAL_SECONDS", 600, minimum=60
)
# How far back a meter looks for usage it has not recorded yet (after an outage, a new meter).
CHARGEBACK_METERING_BACKFILL_DAYS = env.int("CHARGEBACK_METERING_BACKFILL_DAYS", 35, minimum=1)
# The UTC hour on the 1st of the month when the previous month is closed (0 to 23).
CHARGEBACK_CLOSE_HOUR = env.int("CHARGEBACK_CLOSE_HOUR", 2, minimum=0)
# Who issues the statements (FOCUS InvoiceIssuerName and ProviderName).
CHARGEBACK_ISSUER_NAME = env.str("CHARGEBACK_ISSUER_NAME", "ML Platform")
# How often budgets are checked against the month's spend (each threshold alerts once a month).
CHARGEBACK_BUDGET_CHECK_INTERVAL_SECONDS = env.int(
    "CHARGEBACK_BUDGET_CHECK_INTERVAL_SECONDS", 3600, minimum=60
)

# --- Redis, cache, Celery -----------------------------------------------------------------------

REDIS_URL = env.url("REDIS_URL", "", schemes=("redis", "rediss")) if env.is_set("REDIS_URL") else ""

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

_default_broker = REDIS_URL or "filesystem://"
CELERY_BROKER_URL = env.url(
    "CELERY_BROKER_URL", _default_broker, schemes=("redis", "rediss", "filesystem", "memory")
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        # Kombu keeps its exchange table in ./control unless told otherwise.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acknowledged this long after a worker took it (the worker was lost, or the
        # task outlives it) is delivered again; tasks are idempotent.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=1),
        "socket_connect_timeout": 3,
        # A broker that stops answering fails a publish after this instead of hanging it; the
        # task then waits in the outbox (portal/core/outbox.py).
        "socket_timeout": 2,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
# --- The audit trail (governance/audit.py, governance/anchors.py) -----------------------------------

# The key that seals every audit event and signs the chain anchors. The database never holds it,
# so whoever can write the database cannot forge a seal. Unset, a key is generated once and kept
# under var/ (readable by the portal's user only): fine for one host; a deployment with several
# hosts or containers sets the same key on every web, worker and beat process.
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", "") or private_key_file(VAR_DIR / "audit-chain-key")
if len(AUDIT_CHAIN_KEY) < 32:
    raise ImproperlyConfigured(
        "AUDIT_CHAIN_KEY must be at least 32 characters; generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
    )
# Where the signed chain heads are written, one file per chain and day: a folder or an S3 bucket
# (s3://bucket/prefix), best on storage the database's administrators cannot write.
AUDIT_ANCHOR_URI = env.str("AUDIT_ANCHOR_URI", str(VAR_DIR / "audit-anchors"))
if "://" in AUDIT_ANCHOR_URI and not AUDIT_ANCHOR_URI.startswith(("file://", "s3://")):
    raise ImproperlyConfigured(
        f"AUDIT_ANCHOR_URI must be a folder (a path or file:// URL) or an S3 bucket "
        f"(s3://bucket/prefix), got {AUDIT_ANCHOR_URI!r}."
    )
if AUDIT_ANCHOR_URI.startswith("s3://") and importlib.util.find_spec("boto3") is None:
    raise ImproperlyConfigured(
        "AUDIT_ANCHOR_URI names an S3 bucket, which needs boto3: pip install boto3."
    )
AUDIT_ANCHOR_INTERVAL_SECONDS = env.int("AUDIT_ANCHOR_INTERVAL_SECONDS", 3600, minimum=60)

CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sync-mlflow-registry": {
        "task": "catalog.sync_all_tenants",
        "schedule": CATALOG_SYNC_INTERVAL_SECONDS,
    },
    "governance-daily": {
        "task": "governance.daily_checks",
        "schedule": env.int("GOVERNANCE_CHECK_INTERVAL_SECONDS", 6 * 3600, minimum=60),
    },
    "governance-approval-reminders": {
        "task": "governance.remind_approvals",
        "schedule": 3600,
    },
    "verify-audit-trail-daily": {
        "task": "governance.verify_audit_trail",
        "schedule": env.int("AUDIT_VERIFY_INTERVAL_SECONDS", 24 * 3600, minimum=60),
    },
    "anchor-audit-trail": {
        "task": "governance.anchor_audit_trail",
        "schedule": AUDIT_ANCHOR_INTERVAL_SECONDS,
    },
    "retire-warm-revisions": {
        "task": "deployments.retire_warm_revisions",
        "schedule": 60,
    },
    "refresh-prices-daily": {
        "task": "chargeback.refresh_prices",
        "schedule": PRICE_REFRESH_INTERVAL_SECONDS,
    },
    "meter-usage": {
        "task": "chargeback.meter_usage",
        "schedule": CHARGEBACK_METERING_INTERVAL_SECONDS,
    },
    "check-budgets": {
        "task": "chargeback.check_budgets",
        "schedule": CHARGEBACK_BUDGET_CHECK_INTERVAL_SECONDS,
    },
    "close-billing-period-monthly": {
        "task": "chargeback.close_billing_period",
        "schedule": crontab(minute=0, hour=CHARGEBACK_CLOSE_HOUR % 24, day_of_month=1),
    },
    "monitoring-run-due-monitors": {
        "task": "monitoring.run_due_monitors",
        "schedule": MONITOR_CHECK_INTERVAL_SECONDS,
    },
    "monitoring-compact-captures": {
        "task": "monitoring.compact_captures",
        "schedule": CAPTURE_COMPACT_INTERVAL_SECONDS,
    },
    "relay-task-outbox": {
        "task": "portal.relay_outbox",
        "schedule": 30,
    },
    "expire-idempotency-keys": {
        "task": "portal.expire_idempotency_keys",
        "schedule": 3600,
    },
}

# --- Email and outgoing webhooks (tenants/notifications.py) ------------------------------------

DEFAULT_FROM_EMAIL = env.str("PORTAL_FROM_EMAIL", "mlops-portal@localhost")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "portal.core.mail.SMTPBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)  # TLS from the first byte, usually on port 465
# The deadline of one SMTP connection with portal.core.mail.SMTPBackend, not of each read.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", 10, minimum=1)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS (STARTTLS) and EMAIL_USE_SSL (implicit TLS) exclude each other: set one."
    )
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=0)
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", DEBUG)

# --- Static files -------------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security -----------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
# MLflow's registry webhook is signed (HMAC, with a timestamp and a delivery id against replays),
# so it is answered over plain http too: MLflow inside the network calls the web app directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^api/v1/webhooks/mlflow/$"]
# The portal runs behind its own proxy (docker-compose's nginx, deploy/nginx/portal.conf), which
# writes X-Forwarded-For, -Host and -Proto: believe them (the client's address for rate limits and
# logs, the host, https). Off, they are the client's words and are ignored.
TRUSTED_PROXY = env.bool("TRUSTED_PROXY", False)
USE_X_FORWARDED_HOST = TRUSTED_PROXY
if env.bool("SECURE_PROXY_SSL_HEADER", TRUSTED_PROXY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
X_FRAME_OPTIONS = "DENY"
# Everything from this origin, nothing inline (django-csp sends it on every page).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "style-src": [SELF],
        "script-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The request id: portal.core.middleware.RequestIdMiddleware keeps a caller's well-formed
# X-Request-ID or makes one, and answers it; django-guid holds it for every log line and audit
# event, and its Celery integration carries it into the tasks the request enqueues (in the
# X-Request-ID header of the task message). A task that nothing enqueued (beat's) gets a fresh id
# of its own.
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "INTEGRATIONS": [CeleryIntegration()]}

# --- REST API -----------------------------------------------------------------------------------

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ServiceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.core.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "portal.core.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key anonymous callers on REMOTE_ADDR (TrustedProxyMiddleware sets it behind the
    # proxy), never on an X-Forwarded-For that DRF would otherwise take as the client wrote it.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "token_create": env.str("THROTTLE_TOKEN_CREATE", "20/hour"),
    },
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

LOGIN_THROTTLE = env.str("THROTTLE_LOGIN", "10/5min")
# CPU time one evaluation of a policy may take; a rule still running then fails closed.
POLICY_EVALUATION_BUDGET_MS = env.int("POLICY_EVALUATION_BUDGET_MS", 500, minimum=10)
API_MAX_PAGE_SIZE = 500
# How long a POST's Idempotency-Key answers repeats with the first answer (portal.core.api).
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", 24, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "MLOps portal API",
    "DESCRIPTION": (
        "Tenants, members, service tokens, the model catalog, deployments, approvals, policies, "
        "model cards, incidents and the audit trail of the MLOps as a Service portal. "
        "Authenticate with `Authorization: Bearer <token>` (a service token) or a browser session. "
        "Errors are JSON objects with a `code` and a human `detail` sentence. "
        "Every POST takes an `Idempotency-Key` header that makes a retry safe."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API takes JSON; form encodings (which cannot carry nested objects) serve the browsable
    # API only. Uploads name their media type in their own schema.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "APPEND_COMPONENTS": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"bearerAuth": []}],
    # The filters of a list are read from an empty queryset of its model: the default manager of
    # tenant-owned models refuses any query, an empty one too, without a tenant scope.
    "DEFAULT_QUERY_MANAGER": "_base_manager",
    "ENUM_NAME_OVERRIDES": {
        "DeploymentEnvironmentEnum": "portal.deployments.models.Environment",
        "RiskTierEnum": "portal.catalog.models.RiskTier",
        "IncidentStatusEnum": "governance.models.incidents.IncidentStatus",
        "CardStatusEnum": "governance.models.cards.CardStatus",
        "StatementStateEnum": "chargeback.models.StatementState",
        "BillingPeriodStateEnum": "chargeback.models.PeriodState",
        "DisputeStateEnum": "chargeback.models.DisputeState",
        "DeploymentStateEnum": "portal.deployments.models.DeploymentState",
        "CatalogJobStatusEnum": "portal.catalog.models.JobStatus",
        "ClaimedViaEnum": "portal.catalog.models.ClaimedVia",
        "TierProposalStateEnum": "governance.models.risk.ProposalState",
    },
}

# --- Logging ------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line names the request (or task) that caused it, "-" when none did.
    "filters": {"request_id": {"()": "portal.core.middleware.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    # django-guid says at INFO what it does with each id; the ids are in every line already.
    "loggers": {"django.request": {"level": "ERROR"}, "django_guid": {"level": "WARNING"}},
}
