"""A bounded load run against gunicorn on PostgreSQL: latency, errors and tenant isolation.

What it builds, measures and reports is described in ``benchmarks/load/`` (its ``__init__``);
this module is its entry for ``python -m benchmarks`` (``make bench``).
"""

from benchmarks.load.run import main

if __name__ == "__main__":
    main()
