FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/var/lib/portal
WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY tenants ./tenants
COPY governance ./governance
COPY chargeback ./chargeback
COPY benchmarks ./benchmarks
RUN pip install --no-cache-dir .
COPY . .
# A throwaway audit key for collectstatic, so no key is generated into the image.
RUN mkdir -p /var/lib/portal && DEBUG=true AUDIT_CHAIN_KEY=collectstatic-seals-nothing-0123456789abcdef \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
