"""``codesign evaluate``: DQMQ against its baselines, over seeds, on clean and corrupted data.

For every seed it trains (or reuses, resuming) one checkpoint per method under
``OUT/seed<s>/<method>.pt`` (see :func:`codesign.train.dqmq_run.method_configs`), then
evaluates on the clean test subset and on every corruption x ``dqmq.eval_severities``:

* ``dqmq/policy_soft``, ``dqmq/policy_hard``, ``dqmq/tiers`` (K = ``dqmq.tiers``, router),
  ``dqmq/switchable_wXaX`` (the shared weights at each uniform precision);
* ``static/policy_hard`` (the same objective without the quality input: the best static
  mixed configuration for that cost), ``dqnet/policy_hard`` (mean-bit budget);
* with ``dqmq.tier_finetune_epochs``: ``dqmq/tiers_ft`` (per-tier weights tuned on the
  tier's routed images), ``static/ft`` (its configuration tuned on all images) and
  ``static/routed_ft`` (the control: its one configuration, one weight copy per dqmq tier
  tuned on that tier's routed images, routed the same way);
* with ``dqmq.tier_train_epochs`` too: ``dqmq/tiers_scratch`` (each tier's configuration
  trained apart from scratch, then tuned on its routed images) and ``static/scratch`` (the
  static policy's configuration trained apart the same way, then tuned on all images: the
  best static mixed configuration with the same training as the tiers);
* with ``dqmq.tier_select: val_accuracy`` or ``budget`` too: ``dqmq/tiers_select`` (each
  tier's configuration chosen on routed hold-out images, one by one or together within the
  budget, :mod:`codesign.flow.dqmq_select`; the candidates' scores in
  ``OUT/seed<s>/tier_select.json``) and ``static/select`` (the same pick for the static
  policy's one design: its control; ``static_select.json``);
* ``gaps.json`` and a table in ``summary.md``: every quality-aware method minus the static
  hull at equal cost and minus each static design, paired per seed, with 95% intervals
  (:mod:`codesign.flow.dqmq_gaps`);
* with two seeds or more, ``headroom.json`` and a table in ``summary.md``: how much any
  quality router could gain over blind mixes of the uniform designs
  (:mod:`codesign.flow.dqmq_headroom`);
* ``uniform_wXaX`` (trained at that precision by the same loop for the same epochs).

Each seed's rows go to ``OUT/seed<s>/rows.json`` (a seed with that file is not redone, so
seeds can run in parallel processes on the same ``OUT``). It writes ``results.json`` (every
row), ``summary.json`` (mean and spread over seeds),
``summary.md`` and two PNG plots, all atomically.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codesign.flow.config import FlowConfig
from codesign.flow.dqmq import (
    _section,
    space_of,
    tier_trainers,
    train_tier_apart,
    training_data,
)
from codesign.flow.dqmq_gaps import gaps_markdown, paired_gaps
from codesign.flow.dqmq_headroom import headroom_markdown, router_headroom
from codesign.io import atomic_write_json, atomic_write_text
from codesign.policy.options import TierSelect

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def compare(
    cfg: FlowConfig, seeds: Sequence[int], out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Train and evaluate every method for every seed; write the tables and plots to ``out``.

    Returns:
        The summary: per method, mean and std over seeds of clean accuracy, corrupted
        accuracy, mean bits and cost.
    """
    for seed in seeds:
        evaluate_seed(cfg, seed, out, progress)
    return aggregate(cfg, seeds, out)


def rows_file(out: Path, seed: int) -> Path:
    """Where a seed's rows go: ``OUT/seed<s>/rows.json`` (its presence means the seed is done)."""
    return Path(out) / f"seed{seed}" / "rows.json"


def evaluate_seed(cfg: FlowConfig, seed: int, out: Path, progress: Progress | None = None) -> Path:
    """Train (or reuse) and evaluate every method for one seed; its rows to ``OUT/seed<s>``.

    Returns:
        ``OUT/seed<s>/rows.json``; a seed that already has it is not redone.
    """
    import torch  # noqa: PLC0415

    from codesign.data.splits import load_split  # noqa: PLC0415
    from codesign.flow.dqmq_router import cut_router  # noqa: PLC0415
    from codesign.policy.costs import DesignPricer  # noqa: PLC0415
    from codesign.policy.tiers import Router  # noqa: PLC0415
    from codesign.quality import Corruption  # noqa: PLC0415
    from codesign.train.dqmq_eval import (  # noqa: PLC0415
        evaluate_method,
        method_predictors,
        test_conditions,
    )
    from codesign.train.dqmq_finetune import tiered_predictor  # noqa: PLC0415
    from codesign.train.dqmq_run import (  # noqa: PLC0415
        build_surrogate,
        load_dqmq,
        method_configs,
        train_method,
    )
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    out = Path(out)
    cached = rows_file(out, seed)
    if cached.is_file():  # this seed is done (a killed or parallel run wrote it)
        log.info("seed %d: reusing %s", seed, cached)
        return cached
    sec = _section(cfg)
    arch, space = space_of(cfg)
    eval_surrogate = build_surrogate(
        sec.cost_model.value, arch, space, board=sec.board, fps=sec.fps
    )
    pricer = DesignPricer(arch, space, board=sec.board, fps=sec.fps, impl=sec.impl)
    uniform = space.uniform_pairs()
    with torch_threads(cfg.run.torch_threads):
        seed_rows: list[dict[str, Any]] = []
        data = training_data(cfg, seed)
        x_test, y_test = load_split(cfg.data.dataset.value, "test", cfg.data.n_test, seed)
        conds = test_conditions(x_test, y_test, [c.value for c in Corruption],
                                sec.eval_severities, seed)  # fmt: skip
        methods = method_configs(sec, seed, space)
        dqmq_router = None  # the dqmq method's router (for static's routed control)
        for m_i, (method, (sur_name, train_cfg)) in enumerate(methods.items()):
            surrogate = build_surrogate(sur_name, arch, space, board=sec.board, fps=sec.fps)
            train_cfg = _with_batch(train_cfg, cfg.data.batch_size)

            def on_batch(
                done: int, total: int, _m: Any, task: str = f"seed {seed} {method}"
            ) -> None:
                if progress is not None:
                    progress(task, done, total)

            path = out / f"seed{seed}" / f"{method}.pt"
            train_method(path, method, arch, space, surrogate, data, train_cfg,
                         flow_config=cfg.to_yaml_dict(), on_batch=on_batch)  # fmt: skip
            net, policy, ckpt = load_dqmq(path)
            preds: dict[str, Any] = {}
            if method == "dqmq":
                router = cut_router(sec.router, policy, data.features, space.sizes,
                                    sec.tiers, seed)  # fmt: skip
                preds = method_predictors(net, policy, router, uniform)
                dqmq_router = router
                if sec.tier_finetune_epochs > 0:
                    routed = router.route(data.features.double().numpy())
                    models = _finetune(net, router.tiers, routed, data, sec, train_cfg)
                    preds["tiers_ft"] = tiered_predictor(models, router.tiers, router.route)
                    if sec.tier_train_epochs > 0:  # the tiers trained apart, then tuned
                        nets = [
                            train_tier_apart(choice, out / f"seed{seed}", cfg, seed, data)
                            for choice in router.tiers
                        ]
                        models = _finetune(net, router.tiers, routed, data, sec, train_cfg,
                                           nets=nets)  # fmt: skip
                        preds["tiers_scratch"] = tiered_predictor(
                            models, router.tiers, router.route
                        )
                        if sec.tier_select is not TierSelect.MODE:
                            preds["tiers_select"] = _select(
                                cfg, seed, out, net, policy, router, routed, data,
                                train_cfg, eval_surrogate,
                            )  # fmt: skip
            elif method.startswith("uniform"):
                choice = torch.tensor(list(train_cfg.fixed_choice))
                preds = {"fixed": _fixed(net, choice)}
                if sec.tier_finetune_epochs > 0:  # the same extra epochs as static/ft
                    one = choice.numpy()[None, :]  # (1, L)
                    routed = np.zeros(data.labels.shape[0], dtype=np.int64)
                    models = _finetune(net, one, routed, data, sec, train_cfg)
                    preds["ft"] = tiered_predictor(models, one)
            else:
                preds = {"policy_hard": method_predictors(net, policy)["policy_hard"]}
                if method == "static" and sec.tier_finetune_epochs > 0:
                    with torch.no_grad():
                        one = policy.argmax(data.features[:1]).numpy()  # (1, L)
                    routed = np.zeros(data.labels.shape[0], dtype=np.int64)
                    models = _finetune(net, one, routed, data, sec, train_cfg)
                    preds["ft"] = tiered_predictor(models, one)
                    if sec.tier_train_epochs > 0:  # its configuration trained apart, tuned
                        nets = [train_tier_apart(one[0], out / f"seed{seed}", cfg, seed, data)]
                        models = _finetune(net, one, routed, data, sec, train_cfg, nets=nets)
                        preds["scratch"] = tiered_predictor(models, one)
                        if sec.tier_select is not TierSelect.MODE:  # one tier, same pick
                            alone = Router.from_params(policy.numpy_params(), one)
                            preds["select"] = _select(
                                cfg, seed, out, net, policy, alone, routed, data,
                                train_cfg, eval_surrogate, "static_select.json",
                            )  # fmt: skip
                    if dqmq_router is not None:  # control: per-tier weights, one precision
                        same = np.repeat(one, len(dqmq_router.tiers), axis=0)  # (T, L)
                        routed = dqmq_router.route(data.features.double().numpy())
                        models = _finetune(net, same, routed, data, sec, train_cfg)
                        preds["routed_ft"] = tiered_predictor(models, same, dqmq_router.route)
            for variant, predict in preds.items():
                name = method if variant == "fixed" else f"{method}/{variant}"
                for row in evaluate_method(
                    predict, conds, eval_surrogate, space.bits_table(), pricer=pricer
                ):
                    seed_rows.append({"seed": seed, "method": name, **row})
                log.info("seed %d %s evaluated", seed, name)
            train_seconds = ckpt["metrics"].get("seconds")
            seed_rows.append({"seed": seed, "method": method, "condition": "_train",
                              "seconds": train_seconds})  # fmt: skip
            if progress is not None:
                progress(f"seed {seed}", m_i + 1, len(methods))
    atomic_write_json(cached, seed_rows)
    return cached


def aggregate(cfg: FlowConfig, seeds: Sequence[int], out: Path) -> dict[str, Any]:
    """The seeds' rows into ``results.json``, the summary, the router headroom and the plots.

    Returns:
        :func:`compare`'s summary.
    """
    sec = _section(cfg)
    out = Path(out)
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        rows.extend(json.loads(rows_file(out, seed).read_text()))
    atomic_write_json(out / "results.json", rows)
    summary = summarize(rows)
    atomic_write_json(out / "summary.json", summary)
    headroom = router_headroom(rows, also=[] if sec.cost_target is None else [sec.cost_target])
    atomic_write_json(out / "headroom.json", headroom)
    gaps = paired_gaps(rows)
    atomic_write_json(out / "gaps.json", gaps)
    atomic_write_text(
        out / "summary.md",
        summary_markdown(summary, seeds, cfg) + gaps_markdown(gaps) + headroom_markdown(headroom),
    )
    plot(rows, out)
    return summary


def _select(
    cfg: FlowConfig, seed: int, out: Path, net: Any, policy: Any, router: Any, routed: Any,
    data: Any, train_cfg: Any, surrogate: Any, report: str = "tier_select.json",
) -> Any:  # fmt: skip
    """``dqmq/tiers_select``: each tier's configuration picked on routed hold-out images.

    With a one-tier router (the static policy's configuration), ``static/select``: the same
    pick for one design serving every image, the static baseline of the same machinery.
    """
    from codesign.flow.dqmq_select import select_for_router  # noqa: PLC0415
    from codesign.train.dqmq_finetune import tiered_predictor  # noqa: PLC0415

    sec = _section(cfg)
    train_apart, finetune = tier_trainers(cfg, seed, out / f"seed{seed}", net, data,
                                          train_cfg.batch_size)  # fmt: skip
    chosen, models, scores = select_for_router(
        sec, seed, (cfg.data.dataset.value, cfg.data.n_train), net, policy, router, routed,
        data, surrogate, train_apart, finetune,
    )  # fmt: skip
    atomic_write_json(out / f"seed{seed}" / report, scores)
    return tiered_predictor(models, chosen, router.route)


def _finetune(
    net: Any, tiers: Any, routed: Any, data: Any, sec: Any, train_cfg: Any, nets: Any = None
) -> Any:
    """Per-tier fine-tuned models (the flow's recipe: ``tier_finetune_recipe``)."""
    from codesign.flow.dqmq import tier_finetune_recipe  # noqa: PLC0415
    from codesign.train.dqmq_finetune import finetune_tiers  # noqa: PLC0415

    recipe = tier_finetune_recipe(sec, train_cfg.batch_size, train_cfg.seed)
    return finetune_tiers(net, tiers, routed, data.images, data.labels, nets=nets, **recipe)


def _with_batch(train_cfg: Any, batch_size: int) -> Any:
    import dataclasses  # noqa: PLC0415

    return dataclasses.replace(train_cfg, batch_size=batch_size)


def _fixed(net: Any, choice: Any) -> Any:
    from codesign.train.dqmq_eval import Decision  # noqa: PLC0415

    def predict(x: Any, f: Any) -> Decision:
        c = choice.expand(x.shape[0], -1)
        return Decision(net(x, c), choice=c)

    return predict


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: mean and std over seeds of clean/corrupted accuracy, bits and cost."""
    per: dict[str, dict[int, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in rows:
        if r["condition"] == "_train":
            continue
        key = "clean" if r["condition"] == "clean" else "corrupted"
        d = per[r["method"]][r["seed"]]
        d[f"{key}_accuracy"].append(r["accuracy"])
        d[f"{key}_cost"].append(r["cost"])
        d[f"{key}_bits"].append(r["mean_bits"])
        for hw in ("lut", "dsp", "cycles"):
            if hw in r:
                d[f"{key}_{hw}"].append(r[hw])
    out: dict[str, Any] = {}
    for method, seeds in per.items():
        stats: dict[str, Any] = {"seeds": sorted(seeds)}
        metrics = ("clean_accuracy", "corrupted_accuracy", "clean_cost", "corrupted_cost",
                   "clean_bits", "corrupted_bits", "corrupted_lut", "corrupted_dsp",
                   "corrupted_cycles")  # fmt: skip
        for metric in metrics:
            vals = [float(np.mean(s[metric])) for s in seeds.values() if s.get(metric)]
            if not vals:
                continue
            stats[metric] = {
                "mean": round(float(np.mean(vals)), 5),
                "std": round(float(np.std(vals)), 5),
                "per_seed": [round(v, 5) for v in vals],
            }
        out[method] = stats
    return out


def summary_markdown(summary: dict[str, Any], seeds: Sequence[int], cfg: FlowConfig) -> str:
    """The summary as a markdown table (mean +- std over seeds)."""
    sec = _section(cfg)
    lines = [
        f"DQMQ comparison: seeds {list(seeds)}, epochs {sec.epochs} (warm-up "
        f"{sec.warmup_epochs}), n_train {cfg.data.n_train}, n_test {cfg.data.n_test}, "
        f"cost model {sec.cost_model.value}, cost_target {sec.cost_target}, "
        f"candidates {sec.layer_candidates or sec.candidates}",
        "",
        "| method | clean acc | corrupted acc | corrupted cost | corrupted mean bits "
        "| LUT | DSP | cycles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = sorted(summary, key=lambda m: summary[m]["corrupted_cost"]["mean"])
    for m in order:
        s = summary[m]
        lines.append(
            f"| {m} | {_pm(s['clean_accuracy'])} | {_pm(s['corrupted_accuracy'])} | "
            f"{_pm(s['corrupted_cost'])} | {_pm(s['corrupted_bits'], 2)} | "
            f"{_hw(s, 'corrupted_lut')} | {_hw(s, 'corrupted_dsp')} | "
            f"{_hw(s, 'corrupted_cycles')} |"
        )
    return "\n".join(lines) + "\n"


def _hw(stats: dict[str, Any], key: str) -> str:
    return f"{stats[key]['mean']:.0f}" if key in stats else "-"


def _pm(stat: dict[str, float], digits: int = 4) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    """``accuracy_vs_severity.png`` and ``accuracy_vs_cost.png`` (means over seeds)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    point: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r["condition"] == "_train":
            continue
        acc[r["method"]][r["severity"]].append(r["accuracy"])
        if r["condition"] != "clean":
            point[r["method"]].append((r["cost"], r["accuracy"]))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m, by_sev in sorted(acc.items()):
        sev = sorted(by_sev)
        ax.plot(sev, [np.mean(by_sev[s]) for s in sev], marker="o", label=m)
    ax.set_xlabel("severity (0 = clean; mean over corruptions and seeds)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_severity.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m, pts in sorted(point.items()):
        c, a = zip(*pts, strict=True)
        ax.scatter([np.mean(c)], [np.mean(a)], label=m)
    ax.set_xlabel("expected cost (fraction of budget), corrupted test data")
    ax.set_ylabel("accuracy, corrupted test data")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_cost.png", dpi=120)
    plt.close(fig)
