"""A bounded load run against gunicorn on PostgreSQL: latency, errors and tenant isolation.

Set up in one run, in a database of its own (``portal_bench_load``, dropped and made again),
migrated as the tables' owner (``DATABASE_MIGRATE_URL``) while the portal connects as the role
``portal_app``, which row-level security holds (as ``docker-compose.yml`` runs it):

- ``BENCH_LOAD_TENANTS`` business units (default 8, slugs ``lt-alpha``, ``lt-bravo``, ...), each
  with ``BENCH_LOAD_MODELS`` catalog models (default 100, one to three versions each, classified
  minimal, limited or high risk, complete cards for the high-risk ones), ``BENCH_LOAD_ENDPOINTS``
  endpoints (default 60: live ones, some with a retired earlier revision, and requests waiting for
  an approval or decided), approvals opened by the policy in force, the last hour of gateway
  traffic, and ``BENCH_LOAD_MONTHS`` months of usage (default 24), each month closed into one
  statement per unit (all but the last two finalized). Everything a unit owns is named after its
  slug, so a response that shows another unit's data contains that unit's slug;
- the people: for every ``BENCH_LOAD_USERS`` virtual user (default 50) an account of its own, in
  turn a viewer, an engineer and an owner of unit A, the same of unit B, a client with a ``read``
  service token of A or B, a governance lead, finance and a platform admin.

Measured: ``gunicorn portal.wsgi`` as the image runs it (``BENCH_LOAD_WORKERS`` = 3 gthread
workers with ``BENCH_LOAD_THREADS`` = 4 threads each, DEBUG off), after logging every person in
through the login form. Each virtual user is a thread with its own keep-alive connection that
sends a request, reads the whole answer, waits a think time drawn uniformly from
``BENCH_LOAD_THINK`` seconds (default ``0.5-1.5``), and sends the next, for ``BENCH_LOAD_SECONDS``
(default 60) after a ``BENCH_LOAD_WARMUP`` (default 5 s) ramp-up. The requests follow each role's
mix over catalog, deployment, approval and statement pages and the API reads (``/api/v1/``, by
session or by bearer token); 3% of a unit member's requests ask for another unit's objects (by
its URL, or with another unit's id under the member's own unit) and must be refused (403/404).

Every answer of a unit member or a unit's token is searched for the other units' slugs (platform
roles see every unit by design). Reported per route, per route group and overall: requests,
throughput, median, p95 and p99 latency, errors and leaks; also the SQL queries and the
in-process time of one request of each route (Django test client, before the load), and the CPU
used by gunicorn, PostgreSQL's backends and the load client. Targets: p95 at most 300 ms, no
errors, no response containing another unit's data. Figures go to ``var/bench/load.json``.

``BENCH_LOAD_SHORT=1`` is a smoke test (3 units, a smaller catalog, 10 users, 10 s). Needs
PostgreSQL on 127.0.0.1:5432 (user postgres, trust authentication).
"""
