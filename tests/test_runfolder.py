"""The typed run-folder reader, on folders written by hand (the real ones: flow and sim tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codesign.errors import ConfigError
from codesign.resources import Resources
from codesign.runfolder import Estimates, LayerEstimate, RunFolder, SimMeasurement


def write_run(tmp_path: Path, **config: object) -> Path:
    run = tmp_path / "run"
    run.mkdir(parents=True)
    cfg = {"board": "pynq-z2", "part": "xc7z020clg400-1", "clock_ns": 8.0, "fps": 100.0}
    cfg.update(config)
    (run / "config.yaml").write_text(yaml.safe_dump({k: v for k, v in cfg.items() if v}))
    return run


def test_the_clock_is_the_compiled_one_and_never_a_default(tmp_path: Path) -> None:
    assert RunFolder(write_run(tmp_path)).clock_ns == 8.0
    with pytest.raises(ConfigError) as err:
        RunFolder(write_run(tmp_path / "b", clock_ns=None))
    assert "has no clock_ns: it was not written by `codesign compile`" in str(err.value)
    with pytest.raises(ConfigError, match="is .* a compile run folder"):
        RunFolder(tmp_path / "nothing")


def test_estimates_round_trip_and_old_files_load(tmp_path: Path) -> None:
    run = write_run(tmp_path)
    layer = LayerEstimate(
        "MVAU_rtl_0", "MVAU_rtl", 2, 9, Resources(dsp=2, bram18=1), 648, 36, 8, 4, 8, 4, "dsp"
    )
    est = Estimates(
        "xc7z020clg400-1", 8.0, (layer,), "MVAU_rtl_0", 648, 1e9 / 8 / 648, layer.resources
    )
    (run / "estimates.json").write_text(json.dumps(est.to_dict()))
    assert RunFolder(run).estimates() == est
    old = est.to_dict()
    for key in ("mw", "mh", "weight_bits", "in_bits", "out_bits", "impl"):
        old["layers"][0].pop(key)  # written before the shape fields existed
    (run / "estimates.json").write_text(json.dumps(old))
    read = RunFolder(run).estimates()
    assert read is not None and read.layer("MVAU_rtl_0").mw is None
    assert read.layer("MVAU_rtl_0").resources == Resources(dsp=2, bram18=1)


def test_measurements_are_typed_with_full_resources(tmp_path: Path) -> None:
    run = write_run(tmp_path)
    folder = RunFolder(run)
    assert folder.sim() is None and folder.synth() is None and folder.estimates() is None
    (run / "sim").mkdir()
    sim = {
        "frames": 8, "bit_exact": True, "latency_cycles": 900, "interval_cycles": 660.0,
        "fps": 1e9 / 8 / 660, "clock_ns": 8.0, "bottleneck_node": "MVAU_rtl_0",
        "bottleneck_cycles": 648, "ready_pct": 100, "fifo_depths": {"F0": 2}, "digest": "ab",
        "sim_s": 0.1,
    }  # fmt: skip
    (run / "sim" / "result.json").write_text(json.dumps(sim))
    got = folder.sim()
    assert isinstance(got, SimMeasurement) and got.cycles_vs_analytic == 660 / 648
    (run / "synth").mkdir()
    whole = {
        "name": "design", "nodes": ["A"], "cells": {},
        "resources": Resources(lut=10, ff=5, uram=1, lutram=3, srl=2).to_dict(),
        "seconds": 1.5, "cached": False, "design_digest": "cd", "tool": "yosys",
        "version": "Yosys 0.70", "family": "xc7", "part": "xc7z020clg400-1", "clock_ns": 8.0,
    }  # fmt: skip
    (run / "synth" / "report.json").write_text(json.dumps({"whole": whole, "layers": [whole]}))
    synth = folder.synth()
    assert synth is not None and synth.resources == Resources(lut=10, ff=5, uram=1, lutram=3, srl=2)
    assert len(folder.synth_layers()) == 1


def test_design_model_is_the_sized_one_once_sizing_wrote_it(tmp_path: Path) -> None:
    from onnx import helper

    run = write_run(tmp_path)
    folder = RunFolder(run)
    with pytest.raises(Exception, match="has no compiled.onnx"):
        folder.design_model()
    node = helper.make_node("StreamingFIFO_rtl", ["x"], ["y"], name="F0", depth=32)
    graph = helper.make_graph([node], "g", [], [])
    (run / "compiled.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    assert folder.design_model() == run / "compiled.onnx"
    assert folder.fifo_depths() == {"F0": 32}
    graph.node[0].attribute[0].i = 4
    (run / "sized.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    assert folder.design_model() == run / "sized.onnx"
    assert folder.fifo_depths() == {"F0": 4}
    prov = folder.provenance(verilator="Verilator 5.0")
    assert prov.board == "pynq-z2" and prov.verilator == "Verilator 5.0" and prov.yosys is None
    assert prov.digest == folder.digest(run / "sized.onnx") != folder.digest(run / "compiled.onnx")
    assert prov.codesign and prov.finn_plus == "1.6.1"
