"""Sweeps: many design points of one flow, run in a pool or on Dask, with a Pareto report.

``spec`` (the typed SWEEP.yaml) -> ``expand`` (axes -> resolved flow configs, one per
point, named by the digest of the config) -> ``runner`` (a local process pool or a Dask
cluster; one process per point) -> ``store`` (atomic point records, the results DB) ->
``pareto`` and ``report`` (fronts, CSV/JSON, PNG, the HTML report). This package knows a
flow only through its public config (:mod:`codesign.flow.config`) and runner
(:mod:`codesign.flow.runner`).
"""
