"""Benchmark: Yosys LUT/FF/CARRY of one MVU over weight x activation bits, both kernels.

One MVU at fixed folding (:class:`~codesign.finn.single_mvau.MvuShape`: MW 64, MH 16, PE 4,
SIMD 8, weights in LUTRAM via its memstream) for w in {1,2,3,4,6,8} x a in {1,2,4,8}, as
codesign's LUT kernel and as finn-plus's DSP kernel (which takes only >= 2-bit operands),
synthesized by Yosys for xc7 (Pynq-Z2). Next to each point: the FINN-R LUT estimate of
the HLS MVAU the LUT kernel's estimate starts from. The LUT kernel's compute core
(``codesign_mvu_lut_core``: multipliers, adder trees, accumulators; no weight memory, no
input replay, no output queue) is also synthesized alone at the same PE/SIMD, since the
node's count includes finn-plus's weight memstream, whose cost grows with the weight bits
only. Writes ``lutmvu.json`` and ``lutmvu.png`` (heat maps) into ``out_dir``;
``python -m codesign.bench.lutmvu OUT`` runs it on its own.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from codesign.cost.protocol import Impl
from codesign.io import atomic_write_json
from codesign.settings import get_settings

log = logging.getLogger(__name__)

WEIGHT_BITS = (1, 2, 3, 4, 6, 8)
ACT_BITS = (1, 2, 4, 8)


def measure(out_dir: Path, w: int, a: int, impl: Impl, settings: Any) -> dict[str, Any]:  # noqa: ANN401
    """Build and synthesize one point; return its Yosys counts and FINN's estimate."""
    from codesign.finn.single_mvau import single_mvau_run
    from codesign.synth import synthesize

    run = single_mvau_run(out_dir / f"{impl}_w{w}a{a}", w, a, impl)
    report = synthesize(run, per_layer=True, whole=False, settings=settings)
    layer = report.layers[0]
    est = report.estimates[layer.name]
    return {
        "w": w,
        "a": a,
        "impl": str(impl),
        "lut": layer.resources.lut,
        "ff": layer.resources.ff,
        "lutram": layer.resources.lutram,
        "carry": layer.cells.get("CARRY4", 0) + layer.cells.get("CARRY8", 0),
        "dsp": layer.resources.dsp,
        "finn_lut": est.lut,
        "finn_dsp": est.dsp,
        "yosys_s": round(layer.seconds, 1),
    }


def measure_core(
    out_dir: Path,
    w: int,
    a: int,
    settings: Any,  # noqa: ANN401
    shape: Any = None,  # noqa: ANN401 - a MvuShape; the bench's by default
) -> dict[str, Any]:
    """Synthesize the LUT kernel's compute core alone at the bench's PE/SIMD; return counts."""
    from codesign.finn.lut_mvau import KERNEL_DIR
    from codesign.finn.single_mvau import MvuShape
    from codesign.synth.blackbox import primitive_stubs
    from codesign.synth.plan import Family, SynthPlan, render, script_files
    from codesign.synth.yosys import run_plan

    shape = shape or MvuShape()
    xnor, bipolar = w == 1 and a == 1, w == 1 and a > 1
    params = {
        "pe": shape.pe,
        "simd": shape.simd,
        "sf": shape.mw // shape.simd,
        "w": w,
        "a": a,
        "accu": w + a + (shape.mw - 1).bit_length() + 1,
        "signed_act": 0,  # the node's activations are UINTa / BINARY
        "signed_weights": int(w > 1),  # INTw; 1-bit weights are bipolar
        "mode": 2 if xnor else 1 if bipolar else 0,
    }
    top = "codesign_core_top"
    core = "codesign_mvu_lut_core.sv"
    files = {
        "primitives.sv": primitive_stubs().encode(),
        core: (KERNEL_DIR / core).read_bytes(),
        "top.sv": render("mvu_lut_core_top.sv.j2", top=top, **params).encode(),
    }
    files.update(script_files(f"core_w{w}a{a}", ["primitives.sv", core, "top.sv"], Family.XC7, top))
    plan = SynthPlan(name=f"core_w{w}a{a}", nodes=(), family=Family.XC7, files=files)
    outcome = run_plan(plan, out_dir / f"core_w{w}a{a}", settings=settings)
    return {
        "w": w,
        "a": a,
        "impl": "lut_core",
        "lut": outcome.resources.lut,
        "ff": outcome.resources.ff,
        "carry": outcome.cells.get("CARRY4", 0),
        "dsp": outcome.resources.dsp,
        "yosys_s": round(outcome.seconds, 1),
    }


def monotone_violations(points: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs (p, q) of one kernel with w*a of p < w*a of q but LUT of p >= LUT of q."""
    bad = []
    for p in points:
        for q in points:
            if p["impl"] == q["impl"] and p["w"] * p["a"] < q["w"] * q["a"]:
                if p["lut"] >= q["lut"]:
                    bad.append((f"w{p['w']}a{p['a']}", f"w{q['w']}a{q['a']}"))
    return bad


def plot(points: list[dict[str, Any]], path: Path) -> None:
    """Heat maps: Yosys LUT (LUT core; LUT kernel), FINN-R estimate, Yosys LUT (DSP kernel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = (
        ("LUT kernel, compute core alone: Yosys LUT", "lut_core", "lut"),
        ("LUT kernel: Yosys LUT", "lut", "lut"),
        ("LUT kernel: FINN-R estimate", "lut", "finn_lut"),
        ("DSP kernel (finn-plus): Yosys LUT [DSP]", "dsp", "lut"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(20, 4.2), constrained_layout=True)
    for ax, (title, impl, key) in zip(axes, panels, strict=True):
        grid = np.full((len(ACT_BITS), len(WEIGHT_BITS)), np.nan)
        for p in points:
            if p["impl"] == impl:
                grid[ACT_BITS.index(p["a"]), WEIGHT_BITS.index(p["w"])] = p[key]
        im = ax.imshow(grid, origin="lower", cmap="viridis")
        for p in points:
            if p["impl"] == impl:
                i, j = ACT_BITS.index(p["a"]), WEIGHT_BITS.index(p["w"])
                text = f"{p[key]:.0f}" + (f"\n[{p['dsp']:.0f}]" if impl == "dsp" else "")
                ax.text(j, i, text, ha="center", va="center", color="w", fontsize=7)
        ax.set_xticks(range(len(WEIGHT_BITS)), [str(b) for b in WEIGHT_BITS])
        ax.set_yticks(range(len(ACT_BITS)), [str(b) for b in ACT_BITS])
        ax.set_xlabel("weight bits")
        ax.set_ylabel("activation bits")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("One MVU, MW 64 MH 16 PE 4 SIMD 8, xc7 (Yosys 0.70)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(out_dir: Path) -> dict[str, Any]:
    """Measure every point (results cached by digest), write JSON and PNG, return them."""
    out_dir = Path(out_dir)
    settings = dataclasses.replace(get_settings(), cache_dir=out_dir / "cache")
    points = []
    for w in WEIGHT_BITS:
        for a in ACT_BITS:
            point = measure_core(out_dir / "cores", w, a, settings)
            log.info("%s", point)
            points.append(point)
            atomic_write_json(out_dir / "lutmvu.json", {"points": points})
    for impl in (Impl.LUT, Impl.DSP):
        for w in WEIGHT_BITS:
            for a in ACT_BITS:
                if impl == Impl.DSP and min(w, a) < 2:
                    continue
                point = measure(out_dir / "runs", w, a, impl, settings)
                log.info("%s", point)
                points.append(point)
                atomic_write_json(out_dir / "lutmvu.json", {"points": points})
    result = {
        "shape": {"mw": 64, "mh": 16, "pe": 4, "simd": 8},
        "family": "xc7",
        "points": points,
        "monotone_violations": monotone_violations(points),
        "violations_per_kernel": {
            kind: len(monotone_violations([p for p in points if p["impl"] == kind]))
            for kind in ("lut_core", "lut", "dsp")
        },
    }
    atomic_write_json(out_dir / "lutmvu.json", result)
    plot(points, out_dir / "lutmvu.png")
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench/lutmvu"))
