FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/var/lib/portal
# The portal runs as its own unprivileged user: the code is root's and read-only to it; it writes
# only under PORTAL_VAR_DIR (and /tmp).
RUN groupadd --system portal && useradd --system --gid portal --home-dir /var/lib/portal portal
WORKDIR /app
# bubblewrap sandboxes the local model servers (SERVING_SANDBOX=bwrap); it needs user namespaces.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
# The pinned runtime (with the KServe and SageMaker targets) first, so code changes reuse this layer;
# then the portal itself, without touching the pins.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --no-cache-dir -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY tenants ./tenants
COPY governance ./governance
COPY chargeback ./chargeback
RUN pip install --no-cache-dir --no-deps .
COPY . .
# A throwaway audit key for collectstatic, so no key is generated into the image. The folders
# docker-compose mounts its shared volumes on are made here, the portal's, so a new volume is too.
RUN mkdir -p /var/lib/portal/serving /var/lib/portal/capture /var/lib/portal-anchors \
    && DEBUG=true AUDIT_CHAIN_KEY=collectstatic-seals-nothing-0123456789abcdef \
       python manage.py collectstatic --noinput \
    && chown -R portal:portal /var/lib/portal /var/lib/portal-anchors \
    && chmod 0700 /var/lib/portal/serving /var/lib/portal/capture
USER portal
EXPOSE 8000 8001
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
