"""Benchmark: APQ search throughput and the wall time of each search stage (issue #15).

* ``throughput``: candidates per second, single-threaded, on the default search space and
  the Pynq-Z2 at 5000 FPS with the calibrated (or analytic) cost model: the predictor alone
  (batches of 10k one-hot vectors through the 3x400 MLP), the cost check alone on fresh
  random designs (every one priced: ``network_layers`` + ``design_cost``, and the cost
  package's per-layer-group cached ``DesignPricer`` with equal prices), and a full joint
  evolution (population 100, 100 generations, and APQ's code's 500: scored and checked
  candidates per second, with the cache hits a real search gets, and the CPU seconds of
  the predictor, the cost check and the pricing inside it).
* ``stages``: a small end-to-end ``run_search`` of ``flows/apq.yaml`` shrunk to bench size
  (supernet, samples, predictors, searches, finetunes, and the joint winner's compile,
  simulation and synthesis), with the seconds of each stage from its report.
"""

from __future__ import annotations

import logging
import re
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BOARD = "pynq-z2"
FPS = 5000.0
SMALL = {
    "n_train": 2000,
    "n_test": 500,
    "supernet_epochs": 2,
    "n_fp32": 60,
    "m_quant": 12,
    "n_held": 8,
    "qat_steps": 20,
    "n_val": 500,
    "population": 50,
    "iterations": 30,
    "finetune_steps": 100,
    "emit_top": 3,
}


def throughput(seed: int = 0) -> dict[str, Any]:
    """Candidates per second of the predictor, the cost check and a whole evolution.

    Rates per wall second and per CPU second of this process: on shared cores the second
    tells what the code costs, the first what the machine gave it.
    """
    import torch

    from codesign.boards import load_board
    from codesign.cost.calibration import load_cost_model
    from codesign.search.efficiency import Budget, CostChecker, spec_pricer
    from codesign.search.predictor import AccuracyPredictor, encode_features
    from codesign.search.run import family_pricer, network_spec_fn
    from codesign.search.space import SearchSpace

    torch.set_num_threads(1)
    space = SearchSpace.default()
    board = load_board(BOARD)
    model = load_cost_model(board.family.value)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n_features = encode_features(space, space.sample_vectors(rng, 1), quantized=True).shape[1]
    predictor = AccuracyPredictor(n_features)

    def score(v: np.ndarray) -> np.ndarray:
        return predictor.predict(encode_features(space, v, quantized=True))

    vecs = space.sample_vectors(rng, 10_000)
    t0, c0 = time.perf_counter(), time.process_time()
    score(vecs)
    predictor_rate = len(vecs) / (time.perf_counter() - t0)
    predictor_cpu_rate = len(vecs) / max(1e-9, time.process_time() - c0)

    budget = Budget.for_board(board, fps=FPS, utilization=0.7)
    fresh = space.sample_vectors(rng, 2000)
    rates = {}
    for name, price_fn in (
        ("stitched", spec_pricer(model, network_spec_fn)),
        ("group_cached", family_pricer(model)),
    ):
        checker = CostChecker(space, price_fn, budget)
        n = 300 if name == "stitched" else len(fresh)
        t0, c0 = time.perf_counter(), time.process_time()
        checker.feasible(fresh[:n])
        rates[name] = round(n / (time.perf_counter() - t0), 1)
        rates[f"{name}_per_cpu_s"] = round(n / max(1e-9, time.process_time() - c0), 1)

    return {
        "cost_model": model.version,
        "board": BOARD,
        "fps": FPS,
        "predictor_per_s": round(predictor_rate),
        "predictor_per_cpu_s": round(predictor_cpu_rate),
        "cost_check_fresh_per_s": rates,
        # A fresh search each (empty caches): 100 generations, and APQ's code's 500.
        "evolution": _evolution(space, score, family_pricer(model), budget, 100, seed),
        "evolution_500": _evolution(space, score, family_pricer(model), budget, 500, seed),
    }


def _evolution(
    space: Any,  # noqa: ANN401
    score: Any,  # noqa: ANN401
    price_fn: Any,  # noqa: ANN401
    budget: Any,  # noqa: ANN401
    iterations: int,
    seed: int,
) -> dict[str, Any]:
    """One joint evolution (population 100) from empty caches, with its rates.

    Also the CPU seconds of each collaborator: predictor, cost check and, inside the check,
    the cost model's pricing of cache misses.
    """
    from codesign.search.efficiency import CostChecker
    from codesign.search.evolution import EvolutionConfig, EvolutionSearch

    spent = {"predictor": 0.0, "cost_check": 0.0, "pricing": 0.0}

    def timed(name: str, fn: Any) -> Any:  # noqa: ANN401
        def call(*args: Any) -> Any:  # noqa: ANN401
            c = time.process_time()
            try:
                return fn(*args)
            finally:
                spent[name] += time.process_time() - c

        return call

    checker = CostChecker(space, timed("pricing", price_fn), budget)
    cfg = EvolutionConfig(population=100, iterations=iterations)
    t0, c0 = time.perf_counter(), time.process_time()
    result = EvolutionSearch(
        space,
        timed("predictor", score),
        timed("cost_check", checker.feasible),
        np.random.default_rng(seed),
        cfg,
    ).run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "population": cfg.population,
        "iterations": cfg.iterations,
        "seconds": round(wall, 2),
        "scored": result.scored,
        "checked": result.checked,
        "priced": checker.priced,
        "cache_hit_rate": round(1 - checker.priced / max(1, result.checked), 3),
        "checked_per_s": round(result.checked / wall, 1),
        "scored_per_s": round(result.scored / wall, 1),
        "cpu_seconds": round(cpu, 2),
        "checked_per_cpu_s": round(result.checked / cpu, 1),
        "cpu_seconds_by_stage": {
            "predictor": round(spent["predictor"], 3),
            "cost_check": round(spent["cost_check"], 3),
            "of_which_pricing": round(spent["pricing"], 3),
            "evolution_rest": round(cpu - spent["predictor"] - spent["cost_check"], 3),
        },
    }


def stages(out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """A small end-to-end search with the joint winner's hardware; its stage times."""
    from codesign.cost.calibration import load_cost_model
    from codesign.flow.config import load_flow_config
    from codesign.flow.from_model import model_hardware
    from codesign.flow.steps import STEPS
    from codesign.search.run import SearchTarget, family_pricer, run_search

    flows = Path(__file__).resolve().parents[2] / "flows"
    text = (flows / "apq.yaml").read_text()
    for key, value in SMALL.items():
        text = re.sub(rf"(\n\s+{key}:) \d+", rf"\1 {value}", text)
    text = re.sub(r"(\n\s+frames:) \d+", r"\1 32", text)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "apq_small.yaml").write_text(text)
    cfg = load_flow_config(out_dir / "apq_small.yaml")
    t0 = time.perf_counter()
    report = run_search(
        cfg,
        SearchTarget(BOARD, FPS),
        out_dir / "run",
        price_fn=family_pricer(load_cost_model("xc7")),
        cost_version=load_cost_model("xc7").version,
        hardware=partial(model_hardware, registry=STEPS),
    )
    return {
        "settings": SMALL,
        "wall_s": round(time.perf_counter() - t0, 1),
        "stage_seconds": report["seconds"],
        "winners": [
            {k: w.get(k) for k in ("method", "bits", "test_accuracy", "estimated")}
            for w in report["winners"]
        ],
    }


def run(out_dir: Path) -> dict:
    """Both parts; see the module docstring."""
    return {"throughput": throughput(), "stages": stages(Path(out_dir) / "stages")}
