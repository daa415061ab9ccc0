"""The flow steps and their registry.

Each step is ``step_x(state, cfg) -> state``: it reads its inputs from earlier artifacts
(``state.path("checkpoint")``), writes its outputs atomically under ``state.run_dir``,
registers them (``state.add_artifact``) and leaves a small JSON summary in
``state.results[<step name>]``. Heavy libraries (torch, brevitas, FINN) are imported inside
the step functions, so loading a config stays cheap.

The hardware steps (``compile``, ``simulate``, ``synth``) live in
:mod:`codesign.flow.hardware`.

Adding a step (as ``compile`` was added):

1. Add its config section to :class:`~codesign.flow.config.FlowConfig` (see that module).
2. Write ``step_compile(state, cfg)`` (in its own module; heavy imports inside the function)
   and register it in :data:`STEPS` as ``Step("compile", step_compile,
   sections=("compile",), reads=("qonnx",), writes=("compile_run", "compiled"))``.
   ``sections`` lists the config sections whose change must re-run the step; ``reads`` the
   artifacts it reads (``state.path("qonnx")``), so it runs after their writer and re-runs
   when their digest changes; ``writes`` every artifact it registers.
3. Add ``compile`` to ``run.steps`` in the flow files that use it (the runner orders the
   steps by their artifacts). Another step that writes the same artifact (a second
   trainer writing ``checkpoint``, a search writing ``qonnx``) replaces it in a flow
   without touching the steps that read it.

Artifacts (paths relative to the run folder):

==========  ==============================  ===============================================
step        artifact                        file
==========  ==============================  ===============================================
train       ``checkpoint``                  ``train/model.pt`` (``codesign.models.checkpoint``)
evaluate    ``evaluation``                  ``evaluate/accuracy.json`` (the flow's
                                            ``report.json`` is :mod:`codesign.flow.report`)
export      ``qonnx``                       ``qonnx/model.onnx`` (its digest covers the
                                            external data ``qonnx/model.onnx.data``)
compile     ``compile_run``, ``compiled``   ``compile/`` (a ``codesign compile`` run
                                            folder), ``compile/compiled.onnx``
simulate    ``design``                      ``compile/sized.onnx`` (FIFOs sized) or
                                            ``compile/compiled.onnx`` (``size_fifos: false``)
            ``fifo_depths``,                ``compile/folding_config.json``,
            ``fifo_sizing``                 ``compile/sim/fifo_sizing.json`` (when sized)
            ``sim_result``                  ``compile/sim/result.json``
synth       ``synth_report``                ``compile/synth/report.json``
freeze_tier ``checkpoint``                  ``train/model.pt`` (one DQMQ tier, frozen:
                                            :mod:`codesign.flow.tier_points`)
==========  ==============================  ===============================================

The DQMQ steps (``train_dqmq``, ``tiers``, ``deploy_tiers``) are documented in
:mod:`codesign.flow.dqmq`, ``feedback`` in :mod:`codesign.flow.feedback` and
``feedback_tiers`` in :mod:`codesign.flow.tier_points`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import zlib
from typing import TYPE_CHECKING, Any

from codesign.data.splits import load_split
from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.core import FlowState, Step
from codesign.flow.dqmq import step_deploy_tiers, step_tiers, step_train_dqmq
from codesign.flow.feedback import step_feedback
from codesign.flow.hardware import step_compile, step_simulate, step_synth
from codesign.flow.tier_points import step_feedback_tiers, step_freeze_tier
from codesign.io import atomic_write_json

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.models.arch import CnnArch

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "train/model.pt"
EVALUATION_FILE = "evaluate/accuracy.json"
QONNX_DIR = "qonnx"


def check_data_fits(arch: CnnArch, images: Tensor, labels: Tensor, dataset: str) -> None:
    """Check that ``arch`` takes ``images`` (``(N, C, H, W)``) and predicts all ``labels``.

    Raises:
        ConfigError: Image size, channels or class count differ from the architecture.
    """
    _, c, h, w = images.shape
    if (c, h, w) != tuple(arch.input_shape):
        raise ConfigError(
            f"{dataset} images are {c}x{h}x{w} but the model takes {arch.input_shape}; "
            f"set in_channels: {c} and input_size: {h} in model.arch"
        )
    n_classes = int(labels.max()) + 1
    if n_classes > arch.num_classes:
        raise ConfigError(
            f"{dataset} has {n_classes} classes but the model predicts {arch.num_classes}; "
            f"set num_classes: {n_classes} in model.arch"
        )


def step_train(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Train the configured CNN at fixed precision and save ``train/model.pt``."""
    import torch  # noqa: PLC0415

    from codesign.models.checkpoint import save_checkpoint  # noqa: PLC0415
    from codesign.models.cnn import build_cnn  # noqa: PLC0415
    from codesign.train.fixed import torch_threads, train_fixed  # noqa: PLC0415

    d, t = cfg.data, cfg.train
    images, labels = load_split(d.dataset.value, "train", d.n_train, cfg.run.seed)
    arch = cfg.model.build_arch()
    bits = cfg.model.build_bits(arch)
    check_data_fits(arch, images, labels, d.dataset.value)
    torch.manual_seed(cfg.run.seed)  # weight init; seeded here, never at import
    model = build_cnn(arch, bits)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model %s, %d parameters, bits %s", arch.widths, n_params, bits.describe())

    with torch_threads(cfg.run.torch_threads):
        stats = train_fixed(
            model,
            images,
            labels,
            epochs=t.epochs,
            lr=t.lr,
            batch_size=d.batch_size,
            seed=cfg.run.seed,
            optimizer=t.optimizer.value,
            weight_decay=t.weight_decay,
            momentum=t.momentum,
            lr_schedule=t.lr_schedule.value,
            on_batch=lambda done, total, _loss: state.report("train", done, total),
        )
    metrics = stats.to_dict()
    path = save_checkpoint(
        state.run_dir / CHECKPOINT_FILE,
        model,
        arch,
        bits,
        config=cfg.to_yaml_dict(),
        metrics=metrics,
    )
    state.add_artifact("checkpoint", path)
    state.results["train"] = {
        "n_train": d.n_train,
        "parameters": n_params,
        "bits": bits.describe(),
        **metrics,
    }
    log.info("trained in %.1f s", stats.seconds)
    return state


def step_evaluate(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Clean accuracy and accuracy under each corruption and severity (evaluate/accuracy.json).

    The flow's ``report.json`` (:mod:`codesign.flow.report`) takes these figures from the
    step's results.
    """
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    with torch_threads(cfg.run.torch_threads):
        return _evaluate(state, cfg)


def _evaluate(state: FlowState, cfg: FlowConfig) -> FlowState:
    import torch  # noqa: PLC0415

    from codesign.models.checkpoint import load_checkpoint  # noqa: PLC0415
    from codesign.train.fixed import evaluate_accuracy  # noqa: PLC0415

    ev = cfg.evaluate
    model = load_checkpoint(state.path("checkpoint"))
    images, labels = load_split(cfg.data.dataset.value, "test", cfg.data.n_test, cfg.run.seed)
    total = 1 + len(ev.corruptions) * len(ev.severities)
    state.report("evaluate", 0, total)
    clean = evaluate_accuracy(model, images, labels, ev.batch_size)
    log.info("clean accuracy %.4f on %d test images", clean, labels.numel())
    state.report("evaluate", 1, total)

    corrupted: list[dict[str, Any]] = []
    if ev.corruptions:
        from codesign.quality.corruptions import corrupt  # noqa: PLC0415

        for name in ev.corruptions:
            for severity in ev.severities:
                # A seed per (corruption, severity), independent of the list order.
                seed = zlib.crc32(f"{name}:{severity}".encode()) ^ cfg.run.seed
                gen = torch.Generator().manual_seed(seed)
                noisy = corrupt(images, name, severity, gen)  # (N, 1, H, W)
                acc = evaluate_accuracy(model, noisy, labels, ev.batch_size)
                corrupted.append({"corruption": name, "severity": severity, "accuracy": acc})
                log.info("%s severity %d: accuracy %.4f", name, severity, acc)
                state.report("evaluate", 1 + len(corrupted), total)

    report = {
        "flow": cfg.run.name,
        "dataset": cfg.data.dataset.value,
        "n_test": int(labels.numel()),
        "clean_accuracy": round(clean, 5),
        "corrupted": [{**c, "accuracy": round(c["accuracy"], 5)} for c in corrupted],
        "train": state.results.get("train"),
    }
    path = atomic_write_json(state.run_dir / EVALUATION_FILE, report)
    state.add_artifact("evaluation", path)
    state.results["evaluate"] = {k: report[k] for k in ("n_test", "clean_accuracy", "corrupted")}
    return state


def step_export(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Export the trained model to QONNX (``qonnx/model.onnx`` + external data)."""
    from codesign.models.checkpoint import load_checkpoint  # noqa: PLC0415
    from codesign.models.export import DATA_FILE, export_qonnx  # noqa: PLC0415
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    model = load_checkpoint(state.path("checkpoint"))
    chatter = io.StringIO()  # torch.onnx prints its progress; keep it in the log instead
    with torch_threads(cfg.run.torch_threads), contextlib.redirect_stdout(chatter):
        path = export_qonnx(model, state.run_dir / QONNX_DIR)
    log.debug("torch.onnx output:\n%s", chatter.getvalue())
    data = path.parent / DATA_FILE
    # The weights live in the external data file: they belong to the model's digest.
    state.add_artifact("qonnx", path, parts=[data] if data.exists() else [])
    state.results["export"] = {"qonnx": state.artifacts["qonnx"]}
    log.info("exported QONNX to %s", path)
    return state


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step(
            "train",
            step_train,
            sections=("data", "model", "train"),
            writes=("checkpoint",),
            description="train the CNN at fixed precision",
        ),
        Step(
            "train_dqmq",
            step_train_dqmq,
            sections=("data", "model", "dqmq"),
            writes=("switchable_checkpoint",),
            description="train the switchable CNN with its quality-aware bit-width policy",
        ),
        Step(
            "tiers",
            step_tiers,
            sections=("dqmq",),
            reads=("switchable_checkpoint",),
            writes=("tiers",),
            description="cluster the policy into K static tiers and a router",
        ),
        Step(
            "deploy_tiers",
            step_deploy_tiers,
            sections=("data", "compile", "simulate"),
            reads=("switchable_checkpoint", "tiers"),
            writes=("deploy_report",),
            description="compile, simulate (bit-exact) and synthesize every tier",
        ),
        Step(
            "evaluate",
            step_evaluate,
            sections=("data", "evaluate"),
            reads=("checkpoint",),
            writes=("evaluation",),
            description="clean and corrupted test accuracy",
        ),
        Step(
            "export",
            step_export,
            reads=("checkpoint",),
            writes=("qonnx",),
            description="export the trained model to QONNX",
        ),
        Step(
            "compile",
            step_compile,
            sections=("compile",),
            reads=("qonnx",),
            writes=("compile_run", "compiled"),
            description="compile the QONNX model to RTL with FINN",
        ),
        Step(
            "simulate",
            step_simulate,
            sections=("data", "simulate"),
            reads=("checkpoint", "compile_run", "compiled"),
            writes=("design", "fifo_depths", "fifo_sizing", "sim_result"),
            description="size FIFOs, simulate test images in Verilator, check bit-exactness",
        ),
        Step(
            "synth",
            step_synth,
            sections=("synth",),
            # The design simulate simulated: FIFO-sized there, or compile's own.
            reads=("compile_run", "design"),
            writes=("synth_report",),
            description="synthesize the design with Yosys",
        ),
        Step(
            "feedback",
            step_feedback,
            sections=("feedback",),
            writes=("cost_model",),
            description="measure proposed designs, record them, refit the cost model",
        ),
        Step(
            "freeze_tier",
            step_freeze_tier,
            sections=("model", "tier"),
            writes=("checkpoint",),
            description="freeze one DQMQ tier into a fixed-precision checkpoint",
        ),
        Step(
            "feedback_tiers",
            step_feedback_tiers,
            sections=("feedback", "model", "compile"),
            reads=("tiers",),
            writes=("proposals", "cost_model"),
            description="one cost-model feedback round on the DQMQ tiers",
        ),
    )
}
"""Every known step by name; ``run.steps`` picks them for one flow, the runner orders them."""
