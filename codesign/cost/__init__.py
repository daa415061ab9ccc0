"""The hardware cost model: per-layer and per-design cost, calibrated by measurement.

Training, search and sweeps see it only through :mod:`codesign.cost.protocol`.
"""
