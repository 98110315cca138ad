#!/bin/sh
# The role the portal connects as (DATABASE_URL): no superuser, no table owner, no BYPASSRLS, so
# row-level security holds it. `manage.py migrate` runs as the owner (DATABASE_MIGRATE_URL) and
# grants this role its rights on the tables.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="${PORTAL_APP_PASSWORD:?set PORTAL_APP_PASSWORD in .env}" <<'SQL'
CREATE ROLE portal_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'password';
SQL
