"""Benchmark: Yosys LUT/FF/CARRY of one MVU over weight x activation bits, both kernels.

One MVU at fixed folding (:class:`~codesign.finn.single_mvau.MvuShape`: MW 64, MH 16, PE 4,
SIMD 8, weights in LUTRAM via its memstream) for w in {1,2,3,4,6,8} x a in {1,2,4,8}, as
codesign's LUT kernel and as finn-plus's DSP kernel (which takes only >= 2-bit operands),
synthesized by Yosys for xc7 (Pynq-Z2). Next to each point: the FINN-R LUT estimate of
the HLS MVAU the LUT kernel's estimate starts from. Writes ``lutmvu.json`` and
``lutmvu.png`` (heat maps) into ``out_dir``; ``python -m codesign.bench.lutmvu OUT``
runs it on its own.
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
    """Heat maps: Yosys LUT (LUT kernel), FINN-R estimate, Yosys LUT (DSP kernel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = (
        ("LUT kernel: Yosys LUT", "lut", "lut"),
        ("LUT kernel: FINN-R estimate", "lut", "finn_lut"),
        ("DSP kernel (finn-plus): Yosys LUT [DSP]", "dsp", "lut"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
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
    }
    atomic_write_json(out_dir / "lutmvu.json", result)
    plot(points, out_dir / "lutmvu.png")
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench/lutmvu"))
