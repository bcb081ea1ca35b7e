"""The later stages' bodies as plain functions (no Dagster): findings, metrics, workbooks.

Each function takes the lake, the warehouse, the audit settings and the (year, unit) keys (or the
years) to compute, writes what the stage writes, and reports per partition through callbacks, so
the Dagster assets (``assets/``) only add metadata, checks and progress logging, and the
benchmarks (``bench/pipeline.py``) replay exactly the same code without Dagster.

One module per job:

- :mod:`bangfu.stages.findings` — ``run_unit_findings`` (② per (year, unit)) and
  ``run_cross_findings`` (③ per year), ``count_findings``;
- :mod:`bangfu.stages.metrics` — ``run_metrics`` (③ unit_year_metrics and the roll-up findings);
- :mod:`bangfu.stages.outputs` — ``run_workbooks`` (④ which (year, unit) pairs to write, the
  pool, the digests recorded), ``stale_outputs``, ``below_rankings``;
- :mod:`bangfu.stages.unit_outputs` — what a worker process does for one (year, unit):
  ``OutputTask``, ``write_unit_outputs``;
- :mod:`bangfu.stages.reading` — reading the lake (present units, standards, roster, chunks of
  units under the byte budget);
- :mod:`bangfu.stages.common` — what the stages share (warehouse replacements, the findings
  summary, timings).

Memory is bounded per stage, never by the number of units of the run:

- ``run_unit_findings`` and ``run_metrics`` read a year's units in chunks whose ledger files
  together stay under a byte budget (``BANGFU_CHUNK_MB``, default
  :data:`bangfu.stages.reading.DEFAULT_CHUNK_MB`), in unit-code order (so a chunk is mostly one
  province); metrics read only the columns they use.
- ``run_cross_findings`` needs every unit's archive of the year at once, so it reads only the nine
  archive columns the cross-unit rules use.
- Metrics take the earlier findings of the year as SQL counts per unit and the MISSED_CANDIDATE
  IDs, not as rows.
- ``run_workbooks`` hands one (year, unit) at a time to a pool of worker processes
  (``BANGFU_WORKERS``, default: the CPUs this process may use), a bounded number in flight; each
  worker reads its unit's ledger from the lake and writes the files atomically.
"""
