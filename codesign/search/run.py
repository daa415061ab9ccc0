"""``codesign search``: the whole APQ search of one flow file, end to end.

The composition root of :mod:`codesign.search`: it builds the space from the flow's
``search`` section, runs the resumable stages (:mod:`~codesign.search.pipeline`), prices
candidates with the injected cost model, runs the joint evolution and the baselines, then
for each method's winner: a QAT finetune from the supernet's weights, test accuracy, and a
flow config (``RUN/candidates/<method>.yaml``: the flow with ``model`` set to the candidate,
for ``codesign run`` / ``codesign sweep``). The joint winner (and with ``hardware_for`` more
methods) then goes through the flow's own hardware steps, export, compile, simulate (FIFO
sizing and the bit-exact checks against FINN and Brevitas) and Yosys synth, in
``RUN/hw/<method>/``. Everything lands in ``RUN/search_report.json`` (written atomically).

The winners' hardware is an injected ``HardwareFn`` (the CLI passes
``functools.partial(codesign.flow.from_model.model_hardware, registry=STEPS)``): the search
loads and writes flow configs but never imports the flow's step registry.

Example::

    model = load_cost_model("xc7")
    report = run_search(load_flow_config(path), SearchTarget("pynq-z2", fps=5000), out_dir,
                        price_fn=family_pricer(model), cost_version=model.version,
                        hardware=partial(model_hardware, registry=STEPS))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import yaml

from codesign.boards import load_board
from codesign.cost.protocol import CostModel, Impl, LayerSpec
from codesign.errors import ConfigError, InfeasibleError
from codesign.flow.config import FlowConfig, load_flow_config
from codesign.io import atomic_write_json, atomic_write_text
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig
from codesign.search.baselines import (
    SearchOutcome,
    joint_search,
    random_search,
    sequential_search,
    uniform_search,
)
from codesign.search.efficiency import Budget, CostChecker, Price, PriceFn, canonical_vectors
from codesign.search.evolution import EvolutionConfig
from codesign.search.pipeline import (
    load_sample_data,
    predictor_stage,
    sample_stage,
    supernet_stage,
)
from codesign.search.predictor import encode_features, score_predictor
from codesign.search.rounds import ROUNDS_FILE, FeasibleFn, RoundsState, SearchFn, measured_rounds
from codesign.search.samples import finetune_subnet
from codesign.search.space import SearchSpace
from codesign.train.fixed import evaluate_accuracy, torch_threads

log = logging.getLogger(__name__)

__all__ = [
    "REPORT_FILE",
    "HardwareFn",
    "SearchTarget",
    "family_pricer",
    "network_spec_fn",
    "run_search",
]

REPORT_FILE = "search_report.json"
Progress = Callable[[str, int, int], None]


class HardwareFn(Protocol):
    """Builds and measures a trained model with a flow's hardware steps; returns the results.

    ``hardware(flow, model, run_dir, progress=...)`` -> ``{"compile": ..., "simulate": ...,
    "synth": ..., "seconds": ...}``, as :func:`codesign.flow.from_model.model_hardware`.
    """

    def __call__(  # noqa: D102
        self,
        flow: FlowConfig,
        model: torch.nn.Module,
        run_dir: Path,
        *,
        progress: Progress | None = None,
    ) -> dict[str, Any]: ...


def network_spec_fn(
    arch: CnnArch, bits: BitConfig, impls: Sequence[Impl], fps: float, clock_mhz: float
) -> list[LayerSpec]:
    """The nodes ``codesign compile`` makes of ``arch``, folded for ``fps`` (cost/network.py)."""
    from codesign.cost.network import network_layers  # noqa: PLC0415

    return network_layers(arch, bits, fps=fps, clock_ns=1000.0 / clock_mhz, impl=list(impls))


def family_pricer(cost_model: CostModel) -> PriceFn:
    """A ``PriceFn`` over the cost package's per-layer-group cached ``DesignPricer``.

    Equal to ``cost_model.design_cost(network_layers(...))`` (tested in tests/cost), and fast
    enough for the search's inner loop.
    """
    from codesign.cost.pricer import DesignPricer  # noqa: PLC0415

    pricer = DesignPricer(cost_model)

    def price(
        arch: CnnArch, bits: BitConfig, impls: Sequence[Impl], fps: float, clock_mhz: float
    ) -> Price:
        target = int(clock_mhz * 1e6 / fps)  # network_layers' floor(1e9 / clock_ns / fps)
        if target < 1:
            raise InfeasibleError(f"{fps:g} FPS is more than one frame per clock cycle")
        return pricer.price(arch, bits, target, impl=impls)

    return price


@dataclass(frozen=True)
class SearchTarget:
    """The board and throughput the search designs for.

    Attributes:
        board: Board name (``boards/<name>.yaml``).
        fps: Frames per second the design must reach at the board clock.
        lut_budget: Optional LUT cap (before the utilization limit).
    """

    board: str
    fps: float
    lut_budget: int | None = None


def _evolution_config(cfg: FlowConfig) -> EvolutionConfig:
    s = cfg.search
    return EvolutionConfig(
        population=s.population,
        iterations=s.iterations,
        mutate_prob=s.mutate_prob,
        parent_ratio=s.parent_ratio,
        mutation_ratio=s.mutation_ratio,
        max_tries=s.max_tries,
    )


def candidate_flow(
    cfg: FlowConfig, space: SearchSpace, vector: np.ndarray, target: SearchTarget, name: str
) -> dict[str, Any]:
    """The flow config (plain data) that trains and builds candidate ``vector`` from scratch."""
    arch = space.decode(vector)
    data = cfg.to_yaml_dict()
    data.pop("search", None)
    data["run"] = {**data["run"], "name": name, "out_dir": None}
    data["model"] = {
        "arch": space.to_cnn_arch(arch).to_dict(),
        "bits": space.to_bit_config(arch).to_dict(),
    }
    if data.get("compile") is not None:
        data["compile"] = {**data["compile"], "board": target.board, "fps": target.fps}
        data["compile"]["lut_budget"] = None
    return data


def _write_flow(path: Path, data: dict[str, Any], note: str) -> FlowConfig:
    header = f"# {note}\n"
    atomic_write_text(path, header + yaml.safe_dump(data, sort_keys=False))
    return load_flow_config(path)  # checks it, as the sweep will


def _record(db: Any, row: dict[str, Any], report: dict[str, Any], out_dir: Path, slug: str) -> None:  # noqa: ANN401
    """Store a winner (predicted vs measured accuracy, estimated cost) and its hardware."""
    est = row["estimated"] or {}
    db.add_design(
        {
            "stage": "search",
            "name": f"{slug}",
            "run_dir": str(out_dir.resolve()),
            "board": report["board"],
            "tool": "cost-model",
            "tool_version": report["cost_model"],
            "fps": row["estimated_fps"],
            **{k: est.get(k) for k in ("lut", "ff", "bram18", "uram", "dsp")},
            "meta": {
                k: row[k]
                for k in ("method", "bits", "widths", "impls")
                + ("predicted_accuracy", "test_accuracy")
            },
        }
    )
    folder = out_dir / "hw" / slug / "compile"
    if "measured" in row and folder.is_dir():
        db.record_run_folder(folder)


def _uniform_bits(space: SearchSpace) -> list[int]:
    return [b for b in (2, 4, 8) if b in space.weight_bits and b in space.act_bits]


def _method_names(cfg: FlowConfig) -> list[str]:
    """The methods a search of ``cfg`` runs (names as in the report)."""
    s = cfg.search
    if s is None or not s.baselines:
        return ["joint"]
    uniform = [b for b in (2, 4, 8) if b in s.weight_bits and b in s.act_bits]
    return ["joint", "sequential", "random", *(f"uniform W{b}A{b}" for b in uniform)]


PROTOCOL = (
    "Measured rounds: after a winner is built and measured (Yosys, whole design), the "
    "search's LUT price is multiplied by the largest measured/estimated ratio of the designs "
    "measured so far in this run, and the search, finetune and build run again, until the "
    "measured winner is within its measured LUT budget or the rounds run out. The reference "
    "method runs under the budget B; every other method under min(B, the reference's final "
    "measured LUTs)."
)


def _measured_rounds(
    checker: CostChecker,
    max_rounds: int,
    methods: Sequence[str],
    reference: str,
    searches: dict[str, SearchFn],
    finish: Callable[[SearchOutcome, str], dict[str, Any]],
    *,
    state: RoundsState,
    on_method: Callable[[dict[str, Any]], None],
    progress: Progress | None,
) -> dict[str, Any]:
    """The measured rounds of each of ``methods``, the reference first (see PROTOCOL)."""
    b_lut = checker.budget.limit.lut
    out: dict[str, Any] = {
        "protocol": PROTOCOL,
        "reference": reference,
        "budget_lut": b_lut,
        "max_rounds": max_rounds,
        "methods": {},
    }
    prior: list[Any] = []
    ref_lut: float | None = None
    for method in sorted(methods, key=lambda m: m != reference):
        lut = b_lut if ref_lut is None or method == reference else min(b_lut, ref_lut)
        res = measured_rounds(
            method,
            searches[method],
            finish,
            checker=checker,
            measured_lut=lut,
            max_rounds=max_rounds,
            state=state,
            prior=prior,
            progress=progress,
        )
        prior.extend(res.pop("points"))
        last = res["rounds"][-1] if res["rounds"] else {}
        if method == reference and last.get("measured"):
            ref_lut = last["measured"]["lut"]
        out["methods"][method] = res
        on_method(out)
    return out


def run_search(
    cfg: FlowConfig,
    target: SearchTarget,
    out_dir: Path,
    *,
    price_fn: PriceFn,
    cost_version: str,
    hardware_for: Sequence[str] = ("joint",),
    hardware: HardwareFn | None = None,
    results_db: Any = None,  # noqa: ANN401 (a codesign.cost.db.ResultsDB, or None)
    progress: Progress | None = None,
    search_seed: int | None = None,
    rounds: int = 0,
    reference: str = "sequential",
) -> dict[str, Any]:
    """Run the APQ search of ``cfg`` for ``target``; write and return the report.

    Args:
        cfg: A flow config with a ``search`` section.
        target: Board, FPS and optional LUT budget.
        out_dir: Run folder (resumes the supernet and the samples when present). The
            report, candidate flows and hardware go to ``out_dir``, or with a ``search_seed``
            other than ``run.seed`` to ``out_dir/search_seed<N>/``.
        price_fn: Prices a network folded for the FPS target (see
            :mod:`codesign.search.efficiency`; :func:`family_pricer` or ``spec_pricer``).
        cost_version: The cost model's version, for the report.
        hardware_for: Methods whose winner is compiled, simulated and synthesized
            (``joint``, ``sequential``, ``random``, ``uniform W4A4``...); empty for none.
        hardware: Builds and measures a winner (needed when ``hardware_for`` names one).
        results_db: Where each winner's predicted and measured accuracy and cost go
            (``codesign.cost.db.ResultsDB``), and the hardware winners' run folders.
        progress: ``progress(task, done, total)``.
        search_seed: Seed of the searches' random generators (default ``run.seed``). The
            supernet, samples, predictors and finetunes keep ``run.seed``, so two search
            seeds in one run folder share them and differ only in the evolution.
        rounds: With ``> 0``, each ``hardware_for`` method's winner is built in measured
            rounds (:mod:`codesign.search.rounds`, at most ``rounds`` builds per method):
            the pricing is corrected with the measurements and the method searches again
            until its measured winner meets the measured budget (``report["rounds"]``,
            resumable from ``rounds.json``).
        reference: The method whose final measured LUTs cap the others' measured budget.

    Raises:
        ConfigError: No ``search`` section, ``hardware_for`` without ``hardware``, or
            ``rounds`` without hardware methods or for a method the search does not run.
        InfeasibleError: The joint search finds nothing within budget.
    """
    if cfg.search is None:
        raise ConfigError("the flow has no 'search:' section; see flows/apq.yaml")
    if hardware_for and hardware is None:
        raise ConfigError(
            f"hardware for {', '.join(hardware_for)} needs a hardware function "
            "(codesign.flow.from_model.model_hardware with the flow's step registry)"
        )
    if rounds < 0:
        raise ConfigError(f"--rounds must be >= 0, got {rounds}")
    if rounds:
        if not hardware_for:
            raise ConfigError("--rounds needs a method to build (--hardware joint ...)")
        known = _method_names(cfg)
        unknown = [m for m in hardware_for if m not in known]
        if unknown:
            raise ConfigError(
                f"--rounds: the search runs no method {unknown[0]!r}; it runs "
                + ", ".join(known)
                + ("" if cfg.search.baselines else " (search.baselines is false)")
            )
    s = cfg.search
    seed = cfg.run.seed
    sseed = seed if search_seed is None else search_seed
    out_dir.mkdir(parents=True, exist_ok=True)
    # Another search seed's results (report, candidates, hardware) go in their own folder.
    res_dir = out_dir if sseed == seed else out_dir / f"search_seed{sseed}"
    res_dir.mkdir(exist_ok=True)
    board = load_board(target.board)
    budget = Budget.for_board(
        board,
        fps=target.fps,
        utilization=s.utilization,
        lut_budget=target.lut_budget or s.lut_budget,
    )
    space = s.build_space()
    times: dict[str, float] = {}
    report: dict[str, Any] = {
        "board": board.name,
        "fps": target.fps,
        "utilization": s.utilization,
        "limit": budget.limit.to_dict(),
        "cost_model": cost_version,
        "seed": seed,
        "search_seed": sseed,
        "space": {"vector_length": space.vector_length, "impls": [i.value for i in space.impls]},
    }
    with torch_threads(cfg.run.torch_threads):
        t0 = time.perf_counter()
        data = load_sample_data(cfg.data.dataset.value, cfg.data.n_train, s.n_val, seed)
        from codesign.data.splits import load_split  # noqa: PLC0415

        x_test, y_test = load_split(cfg.data.dataset.value, "test", cfg.data.n_test, seed)
        times["data"] = time.perf_counter() - t0
        net, times["supernet"] = supernet_stage(
            space, data, out_dir, epochs=s.supernet_epochs, seed=seed, progress=progress
        )
        samples = sample_stage(
            net,
            data,
            out_dir,
            n_fp32=s.n_fp32,
            m_quant=s.m_quant,
            n_held=s.n_held,
            qat_steps=s.qat_steps,
            seed=seed,
            progress=progress,
        )
        times.update({f"samples_{k}": v for k, v in samples.seconds.items()})
        fp32, quant, times["predictors"] = predictor_stage(space, samples, seed=seed)
        held_x = encode_features(space, samples.held_vectors, quantized=True)
        report["predictor_held_out"] = {
            "fp32": score_predictor(fp32, held_x, samples.held_acc).to_dict(),
            "quantization_aware": score_predictor(quant, held_x, samples.held_acc).to_dict(),
        }

        def score_q(v: np.ndarray) -> np.ndarray:
            return quant.predict(encode_features(space, v, quantized=True))

        def score_fp32(v: np.ndarray) -> np.ndarray:
            return fp32.predict(encode_features(space, v, quantized=False))

        checker = CostChecker(space, price_fn, budget)
        ecfg = _evolution_config(cfg)

        def gen_progress(name: str) -> Callable[[int, int, float], None] | None:
            return (lambda d, t, _b: progress(name, d, t)) if progress else None

        rng = lambda: np.random.default_rng(sseed)  # noqa: E731 (each search: the same seed)

        def uniform(b: int) -> SearchFn:
            def run(feasible: FeasibleFn) -> SearchOutcome:
                found = uniform_search(space, score_q, feasible, rng(), ecfg, b)
                if found is None:
                    raise InfeasibleError(f"no uniform W{b}A{b} subnet fits the budget")
                return found

            return run

        searches: dict[str, SearchFn] = {
            "joint": lambda f: joint_search(
                space, score_q, f, rng(), ecfg, gen_progress("joint search")
            ),
            "sequential": lambda f: sequential_search(
                space, score_fp32, score_q, f, rng(), ecfg, gen_progress("sequential search")
            ),
        }
        outcomes: list[SearchOutcome] = [searches["joint"](checker.feasible)]
        searches["random"] = lambda f: random_search(
            space, score_q, f, rng(), outcomes[0].scored, s.max_tries
        )
        for b in _uniform_bits(space):
            searches[f"uniform W{b}A{b}"] = uniform(b)
        if s.baselines:
            outcomes.append(searches["sequential"](checker.feasible))
            outcomes.append(searches["random"](checker.feasible))
            for b in _uniform_bits(space):
                try:
                    outcomes.append(searches[f"uniform W{b}A{b}"](checker.feasible))
                except InfeasibleError:
                    report.setdefault("no_fit", []).append(f"uniform W{b}A{b}")
        for o in outcomes:
            times[f"search_{o.method}"] = o.seconds

        cand_dir = res_dir / "candidates"
        cand_dir.mkdir(exist_ok=True)
        tuned: dict[bytes, tuple[torch.nn.Module, float, float]] = {}

        def finish(o: SearchOutcome, slug: str, build: bool) -> dict[str, Any]:
            """Finetune and test ``o``'s winner, write its flow; build and measure it."""
            arch = space.decode(o.vector)
            cost = checker.costs(o.vector[None])[0]
            flow_data = candidate_flow(cfg, space, o.vector, target, f"{cfg.run.name}-{slug}")
            flow = _write_flow(
                cand_dir / f"{slug}.yaml",
                flow_data,
                f"APQ candidate ({o.method} winner) for {board.name} at {target.fps:g} FPS",
            )
            key = canonical_vectors(space, o.vector[None])[0].tobytes()
            if key not in tuned:  # a round that finds the same design again reuses it
                t0 = time.perf_counter()
                model = finetune_subnet(net, o.vector, data, steps=s.finetune_steps, seed=seed)
                seconds = time.perf_counter() - t0
                tuned[key] = (model, evaluate_accuracy(model, x_test, y_test), seconds)
            model, acc, times[f"finetune_{slug}"] = tuned[key]
            row: dict[str, Any] = {
                "method": o.method,
                "arch": space.to_cnn_arch(arch).to_dict(),
                "bits": space.to_bit_config(arch).describe(),
                "widths": list(space.to_cnn_arch(arch).widths),
                "impls": [i.value for i in space.to_impls(arch)],
                "predicted_accuracy": round(o.predicted, 4),
                "test_accuracy": round(acc, 4),
                "n_test": int(y_test.numel()),
                "estimated": None if cost is None else cost.resources.to_dict(),
                "estimated_fps": None if cost is None else round(cost.fps(budget.clock_mhz), 1),
                "scored": o.scored,
                "search_s": round(o.seconds, 2),
                "flow": str(cand_dir / f"{slug}.yaml"),
            }
            if build:
                t0 = time.perf_counter()
                hw = hardware(flow, model, res_dir / "hw" / slug, progress=progress)
                times[f"hardware_{slug}"] = time.perf_counter() - t0
                row["measured"] = {
                    "simulate": hw.get("simulate"),
                    "synth": hw.get("synth"),
                    "compile": hw.get("compile"),
                    "seconds": hw.get("seconds"),
                }
            if results_db is not None:
                _record(results_db, row, report, res_dir, slug)
            return row

        results = []
        for i, o in enumerate(outcomes):
            if progress:
                progress("winners: finetune", i, len(outcomes))
            # With measured rounds, the hardware methods are built in their rounds below.
            build = o.method in hardware_for and not rounds
            results.append(finish(o, o.method.replace(" ", "_"), build))
            atomic_write_json(res_dir / REPORT_FILE, {**report, "winners": results})
        if rounds:
            report["winners"] = results
            settings = {
                **{k: report[k] for k in ("board", "fps", "limit", "cost_model", "space")},
                "seed": seed,
                "search_seed": sseed,
                "flow": cfg.to_yaml_dict(),
            }
            report["rounds"] = _measured_rounds(
                checker,
                rounds,
                hardware_for,
                reference,
                searches,
                lambda o, slug: finish(o, slug, True),
                state=RoundsState.load(res_dir / ROUNDS_FILE, settings),
                on_method=lambda r: atomic_write_json(
                    res_dir / REPORT_FILE, {**report, "rounds": r}
                ),
                progress=progress,
            )
        # The rest of the joint population, for the sweep.
        top = outcomes[0].top if outcomes[0].top is not None else np.empty((0,))
        seen = {space.active_key(space.decode(outcomes[0].vector))}
        emitted = []
        for vec in top:
            if len(emitted) >= s.emit_top:
                break
            key = space.active_key(space.decode(vec))
            if key in seen:
                continue
            seen.add(key)
            name = f"joint_top{len(emitted) + 1}"
            _write_flow(
                cand_dir / f"{name}.yaml",
                candidate_flow(cfg, space, vec, target, f"{cfg.run.name}-{name}"),
                f"APQ candidate (joint population #{len(emitted) + 1}), predicted "
                f"{float(score_q(vec[None])[0]):.4f}",
            )
            emitted.append(str(cand_dir / f"{name}.yaml"))
    report.update(
        {
            "winners": results,
            "emitted": emitted,
            "cost_checks": {"priced": checker.priced},
            "seconds": {k: round(v, 2) for k, v in times.items()},
        }
    )
    atomic_write_json(res_dir / REPORT_FILE, report)
    return report
