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
2. Write ``step_compile(state, cfg)`` below (or in its own module, imported on use) and
   register it in :data:`STEPS` as
   ``Step("compile", step_compile, sections=("compile",), after=("export",))``.
   ``sections`` lists the config sections whose change must re-run the step; ``after`` the
   steps whose artifacts it reads (``state.path("qonnx")``), so it re-runs when they do.
3. Add ``compile`` to ``run.steps`` in the flow files that use it.

Artifacts (paths relative to the run folder):

==========  ==============================  ===============================================
step        artifact                        file
==========  ==============================  ===============================================
train       ``checkpoint``                  ``train/model.pt`` (see ``codesign.train``)
evaluate    ``report``                      ``report.json`` (the whole flow's report once
                                            the flow ends, see :mod:`codesign.flow.report`)
export      ``qonnx``, ``qonnx_data``       ``qonnx/model.onnx``, ``qonnx/model.onnx.data``
compile     ``compile_run``, ``compiled``   ``compile/`` (a ``codesign compile`` run
                                            folder), ``compile/compiled.onnx``
simulate    ``sim_result``                  ``compile/sim/result.json``
            ``fifo_sizing``,                ``compile/sim/fifo_sizing.json``,
            ``folding_config``              ``compile/folding_config.json`` (when sized;
                                            sizing rewrites ``compile/compiled.onnx``)
synth       ``synth_report``                ``compile/synth/report.json``
==========  ==============================  ===============================================
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import zlib
from typing import TYPE_CHECKING, Any

from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.dqmq import step_deploy_tiers, step_tiers, step_train_dqmq
from codesign.flow.hardware import step_compile, step_simulate, step_synth
from codesign.flow.runner import FlowState, Step
from codesign.io import atomic_write_json

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.models.arch import CnnArch

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
CHECKPOINT_FILE = "train/model.pt"
QONNX_DIR = "qonnx"


def load_split(dataset: str, split: str, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """A seeded random subset of ``n`` images of one dataset split.

    Args:
        dataset: Dataset name (``codesign.flow.config.DatasetName`` value).
        split: ``"train"`` or ``"test"``.
        n: Subset size; the whole split when ``n`` equals its size.
        seed: Seeds the subset choice.

    Returns:
        ``(images, labels)``: ``(n, 1, H, W)`` float32 in ``[0, 1]`` and ``(n,)`` int64.

    Raises:
        ConfigError: ``n`` exceeds the split.
        DatasetMissingError: The dataset is not installed.
    """
    import torch  # noqa: PLC0415

    from codesign.data import load_dataset  # noqa: PLC0415

    ds = load_dataset(dataset, split)
    total = len(ds)
    if n > total:
        option = "data.n_train" if split == "train" else "data.n_test"
        raise ConfigError(
            f"{option} is {n} but {dataset} has {total} {split} images; set {option} <= {total}"
        )
    if n < total:
        # Pick the subset on the uint8 arrays, so only n images are converted to float.
        gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
        idx = torch.randperm(total, generator=gen)[:n].sort().values.numpy()  # (n,)
        ds = dataclasses.replace(ds, images=ds.images[idx], labels=ds.labels[idx])
    return ds.tensors()  # (n, 1, H, W) float32 in [0, 1], (n,) int64


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

    from codesign.models.cnn import build_cnn  # noqa: PLC0415
    from codesign.train.checkpoint import save_checkpoint  # noqa: PLC0415
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
    """Report clean accuracy and accuracy under each corruption and severity (report.json)."""
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    with torch_threads(cfg.run.torch_threads):
        return _evaluate(state, cfg)


def _evaluate(state: FlowState, cfg: FlowConfig) -> FlowState:
    import torch  # noqa: PLC0415

    from codesign.train.checkpoint import load_checkpoint  # noqa: PLC0415
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
    path = atomic_write_json(state.run_dir / REPORT_FILE, report)
    state.add_artifact("report", path)
    state.results["evaluate"] = {k: report[k] for k in ("n_test", "clean_accuracy", "corrupted")}
    return state


def step_export(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Export the trained model to QONNX (``qonnx/model.onnx`` + external data)."""
    from codesign.models.export import DATA_FILE, export_qonnx  # noqa: PLC0415
    from codesign.train.checkpoint import load_checkpoint  # noqa: PLC0415
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    model = load_checkpoint(state.path("checkpoint"))
    chatter = io.StringIO()  # torch.onnx prints its progress; keep it in the log instead
    with torch_threads(cfg.run.torch_threads), contextlib.redirect_stdout(chatter):
        path = export_qonnx(model, state.run_dir / QONNX_DIR)
    log.debug("torch.onnx output:\n%s", chatter.getvalue())
    state.add_artifact("qonnx", path)
    if (path.parent / DATA_FILE).exists():
        state.add_artifact("qonnx_data", path.parent / DATA_FILE)
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
            description="train the CNN at fixed precision",
        ),
        Step(
            "evaluate",
            step_evaluate,
            sections=("data", "evaluate"),
            after=("train",),
            description="clean and corrupted test accuracy",
        ),
        Step(
            "export",
            step_export,
            after=("train",),
            description="export the trained model to QONNX",
        ),
        Step(
            "compile",
            step_compile,
            sections=("compile",),
            after=("export",),
            description="compile the QONNX model to RTL with FINN",
        ),
        Step(
            "simulate",
            step_simulate,
            sections=("data", "simulate"),
            after=("train", "compile"),
            description="size FIFOs, simulate test images in Verilator, check bit-exactness",
        ),
        Step(
            "synth",
            step_synth,
            sections=("synth",),
            # FIFO sizing in simulate rewrites the design that synth reads.
            after=("simulate",),
            description="synthesize the design with Yosys",
        ),
        Step(
            "train_dqmq",
            step_train_dqmq,
            sections=("data", "model", "dqmq"),
            description="train the switchable CNN with its quality-aware bit-width policy",
        ),
        Step(
            "tiers",
            step_tiers,
            sections=("dqmq",),
            after=("train_dqmq",),
            description="cluster the policy into K static tiers and a router",
        ),
        Step(
            "deploy_tiers",
            step_deploy_tiers,
            sections=("data", "compile", "simulate"),
            after=("tiers",),
            description="compile, simulate (bit-exact) and synthesize every tier",
        ),
    )
}
"""Every known step by name; ``run.steps`` picks and orders them for one flow."""
