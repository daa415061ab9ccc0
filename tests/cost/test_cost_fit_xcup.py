"""The xcup fit: LUTRAM cells counted (coefficient 1), and the in-design share estimators."""

from __future__ import annotations

import pytest

from codesign.cost.analytic import DEFAULT_COEFS, AnalyticCostModel
from codesign.cost.doe import calibration_points
from codesign.cost.extract import spec_to_dict
from codesign.cost.fit import (
    COUNTED_LUTRAM_FEATURES,
    error_table,
    fit_calibration,
    in_design_cv,
    samples,
)
from codesign.cost.network import network_layers
from codesign.errors import ConfigError
from codesign.resources import Resources


def _records(model: AnalyticCostModel, n: int, seed: int, saving=None) -> list[dict]:  # noqa: ANN001
    """Records 'measured' by ``model``; ``saving(i)``: whole = (1 + saving) x sum of nodes."""
    out = []
    for i, p in enumerate(calibration_points(n, seed=seed)):
        specs = network_layers(p.arch, p.bits, fps=p.fps, clock_ns=10.0)
        nodes = [
            {"name": s.name, "spec": spec_to_dict(s), "cycles": 0,
             "measured": model.layer_cost(s).resources.to_dict()}
            for s in specs
        ]  # fmt: skip
        whole = None
        if saving is not None:
            lut = sum(x["measured"]["lut"] for x in nodes) * (1.0 + saving(i))
            ff = sum(x["measured"]["ff"] for x in nodes)
            whole = {"resources": Resources(lut=lut, ff=ff).to_dict()}
        out.append({"key": p.key, "point": p.to_dict(), "nodes": nodes, "whole": whole})
    return out


def test_xcup_fit_counts_lutram_cells_one_lut_each() -> None:
    truth = AnalyticCostModel(
        family="xcup",
        coefs={
            k: {
                f: (1.0 if f in COUNTED_LUTRAM_FEATURES else c[0] * 1.5, c[1]) for f, c in v.items()
            }
            for k, v in DEFAULT_COEFS.items()
        },
    )
    records = _records(truth, 16, seed=3)
    cal = fit_calibration(records, family="xcup", tool="yosys", tool_version="Yosys 0.70")
    fitted = [
        (kind, name)
        for kind, table in cal.coefs.items()
        for name in table
        if name in COUNTED_LUTRAM_FEATURES and kind in ("mvau_dsp", "mvau_lut", "swg")
    ]
    assert fitted  # the DoE exercises them
    assert all(cal.coefs[k][n][0] == 1.0 for k, n in fitted)
    held = [s for s in samples(records) if s.role == "holdout"]
    assert error_table(cal.model(), held)[-1]["lut_mape"] < 2.0


def test_median_estimator_is_robust_to_one_odd_design() -> None:
    # every design saves 5% whole, one saves 40% (one odd node of its own): the median
    # share stays at -5%, and leave-one-design-out prefers it to the sums' ratio
    truth = AnalyticCostModel()
    records = _records(truth, 12, seed=2, saving=lambda i: -0.40 if i == 0 else -0.05)
    cv = in_design_cv(records)
    assert set(cv) == {"split", "median"} and cv["median"] < cv["split"]
    kwargs = {"family": "xc7", "tool": "yosys", "tool_version": "Yosys 0.70"}
    median = fit_calibration(records, in_design_estimator="median", **kwargs)
    assert median.in_design["*"][0] == pytest.approx(-0.05, abs=1e-4)
    split = fit_calibration(records, **kwargs)  # the default, as before
    assert split.in_design["*"][0] < -0.06
    with pytest.raises(ConfigError, match="unknown in-design estimator"):
        fit_calibration(records, in_design_estimator="mean", **kwargs)
