"""Yosys synthesis of FINN's RTL, per layer and as a whole design, cached by digest.

Public API (importing :mod:`codesign.synth.run` is light; reading a run folder loads FINN)::

    from codesign.synth import synthesize
    report = synthesize(Path("runs/c1"))            # board and clock from RUN/config.yaml
    report.layers[0].resources, report.whole.resources, report.stitching_overhead
    console.print(report.table())                   # FINN estimate vs Yosys, side by side
"""

from codesign.synth.plan import Family, SynthPlan, make_plan
from codesign.synth.report import SynthReport, SynthResult
from codesign.synth.run import Target, load_estimates, run_target, synthesize
from codesign.synth.yosys import parse_stat_json, resources_from_cells, run_plan

__all__ = [
    "Family",
    "SynthPlan",
    "SynthReport",
    "SynthResult",
    "Target",
    "load_estimates",
    "make_plan",
    "parse_stat_json",
    "resources_from_cells",
    "run_plan",
    "run_target",
    "synthesize",
]
