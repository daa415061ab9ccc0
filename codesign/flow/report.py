"""The flow's final report (``RUN/report.json``): accuracy, hardware figures and step times.

:func:`flow_report` gathers what the steps left in ``FlowResult.state.results`` and the
runner's per-step records into one JSON-able dict; it reads no files, so a resumed flow
(whose skipped steps hand on their stored results) reports the same figures.
:func:`write_flow_report` writes it; ``codesign run`` passes it to
:func:`~codesign.flow.runner.run_flow` as ``finish``, so it is written under the run
folder's lock once the last step is done.

The keys ``flow``, ``dataset``, ``n_test``, ``clean_accuracy``, ``corrupted`` and ``train``
are those the evaluate step writes; ``hardware`` (when the flow compiles) puts FINN's
analytic figures next to the measured ones::

    "hardware": {
      "board": "pynq-z2", "clock_ns": 10.0, "target_fps": 10000.0, "lut_budget": null,
      "fps": {"estimated": 10629.3, "measured": 10629.3},          # FINN / Verilator
      "cycles_per_frame": {"analytic": 9408, "measured": 9408.0, "ratio": 1.0, ...},
      "latency": {"cycles": 14592, "us": 145.92},
      "resources": {"finn": {"lut": ..., "ff": null, ...}, "yosys": {...}},  # whole design,
                   # every Resources field (lut, ff, bram18, uram, dsp, lutram, srl)
      "bit_exact": {"frames": 256, "finn": true, "brevitas": true}, "rtl_accuracy": 0.86,
      "provenance": {"codesign": "0.1.0", "commit": ..., "finn_plus": "1.6.1",
                     "verilator": ..., "yosys": ..., "board": "pynq-z2", "digest": ...}}

The figures come from the run folder's typed reader (:class:`codesign.runfolder.RunFolder`)
through the steps' results, unrounded; the CLI formats them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.flow.config import FlowConfig
from codesign.flow.runner import FlowResult
from codesign.io import atomic_write_json

REPORT_FILE = "report.json"


def flow_report(cfg: FlowConfig, result: FlowResult) -> dict[str, Any]:
    """The flow's report as a dict (see the module docstring for its keys).

    Args:
        cfg: The flow config.
        result: What :func:`~codesign.flow.runner.run_flow` returned (or hands ``finish``).
    """
    results = result.state.results
    report: dict[str, Any] = {"flow": cfg.run.name}
    evaluate = results.get("evaluate")
    if evaluate is not None:
        report.update(dataset=cfg.data.dataset.value, **evaluate, train=results.get("train"))
    hardware = hardware_report(results)
    if hardware is not None:
        report["hardware"] = hardware
    # Seconds of the run that made each step's outputs (a skipped step keeps its old time),
    # so re-running an unchanged flow rewrites the same report.
    steps = {r.name: {"status": r.status, "seconds": r.seconds} for r in result.records}
    report["steps"] = steps
    report["step_seconds_total"] = round(sum(s["seconds"] or 0.0 for s in steps.values()), 3)
    return report


def hardware_report(results: dict[str, Any]) -> dict[str, Any] | None:
    """FINN's estimates next to Verilator's and Yosys' measurements (None without compile).

    Args:
        results: Step name -> its results (``FlowState.results``); ``simulate`` and
            ``synth`` may be missing, their figures are then ``None``.
    """
    comp = results.get("compile")
    if comp is None:
        return None
    sim = results.get("simulate") or {}
    synth = results.get("synth") or {}
    latency = sim.get("latency_cycles")
    return {
        "board": comp["board"],
        "part": comp["part"],
        "clock_ns": comp["clock_ns"],
        "target_fps": comp["target_fps"],
        "lut_budget": comp["lut_budget"],
        "fps": {"estimated": comp["estimated_fps"], "measured": sim.get("fps")},
        "cycles_per_frame": {
            "analytic": comp["max_cycles"],
            "measured": sim.get("interval_cycles"),
            "ratio": sim.get("cycles_vs_analytic"),
            "bottleneck": comp["bottleneck"],
        },
        "latency": {
            "cycles": latency,
            "us": None if latency is None else round(latency * comp["clock_ns"] / 1e3, 3),
        },
        "resources": {"finn": comp["estimate"], "yosys": synth.get("whole")},
        "bit_exact": None if not sim else {"frames": sim["frames"], **sim["bit_exact"]},
        "rtl_accuracy": sim.get("accuracy"),
        "fifo_sizing": sim.get("fifo_sizing"),
        # codesign version and commit, finn-plus, Verilator and Yosys, board, design digest
        "provenance": synth.get("provenance"),
    }


def write_flow_report(cfg: FlowConfig, result: FlowResult) -> Path | None:
    """Write :func:`flow_report` to ``RUN/report.json`` atomically and return its path.

    Nothing is written (``None`` returned) while no step has anything to report: a flow
    stopped after ``train`` has no report.
    """
    report = flow_report(cfg, result)
    if "clean_accuracy" not in report and "hardware" not in report:
        return None
    return atomic_write_json(result.run_dir / REPORT_FILE, report)
