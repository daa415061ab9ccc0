"""The fit recovers known coefficients; the error table reports what it should."""

from __future__ import annotations

from codesign.cost.analytic import DEFAULT_COEFS, AnalyticCostModel
from codesign.cost.doe import calibration_points
from codesign.cost.extract import spec_to_dict
from codesign.cost.fit import error_table, fit_calibration, samples
from codesign.cost.network import network_layers


def _records(model: AnalyticCostModel, n: int, seed: int) -> list[dict[str, object]]:
    """Point records 'measured' by ``model`` (a known ground truth for the fitter)."""
    out = []
    for p in calibration_points(n, seed=seed):
        specs = network_layers(p.arch, p.bits, fps=p.fps, clock_ns=10.0)
        nodes = [
            {
                "name": s.name,
                "spec": spec_to_dict(s),
                "measured": model.layer_cost(s).resources.to_dict(),
                "cycles": 0,
            }
            for s in specs
        ]
        out.append({"key": p.key, "point": p.to_dict(), "nodes": nodes, "whole": None})
    return out


def test_fit_recovers_a_known_model() -> None:
    truth_coefs = {
        k: {f: (c[0] * 1.7, c[1] * 0.6) for f, c in v.items()} for k, v in DEFAULT_COEFS.items()
    }
    truth = AnalyticCostModel(coefs=truth_coefs)
    records = _records(truth, 24, seed=1)
    cal = fit_calibration(records, family="xc7", tool="yosys", tool_version="Yosys 0.70")
    held = [s for s in samples(records) if s.role == "holdout"]
    before = {r["kind"]: r for r in error_table(AnalyticCostModel(), held)}
    after = {r["kind"]: r for r in error_table(cal.model(), held)}
    assert before["all"]["lut_mape"] > 20
    assert after["all"]["lut_mape"] < 2 and after["all"]["ff_mape"] < 2
    assert after["all"]["dsp_exact"] == 100.0 and after["all"]["bram18_exact"] == 100.0
    assert cal.provenance["fit_points"] == sum(1 for r in records if r["point"]["role"] == "fit")


def test_calibrate_impls_option_rejects_unknown_names(tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from codesign.cli.main import cli

    result = CliRunner().invoke(
        cli, ["calibrate", "--board", "pynq-z2", "--out", str(tmp_path), "--impls", "dsp,fpga"]
    )
    assert result.exit_code != 0
    assert "unknown implementation fpga; choose from dsp, lut" in result.output
    assert not (tmp_path / "points").exists()  # nothing measured


def test_doe_alternates_implementations_in_fit_and_holdout() -> None:
    from codesign.cost.protocol import Impl

    points = calibration_points(16, impls=(Impl.DSP, Impl.LUT), sizes=(8, 28), max_stages=3)
    by_role = {(p.role.value, p.impl) for p in points}
    assert by_role == {(r, i) for r in ("fit", "holdout") for i in (Impl.DSP, Impl.LUT)}
    assert {p.arch.input_size for p in points} == {8, 28}


def test_robust_fit_is_not_pulled_by_a_few_odd_nodes() -> None:
    # a few nodes far below the model (Yosys folding a ROM of constants away, say) should not
    # move every other node of their kind: the robust fit minimizes absolute errors
    truth = AnalyticCostModel(
        coefs={k: {f: (c[0] * 1.3, c[1]) for f, c in v.items()} for k, v in DEFAULT_COEFS.items()}
    )
    records = _records(truth, 24, seed=1)
    odd = 0
    for rec in records:
        if rec["point"]["role"] != "fit":
            continue
        for node in rec["nodes"]:
            if node["spec"]["kind"] == "thresholding" and odd < 4:
                node["measured"] = {**node["measured"], "lut": node["measured"]["lut"] * 0.2}
                odd += 1
    assert odd == 4
    held = [s for s in samples(records) if s.role == "holdout"]

    def thresholding_mape(robust: bool) -> float:
        cal = fit_calibration(
            records, family="xc7", tool="yosys", tool_version="Yosys 0.70", robust=robust
        )
        rows = {r["kind"]: r for r in error_table(cal.model(), held)}
        return float(rows["thresholding"]["lut_mape"])

    plain, robust = thresholding_mape(False), thresholding_mape(True)
    assert plain > 20.0 and robust < 0.5 * plain  # measured: 35.7% and 15.4%
