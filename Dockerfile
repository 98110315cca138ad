FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/var/lib/portal
WORKDIR /app
# bubblewrap sandboxes the local model servers (SERVING_SANDBOX=bwrap); it needs user namespaces.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY tenants ./tenants
COPY governance ./governance
COPY chargeback ./chargeback
COPY benchmarks ./benchmarks
RUN pip install --no-cache-dir .
COPY . .
RUN mkdir -p /var/lib/portal && DEBUG=true python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
