"""DQMQ tiers as ordinary design points, and as proposals for the cost model's feedback.

Two steps join the DQMQ flow (``train_dqmq -> tiers -> deploy_tiers``) to the rest:

``freeze_tier``
    Writes the ``checkpoint`` artifact (``train/model.pt``) from one tier of a trained
    switchable network (``SwitchableCNN.freeze``), in place of ``train``. The steps that
    read a checkpoint (evaluate, export, compile, simulate, synth) then treat the tier like
    any fixed-precision model: a sweep puts the tiers next to uniform baselines, evaluated
    on the same clean and corrupted test data and measured by the same tools. The
    ``tier:`` section names the DQMQ checkpoint, the tier's choice and the checkpoint's
    SHA-256, so a point's config (and digest) changes when the checkpoint does. When the
    run's ``tiers`` step trained per-tier weights (``dqmq/tier_models.pt``), the section
    names that file and its SHA-256 too, and the point takes the tier's own weights: the
    model ``deploy_tiers`` deployed, not the shared weights.
``feedback_tiers``
    Writes the tiers as ``{arch, bits, fps}`` proposals (``dqmq/proposals.yaml``, the
    ``proposals`` artifact) and runs the cost model's feedback round on them
    (:func:`codesign.flow.feedback.step_feedback`), so the designs DQMQ chose recalibrate
    the model the next round of training loads (the ``cost_model`` artifact). Unlike the
    plain ``feedback`` step it reads the ``tiers`` artifact, so new tiers re-run it.

Example (a flow's steps)::

    run: {steps: [train_dqmq, tiers, deploy_tiers, feedback_tiers]}
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from codesign.errors import ConfigError
from codesign.flow.sections import Section
from codesign.io import atomic_write_text

if TYPE_CHECKING:
    from codesign.flow.config import FlowConfig
    from codesign.flow.core import FlowState

log = logging.getLogger(__name__)

__all__ = [
    "TierSection",
    "file_sha256",
    "step_feedback_tiers",
    "step_freeze_tier",
    "tier_proposals",
]

CHECKPOINT_FILE = "train/model.pt"  # where ``train`` writes its checkpoint, too
PROPOSALS_FILE = "dqmq/proposals.yaml"


class TierSection(Section):
    """The ``tier:`` section: which tier of which DQMQ checkpoint ``freeze_tier`` takes.

    Attributes:
        checkpoint: The DQMQ checkpoint (``RUN/dqmq/checkpoint.pt`` of a DQMQ flow).
        choice: The tier's candidate index per layer (``tiers.json``'s ``choices``).
        index: The tier's number in its ``tiers.json`` (a label; tiers are cheapest first).
        sha256: The checkpoint file's SHA-256; when given, the step refuses another file.
        models: The run's per-tier models (``dqmq/tier_models.pt``, written by the ``tiers``
            step with ``dqmq.tier_finetune_epochs``): when given, the tier's own trained
            weights are taken from it instead of freezing the shared weights.
        models_sha256: That file's SHA-256; when given, the step refuses another file.
    """

    checkpoint: Path
    choice: list[int] = Field(min_length=1)
    index: int = Field(default=0, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    models: Path | None = None
    models_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def step_freeze_tier(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Freeze the ``tier:`` section's tier into a plain checkpoint (``train/model.pt``).

    Raises:
        ConfigError: No ``tier:`` section, a missing or changed checkpoint, or a tier whose
            architecture or bits differ from the flow's ``model:`` section.
    """
    from codesign.models.checkpoint import save_checkpoint  # noqa: PLC0415
    from codesign.train.dqmq_run import load_dqmq  # noqa: PLC0415

    sec: TierSection | None = getattr(cfg, "tier", None)
    if sec is None:
        raise ConfigError("step 'freeze_tier' needs a 'tier:' section")
    path = _checked_file("tier.checkpoint", sec.checkpoint, sec.sha256, "run the DQMQ flow first")
    net, _, _ = load_dqmq(path)
    arch = cfg.model.build_arch()
    if net.arch != arch:
        raise ConfigError(
            f"tier.checkpoint {path} holds a network of another architecture than model.arch"
        )
    if len(sec.choice) != len(net.space.sizes):
        raise ConfigError(
            f"tier.choice has {len(sec.choice)} entries; the network has "
            f"{len(net.space.sizes)} layers"
        )
    bad = [i for i, (c, n) in enumerate(zip(sec.choice, net.space.sizes, strict=True)) if c >= n]
    if bad:
        raise ConfigError(f"tier.choice[{bad[0]}] is out of range for that layer's candidates")
    plain = net.freeze(sec.choice)
    weights = "shared"
    if sec.models is not None:  # the tier's own weights (fine-tuned, or trained apart)
        plain, weights = _tier_model(sec, arch, plain), "per tier"
    bits = cfg.model.build_bits(arch)
    if plain.bits.to_dict() != bits.to_dict():
        raise ConfigError(
            f"tier {sec.index} is {plain.bits.describe()} but model.bits says "
            f"{bits.describe()}; set model.bits to the tier's bits"
        )
    metrics = {"source": str(path), "tier": sec.index, "choice": list(sec.choice),
               "weights": weights}  # fmt: skip
    if sec.models is not None:
        metrics["models"] = str(sec.models)
    out = save_checkpoint(
        state.run_dir / CHECKPOINT_FILE,
        plain,
        arch,
        plain.bits,
        config=cfg.to_yaml_dict(),
        metrics=metrics,
    )
    state.add_artifact("checkpoint", out)
    state.results["freeze_tier"] = {"bits": plain.bits.describe(), **metrics}
    log.info("tier %d (%s) of %s frozen", sec.index, plain.bits.describe(), path)
    return state


def _checked_file(key: str, value: Any, sha256: str | None, hint: str) -> Path:
    """``value`` as a path that exists and, if ``sha256`` is given, still has that digest.

    Raises:
        ConfigError: The file is missing (``hint`` says how to make it) or has changed.
    """
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{key} {path} does not exist; {hint}")
    if sha256 is not None and file_sha256(path) != sha256:
        raise ConfigError(
            f"{key} {path} changed since this point was made (SHA-256 differs); "
            f"expand the sweep again"
        )
    return path


def _tier_model(sec: TierSection, arch: Any, frozen: Any) -> Any:
    """The tier's model from ``sec.models``, checked against the file's digest and its bits."""
    from codesign.train.dqmq_finetune import load_tier_model  # noqa: PLC0415

    path = _checked_file(
        "tier.models", sec.models, sec.models_sha256, "run the DQMQ flow's tiers step"
    )
    model = load_tier_model(path, arch, sec.choice, index=sec.index)
    if model.bits.to_dict() != frozen.bits.to_dict():
        raise ConfigError(f"tier.models {path}: tier {sec.index}'s bits differ from its choice")
    return model


def tier_proposals(tiers_json: Path, cfg: FlowConfig, out: Path) -> list[dict[str, Any]]:
    """Write the tiers of ``tiers_json`` as ``{arch, bits, fps, impl}`` designs (YAML) to ``out``.

    The FPS target is the flow's ``compile.fps`` (the target ``deploy_tiers`` folded the
    tiers for), else ``dqmq.fps``; ``impl`` is ``compile.impl``, the MVUs deployed.
    """
    data = json.loads(Path(tiers_json).read_text())
    arch = cfg.model.build_arch()
    fps = cfg.compile.fps if cfg.compile is not None and cfg.compile.fps else None
    if fps is None:
        fps = cfg.dqmq.fps if cfg.dqmq is not None else None
    if fps is None:
        raise ConfigError("step 'feedback_tiers' needs compile.fps (or dqmq.fps)")
    impl = str(cfg.compile.impl) if cfg.compile is not None else "dsp"
    if impl == "auto":
        raise ConfigError(
            "step 'feedback_tiers' measures designs with one MVU implementation, but "
            "compile.impl is 'auto'; set compile.impl to dsp or lut"
        )
    designs = [
        {
            "arch": arch.to_dict(),
            "bits": bits,
            "fps": float(fps),
            "seed": cfg.run.seed,
            "impl": impl,
        }
        for bits in data["tiers"]
    ]
    atomic_write_text(out, yaml.safe_dump(designs, sort_keys=False))
    return designs


def step_feedback_tiers(state: FlowState, cfg: FlowConfig) -> FlowState:
    """One feedback round of the cost model on the flow's DQMQ tiers.

    Writes ``dqmq/proposals.yaml`` (``proposals``) and, through the feedback step,
    ``feedback/<calibration>.json`` (``cost_model``) and ``feedback/round<N>.json``.
    """
    from codesign.flow.feedback import step_feedback  # noqa: PLC0415

    section = getattr(cfg, "feedback", None)
    if section is None:
        raise ConfigError("step 'feedback_tiers' needs a 'feedback:' section")
    if section.proposals is not None:
        raise ConfigError(
            "feedback.proposals is set, but step 'feedback_tiers' proposes the flow's tiers; "
            "drop feedback.proposals, or run the 'feedback' step instead"
        )
    designs = tier_proposals(state.path("tiers"), cfg, state.run_dir / PROPOSALS_FILE)
    state.add_artifact("proposals", state.run_dir / PROPOSALS_FILE)
    log.info("feedback on %d tier designs", len(designs))
    state = step_feedback(state, cfg)
    state.results["feedback_tiers"] = state.results["feedback"]
    return state
