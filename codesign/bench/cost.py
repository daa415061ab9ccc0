"""Benchmark: cost-model evaluations per second, and calibration wall time per point.

* ``designs_per_s``: whole-design prices per second by
  :class:`~codesign.cost.pricer.DesignPricer`, as a search uses it: a population of 64
  family networks, one layer's bits mutated per evaluation. ``cold``: the first seconds
  (most layer groups unseen); ``steady``: after the group cache warmed up; ``warm``:
  re-pricing a seen population. The search needs >= 1e4/s.
* ``stitched_per_s``: ``design_cost(network_layers(...))`` (build the node list each time).
* ``surrogate_discrete_per_s``: table look-ups of the differentiable surrogate.
* ``calibration_s_per_point``: one real calibration point (a tiny network: compile, Yosys
  per layer and whole) with a private Yosys cache, so every run is real.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from codesign.models.bits import ALLOWED_BITS, BitConfig, LayerBits


def _mutate(rng: random.Random, bits: BitConfig) -> BitConfig:
    layers = list(bits.layers)
    i = rng.randrange(len(layers))
    act = rng.choice(ALLOWED_BITS) if layers[i].act is not None else None
    layers[i] = LayerBits(rng.choice(ALLOWED_BITS), act)
    return BitConfig(bits.input_bits, tuple(layers))


def _rates(seconds: float = 3.0) -> dict[str, Any]:
    from codesign.cost.calibration import load_cost_model
    from codesign.cost.doe import calibration_points, design_points
    from codesign.cost.network import network_layers
    from codesign.cost.pricer import DesignPricer
    from codesign.cost.protocol import Candidate
    from codesign.cost.surrogate import surrogate_for_board

    model = load_cost_model("xc7")
    rng = random.Random(0)
    population = [(p.arch, p.bits) for p in design_points() + calibration_points(60, seed=7)]
    pricer = DesignPricer(model)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:  # a search: mutate, price
        k = rng.randrange(len(population))
        arch, bits = population[k]
        bits = _mutate(rng, bits)
        population[k] = (arch, bits)
        pricer.price(arch, bits, 10_000)
        n += 1
    cold = n / (time.perf_counter() - t0)
    # keep searching until the group cache has warmed up, then time a window
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 4 * seconds:
        k = rng.randrange(len(population))
        arch, bits = population[k]
        population[k] = (arch, _mutate(rng, bits))
        pricer.price(*population[k], 10_000)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        k = rng.randrange(len(population))
        arch, bits = population[k]
        population[k] = (arch, _mutate(rng, bits))
        pricer.price(*population[k], 10_000)
        n += 1
    steady = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    m = 0
    while time.perf_counter() - t0 < seconds:
        for arch, bits in population:
            pricer.price(arch, bits, 10_000)
        m += len(population)
    warm = m / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    s = 0
    while time.perf_counter() - t0 < seconds / 3:
        arch, bits = population[s % len(population)]
        model.design_cost(network_layers(arch, bits, target_cycles=10_000))
        s += 1
    stitched = s / (time.perf_counter() - t0)
    arch = design_points()[0].arch
    cands = [Candidate(w, a) for w in (2, 4, 8) for a in (2, 4, 8)]
    sur = surrogate_for_board(
        arch,
        [cands] * (arch.n_layers - 1) + [[Candidate(w, None) for w in (2, 4, 8)]],
        board="pynq-z2",
        fps=10_000,
    )
    t0 = time.perf_counter()
    d = 0
    while time.perf_counter() - t0 < seconds / 3:
        sur.discrete([d % 9, (d // 9) % 9, (d // 81) % 9, d % 3])
        d += 1
    return {
        "model": model.version,
        "designs_per_s_cold": round(cold),
        "designs_per_s_steady": round(steady),
        "designs_per_s_warm": round(warm),
        "stitched_per_s": round(stitched),
        "surrogate_discrete_per_s": round(d / (time.perf_counter() - t0)),
        "group_cache_entries": len(pricer._groups),  # noqa: SLF001 - a figure, not an API
        "meets_1e4_per_s": steady >= 1e4,
    }


def run(out_dir: Path) -> dict[str, Any]:
    """Rates, then one calibration point measured from scratch."""
    import dataclasses

    from codesign.cost.doe import CalibPoint, Role
    from codesign.flow.calibrate import measure_point
    from codesign.models.arch import CnnArch, StageSpec
    from codesign.settings import get_settings

    out = _rates()
    arch = CnnArch(stages=(StageSpec(4, 3, 2),), num_classes=4, input_size=8)
    point = CalibPoint(
        arch,
        BitConfig.uniform(2, 4, 4, input_bits=4),
        100_000,
        "pynq-z2",
        role=Role.FIT,
        whole=True,
    )
    settings = dataclasses.replace(get_settings(), cache_dir=out_dir / "cache")
    t0 = time.perf_counter()
    record = measure_point(point, out_dir, settings=settings)
    out["calibration_s_per_point"] = round(time.perf_counter() - t0, 1)
    out["calibration_point_nodes"] = len(record["nodes"])
    out["calibration_compile_s"] = record["compile_seconds"]
    return out
