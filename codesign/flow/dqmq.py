"""The DQMQ flow pieces: the ``train_dqmq`` step, tiers of a run, and the method comparison.

Artifacts (paths relative to the run folder):

============  ====================  ===========================================================
step          artifact              file
============  ====================  ===========================================================
train_dqmq    ``checkpoint``        ``dqmq/checkpoint.pt`` (switchable net, policy, resolved
                                    config, cost-model version; see ``codesign.train.dqmq_run``)
tiers         ``tiers``             ``dqmq/tiers.json`` (K BitConfigs, their choices, router);
                                    with ``dqmq.tier_finetune_epochs`` also
                                    ``dqmq/tier_models.pt`` (each tier's own fine-tuned
                                    weights, what ``codesign evaluate`` reports as
                                    ``dqmq/tiers_ft``; ``deploy_tiers`` deploys them)
deploy_tiers  ``deploy_report``     ``dqmq/deploy.json`` (per tier: routed share, accuracy,
                                    FINN estimates, Verilator FPS, Yosys resources; the
                                    stream's accuracy and cost); ``dqmq/tier<t>/compile/``
============  ====================  ===========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.core import FlowState
from codesign.io import atomic_write_json
from codesign.policy.options import TierSelect

if TYPE_CHECKING:
    from codesign.flow.dqmq_section import DqmqSection
    from codesign.models.arch import CnnArch
    from codesign.models.switchable import SwitchableCNN, SwitchSpace
    from codesign.train.dqmq_run import MixedData

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "dqmq/checkpoint.pt"
TIERS_FILE = "dqmq/tiers.json"
TIER_MODELS_FILE = "tier_models.pt"
"""Next to ``tiers.json``: the tiers' fine-tuned models (``dqmq.tier_finetune_epochs``)."""


def _section(cfg: FlowConfig) -> DqmqSection:
    if cfg.dqmq is None:
        raise ConfigError("this flow has no 'dqmq:' section; add one to train with DQMQ")
    return cfg.dqmq


def space_of(cfg: FlowConfig) -> tuple[CnnArch, SwitchSpace]:
    """The architecture and switch space a flow config describes."""
    from codesign.models.switchable import SwitchSpace  # noqa: PLC0415

    sec = _section(cfg)
    arch = cfg.model.build_arch()
    layers = sec.pairs_per_layer(arch.n_layers)
    space = SwitchSpace.per_layer(arch, layers, sec.input_bits, sec.input_candidates)
    space.validate(arch)
    return arch, space


def training_data(cfg: FlowConfig, seed: int) -> MixedData:
    """The flow's mixed-quality training subset with quality features."""
    from codesign.data.splits import load_split  # noqa: PLC0415
    from codesign.train.dqmq_run import mixed_data  # noqa: PLC0415

    sec = _section(cfg)
    images, labels = load_split(cfg.data.dataset.value, "train", cfg.data.n_train, seed)
    return mixed_data(images, labels, dict(sec.mix), list(sec.severities), seed)


def step_train_dqmq(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Train the switchable net and its quality-aware policy; write ``dqmq/checkpoint.pt``."""
    from codesign.policy.costs import DesignPricer  # noqa: PLC0415
    from codesign.train.dqmq_run import build_surrogate, train_method  # noqa: PLC0415
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    sec = _section(cfg)
    seed = cfg.run.seed
    arch, space = space_of(cfg)
    data = training_data(cfg, seed)
    surrogate = build_surrogate(sec.cost_model.value, arch, space, board=sec.board, fps=sec.fps)
    train_cfg = sec.train_config(seed, batch_size=cfg.data.batch_size)

    pricer = DesignPricer(arch, space, board=sec.board, fps=sec.fps, impl=sec.impl)
    every = max(1, (cfg.data.n_train // cfg.data.batch_size) // 4)

    def progress(done: int, total: int, metrics: dict[str, float]) -> None:
        state.report("train_dqmq", done, total)
        if done % every == 0 or done == total:
            log.info(
                "step %d/%d: loss %.4f acc %.3f mean bits %.2f cost %.4f LUT %.0f DSP %.0f",
                done, total, metrics["loss"], metrics["acc"], metrics["bits"],
                metrics["cost"], metrics.get("lut", float("nan")),
                metrics.get("dsp", float("nan")),
            )  # fmt: skip

    with torch_threads(cfg.run.torch_threads):
        ckpt = train_method(
            state.run_dir / CHECKPOINT_FILE,
            "dqmq",
            arch,
            space,
            surrogate,
            data,
            train_cfg,
            flow_config=cfg.to_yaml_dict(),
            on_batch=progress,
            price=pricer.price,
        )
    state.add_artifact("switchable_checkpoint", state.run_dir / CHECKPOINT_FILE)
    state.results["train_dqmq"] = {
        "cost_version": ckpt["cost_version"],
        **{k: v for k, v in ckpt["metrics"].items() if k != "epochs"},
        "last_epoch": ckpt["metrics"].get("epochs", [{}])[-1],
    }
    return state


def tier_finetune_recipe(sec: DqmqSection, batch_size: int, seed: int) -> dict[str, Any]:
    """How tiers are fine-tuned, the same in ``codesign evaluate`` and in the flow.

    ``dqmq.tier_finetune_epochs`` epochs at a tenth of ``dqmq.lr`` (keyword arguments of
    :func:`codesign.train.dqmq_finetune.finetune_tiers`).
    """
    return {"epochs": sec.tier_finetune_epochs, "lr": sec.lr / 10, "batch_size": batch_size,
            "seed": seed}  # fmt: skip


def train_tier_apart(
    choice: Any, folder: Path, cfg: FlowConfig, seed: int, data: MixedData
) -> SwitchableCNN:
    """A tier's static configuration trained from scratch like a uniform baseline.

    ``dqmq.tier_train_epochs`` epochs of the same loop at the fixed choice (no warm-up, all
    images), checkpointed (resumable) as ``folder/tier_<choice>.pt``; the same in
    ``codesign evaluate`` (``dqmq/tiers_scratch``) and in the ``tiers`` step.

    Returns:
        The trained switchable network (run it at ``choice`` or freeze it there).
    """
    from codesign.train.dqmq_run import build_surrogate, load_dqmq, train_method  # noqa: PLC0415

    sec = _section(cfg)
    arch, space = space_of(cfg)
    fixed = tuple(int(c) for c in choice)
    train_cfg = sec.train_config(
        seed,
        fixed_choice=fixed,
        warmup_epochs=0,
        finetune_epochs=0,
        epochs=sec.tier_train_epochs,
        batch_size=cfg.data.batch_size,
    )
    surrogate = build_surrogate(sec.cost_model.value, arch, space, board=sec.board, fps=sec.fps)
    path = Path(folder) / f"tier_{'-'.join(str(c) for c in fixed)}.pt"
    train_method(path, "tier", arch, space, surrogate, data, train_cfg,
                 flow_config=cfg.to_yaml_dict())  # fmt: skip
    return load_dqmq(path)[0]


def tier_trainers(
    cfg: FlowConfig, seed: int, folder: Path, net: SwitchableCNN, data: MixedData, batch_size: int
) -> tuple[Callable[[list[int]], Any], Callable[[Any, list[int], Any, int], Any]]:
    """``(train_apart, finetune)`` for ``dqmq.tier_select``: the tiers' own training.

    ``train_apart(choice)`` is :func:`train_tier_apart` (cached per choice; checkpoints in
    ``folder``); ``finetune(network, choice, own_mask, tier_id)`` tunes it on the routed
    images by :func:`tier_finetune_recipe`, seeded by ``tier_id``.
    """
    import numpy as np  # noqa: PLC0415

    from codesign.train.dqmq_finetune import finetune_tiers  # noqa: PLC0415

    sec = _section(cfg)
    nets: dict[tuple[int, ...], SwitchableCNN] = {}

    def train_apart(choice: list[int]) -> SwitchableCNN:
        key = tuple(int(c) for c in choice)
        if key not in nets:
            nets[key] = train_tier_apart(key, folder, cfg, seed, data)
        return nets[key]

    def finetune(source: Any, choice: list[int], own: Any, tier: int) -> Any:
        recipe = tier_finetune_recipe(sec, batch_size, seed)
        return finetune_tiers(net, np.array([choice]), own, data.images, data.labels,
                              tier_ids=[tier], nets=[source], **recipe)[0]  # fmt: skip

    return train_apart, finetune


def make_tiers(checkpoint: Path, cfg: FlowConfig, k: int, out: Path) -> dict[str, Any]:
    """Cut ``k`` tiers and their router over the training data (``dqmq.router``); write JSON.

    With ``dqmq.tier_finetune_epochs`` each tier is also frozen and fine-tuned on the
    training images the router sends to it (:func:`tier_finetune_recipe`, the recipe of
    ``codesign evaluate``'s ``dqmq/tiers_ft``), into ``tier_models.pt`` next to ``out``.
    With ``dqmq.tier_train_epochs`` as well, each tier is first trained apart from scratch
    (:func:`train_tier_apart`) and that network is fine-tuned instead (evaluate's
    ``dqmq/tiers_scratch``).

    Returns:
        The JSON written: ``tiers`` (BitConfig dicts), ``choices``, ``share`` (fraction of the
        training data each tier's cluster holds), ``router``, ``cost``, ``fit_index`` (each
        tier's index in the clustering, before sorting by cost), ``tier_models`` (the
        fine-tuned models' file name, if any). With ``dqmq.tier_select`` (and both epoch
        options) each tier's deployed choice is picked like evaluate's
        ``dqmq/tiers_select`` (:func:`codesign.flow.dqmq_select.select_for_router`):
        ``choices`` are the picks, the router still routes by the policy's modes (its
        ``tiers``), and ``tier_select`` holds the candidates' scores.
    """
    import numpy as np  # noqa: PLC0415

    from codesign.flow.dqmq_router import cut_router  # noqa: PLC0415
    from codesign.train.dqmq_run import build_surrogate, load_dqmq  # noqa: PLC0415

    net, policy, _ = load_dqmq(checkpoint)
    seed = cfg.run.seed
    train = training_data(cfg, seed)
    sec = _section(cfg)
    surrogate = build_surrogate(
        sec.cost_model.value, net.arch, net.space, board=sec.board, fps=sec.fps
    )
    router = cut_router(sec.router, policy, train.features, net.space.sizes, k, seed)
    order = np.argsort([surrogate.discrete(t.tolist()) for t in router.tiers], kind="stable")
    router = router.take(order)
    tiers = router.tiers
    routed = router.route(train.features.double().numpy())
    result = {
        "checkpoint": str(checkpoint),
        "k": int(len(tiers)),
        **_deployed(net.space, surrogate, tiers),
        "share": [round(float(np.mean(routed == i)), 4) for i in range(len(tiers))],
        "router": router.to_dict(),
        "cost_version": surrogate.version,
        "fit_index": [int(i) for i in order],
    }
    if sec.tier_finetune_epochs > 0:
        from codesign.train.dqmq_finetune import finetune_tiers, save_tier_models  # noqa: PLC0415

        if sec.tier_select is not TierSelect.MODE:  # evaluate's dqmq/tiers_select
            from codesign.flow.dqmq_select import select_for_router  # noqa: PLC0415

            train_apart, finetune = tier_trainers(cfg, seed, Path(out).parent, net, train,
                                                  cfg.data.batch_size)  # fmt: skip
            chosen, models, report = select_for_router(
                sec, seed, (cfg.data.dataset.value, cfg.data.n_train), net, policy, router,
                routed, train, surrogate, train_apart, finetune, tier_ids=order,
            )  # fmt: skip
            result.update(_deployed(net.space, surrogate, chosen))
            result["tier_select"] = report
            result["tier_weights"] = (
                f"selected ({sec.tier_select.value}), trained apart, fine-tuned"
            )
            tiers = chosen
        else:
            nets = None
            if sec.tier_train_epochs > 0:
                nets = [train_tier_apart(c, Path(out).parent, cfg, seed, train) for c in tiers]
            models = finetune_tiers(net, tiers, routed, train.images, train.labels,
                                    **tier_finetune_recipe(sec, cfg.data.batch_size, seed),
                                    tier_ids=order, nets=nets)  # fmt: skip
            result["tier_weights"] = "trained apart, fine-tuned" if nets else "fine-tuned"
        save_tier_models(Path(out).parent / TIER_MODELS_FILE, models, tiers)
        result["tier_models"] = TIER_MODELS_FILE
    atomic_write_json(out, result)
    log.info("tiers: %s", ", ".join(result["describe"]))
    return result


def _deployed(space: SwitchSpace, surrogate: Any, choices: Any) -> dict[str, Any]:
    """``tiers``, ``describe``, ``choices`` and ``cost`` of the tiers' deployed choices."""
    rows = [[int(c) for c in t] for t in choices]
    return {
        "tiers": [space.config(t).to_dict() for t in rows],
        "describe": [space.config(t).describe() for t in rows],
        "choices": rows,
        "cost": [round(surrogate.discrete(t), 5) for t in rows],
    }


def step_tiers(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Cut ``dqmq.tiers`` static tiers and the router from the checkpoint (``dqmq/tiers.json``)."""
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    with torch_threads(cfg.run.torch_threads):
        result = make_tiers(
            state.path("switchable_checkpoint"),
            cfg,
            _section(cfg).tiers,
            state.run_dir / TIERS_FILE,
        )
    tiers_path = state.run_dir / TIERS_FILE
    parts = [tiers_path.parent / result["tier_models"]] if "tier_models" in result else []
    state.add_artifact("tiers", tiers_path, parts=parts)
    state.results["tiers"] = {k: result[k] for k in ("k", "describe", "cost", "share")}
    state.results["tiers"]["fine_tuned"] = bool(parts)
    return state


def step_deploy_tiers(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Compile, simulate (bit-exact) and, with a ``synth:`` section, synthesize every tier.

    Writes ``dqmq/deploy.json``: per tier its share of the routed test stream, accuracy on
    its own inputs, FINN estimates, Verilator cycles/FPS and Yosys resources; and the whole
    stream's accuracy and mean cost. If the tiers step fine-tuned the tiers
    (``tier_models`` in ``tiers.json``), those models are what is deployed and measured;
    otherwise the switchable network's shared weights at each tier's precisions.
    """
    import json  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from codesign.data.splits import load_split  # noqa: PLC0415
    from codesign.flow.dqmq_deploy import deploy_table, deploy_tier  # noqa: PLC0415
    from codesign.policy.quality_router import router_from_dict  # noqa: PLC0415
    from codesign.quality import quality_features  # noqa: PLC0415
    from codesign.train.dqmq_finetune import load_tier_models  # noqa: PLC0415
    from codesign.train.dqmq_run import load_dqmq  # noqa: PLC0415
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    if cfg.compile is None or cfg.simulate is None:
        raise ConfigError("step 'deploy_tiers' needs 'compile:' and 'simulate:' sections")
    net, _, _ = load_dqmq(state.path("switchable_checkpoint"))
    tiers_json = json.loads(state.path("tiers").read_text())
    router = router_from_dict(tiers_json["router"])  # routes by the modes as cut
    choices = np.asarray(tiers_json["choices"], dtype=np.int64)  # (T, L) what is deployed
    models = None
    if tiers_json.get("tier_models"):
        models = load_tier_models(
            state.path("tiers").parent / tiers_json["tier_models"], net.arch, choices
        )
    images, labels = load_split(cfg.data.dataset.value, "test", cfg.data.n_test, cfg.run.seed)
    with torch_threads(cfg.run.torch_threads):
        routed = router.route(quality_features(images).double().numpy())  # (N,)
        table = deploy_table(net, choices, routed, images, labels, tiers_json["cost"],
                             models=models)  # fmt: skip
        table["weights"] = (
            f"per tier: {tiers_json.get('tier_weights', 'fine-tuned')}"
            if models is not None
            else "shared"
        )
        frames_n = cfg.simulate.frames
        for t, choice in enumerate(choices):
            state.report("deploy_tiers", t, len(choices))
            mine = np.nonzero(routed == t)[0]
            idx = mine[:frames_n] if mine.size else np.arange(min(frames_n, len(labels)))
            row = deploy_tier(
                net,
                choice.tolist(),
                state.run_dir / "dqmq" / f"tier{t}",
                cfg.compile.build(),
                images[idx],
                synth=cfg.synth is not None,
                synth_timeout_s=cfg.synth.timeout_s if cfg.synth is not None else 600.0,
                model=models[t] if models is not None else None,
            )
            table["tiers"][t].update(row)
    state.report("deploy_tiers", len(choices), len(choices))
    path = atomic_write_json(state.run_dir / "dqmq" / "deploy.json", table)
    state.add_artifact("deploy_report", path)
    state.results["deploy_tiers"] = table
    return state
