"""The shipped xc7 calibration prices exactly as it did when #14's results were priced.

``data/xc7_prices.json`` was written by ``load_cost_model("xc7")`` on main a206098, before
the UltraScale+ memory rules (:mod:`codesign.cost.analytic`, family ``xcu``/``xcup``) came
in: 310 nodes of every kind (the xcup calibration's DoE node specs, priced by the xc7 model)
and the 12 recorded whole designs of ``whole_designs_xc7.json``. Family-specific rules must
leave every one of these prices unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from codesign.cost.calibration import load_cost_model
from codesign.cost.extract import spec_from_dict

DATA = Path(__file__).parent / "data"


def _price(r: object) -> list[float]:
    return [r.lut, r.ff, r.bram18, r.dsp]  # type: ignore[attr-defined]


def test_xc7_prices_unchanged() -> None:
    ref = json.loads((DATA / "xc7_prices.json").read_text())
    model = load_cost_model("xc7")
    assert model.version == ref["version"]
    for node in ref["nodes"]:
        got = _price(model.layer_cost(spec_from_dict(node["spec"])).resources)
        assert all(
            math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
            for a, b in zip(got, node["price"], strict=True)
        ), (node["spec"]["name"], got, node["price"])
    whole = json.loads((DATA / "whole_designs_xc7.json").read_text())["designs"]
    for design, want in zip(whole, ref["designs"], strict=True):
        specs = [spec_from_dict(n) for n in design["nodes"]]
        got = _price(model.design_cost(specs).resources)
        assert want["label"] == design["label"]
        assert all(
            math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
            for a, b in zip(got, want["price"], strict=True)
        ), (design["label"], got, want["price"])
