"""``impl: auto`` under the board's LUT budget: LUT MVUs move to DSPs until the design fits."""

from __future__ import annotations

from pathlib import Path

import pytest

#: three DSP-capable low-bit layers (signed activations, narrow weights): auto picks LUTs
LAYERS = ((4, 4, True, True), (2, 2, True, True), (3, 3, True, True))
FPS = 100_000


def _impls(run: object) -> dict[str, str]:
    return {r.name: r.impl for r in run.estimates.layers if r.op_type == "MVAU_rtl"}  # type: ignore[attr-defined]


def test_auto_moves_lut_mvus_to_dsp_until_the_luts_fit(tmp_path: Path) -> None:
    import torch
    from lowbit_models import PrecisionChain, export
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.errors import InfeasibleError
    from codesign.finn import CompileConfig, compile_model
    from codesign.finn.folding import FoldTarget, finn_estimate
    from codesign.finn.impl_budget import fit_auto_impl_to_luts
    from codesign.finn.lut_mvau import register
    from codesign.resources import Resources

    torch.manual_seed(0)
    qonnx = export(PrecisionChain(LAYERS), tmp_path / "export")

    def compile_(name: str, **kw: object) -> object:
        cfg = CompileConfig(board="pynq-z2", fps=FPS, impl="auto", prepare_ip=False, **kw)
        return compile_model(qonnx, cfg, tmp_path / name)

    free = compile_("free")
    assert set(_impls(free).values()) == {"lut"}
    luts = {r.name: r.resources.lut for r in free.estimates.layers if r.op_type == "MVAU_rtl"}
    board_lut = 53_200
    # a LUT budget that the all-LUT design exceeds by half its smallest LUT MVU
    need = free.estimates.total.lut - min(luts.values()) / 2
    fitted = compile_("fitted", utilization=need / board_lut)
    impls = _impls(fitted)
    assert "dsp" in impls.values(), impls
    assert fitted.estimates.total.lut <= need
    assert fitted.estimates.total.dsp > 0
    # one move saves more than the excess (a DSP MVU counts 0 LUTs in FINN's estimate)
    assert list(impls.values()).count("dsp") == 1, impls

    # the library call: explicit choices stay, and an impossible budget is one clear error
    register()
    model = ModelWrapper(str(free.run_dir / "intermediate" / "08_specialize_layers.onnx"))
    tight = FoldTarget(part="xc7z020clg400-1", clock_ns=10.0, capacity=Resources(lut=1, dsp=220))
    with pytest.raises(InfeasibleError, match=r"impl auto: the design needs .* lower the FPS"):
        fit_auto_impl_to_luts(model, [0, 1, 2], tight, 1000, finn_estimate)
    model = ModelWrapper(str(free.run_dir / "intermediate" / "08_specialize_layers.onnx"))
    # no auto layer: nothing moves here (the folding's own capacity check reports it)
    assert fit_auto_impl_to_luts(model, [], tight, 1000, finn_estimate) == []
