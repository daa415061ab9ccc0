"""Cycle-accurate Verilator simulation of compiled runs, and FIFO sizing (issue 4).

Public API::

    from codesign.sim import simulate, size_fifos
    result = simulate(Path("runs/c1"), images, ready_pct=10)   # SimResult
    sizing = size_fifos(Path("runs/c1"), images)               # FifoSizing

Importing this package is cheap; FINN, qonnx and torch load when a function runs.
"""

from codesign.sim.fifo import FifoSizing, size_fifos
from codesign.sim.simulation import SimHangError, SimMismatchError, SimResult, simulate

__all__ = ["FifoSizing", "SimHangError", "SimMismatchError", "SimResult", "simulate", "size_fifos"]
