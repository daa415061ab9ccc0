"""The flow's hardware steps on a model trained elsewhere (a search's finetuned winner).

``codesign run`` trains its own model; a search finetunes its winner from a supernet's
weights and wants the *same* hardware steps on that model: export, compile, simulate (FIFO
sizing and the bit-exact checks against FINN and Brevitas) and synth. :func:`model_hardware`
saves the model as the ``checkpoint`` artifact in the run folder and runs the named steps
from a step registry in order, each reading the artifacts the earlier ones wrote.

The registry is passed in (normally ``codesign.flow.steps.STEPS``, which only the faces
import), so the caller that composes it, e.g. the ``codesign search`` command, injects
``functools.partial(model_hardware, registry=STEPS)`` into the search.

Example::

    results = model_hardware(flow, model, Path("runs/x/hw/joint"), registry=STEPS)
    results["simulate"]["bit_exact"], results["synth"]["whole"]["lut"]
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.core import FlowState, Step

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

__all__ = ["HARDWARE_STEPS", "MODEL_CHECKPOINT", "model_hardware"]

HARDWARE_STEPS: tuple[str, ...] = ("export", "compile", "simulate", "synth")
"""The steps after training that turn a trained model into measured hardware."""

MODEL_CHECKPOINT = "train/model.pt"
"""Where the model is saved in the run folder (the path ``step_train`` writes)."""


def model_hardware(
    flow: FlowConfig,
    model: nn.Module,
    run_dir: Path,
    *,
    registry: Mapping[str, Step],
    steps: Sequence[str] = HARDWARE_STEPS,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``steps`` of ``registry`` with ``flow``'s settings on ``model``; return the results.

    Args:
        flow: The flow config whose sections the steps read (``compile``, ``simulate``...).
        model: A family model with ``arch`` and ``bits`` (``codesign.models.cnn.build_cnn``).
        run_dir: Run folder; the checkpoint and every step's output go there.
        registry: Step name -> :class:`~codesign.flow.core.Step`.
        steps: Step names, in an order where each reads only what earlier ones wrote.
        progress: ``progress(task, done, total)``.

    Returns:
        The steps' results (``state.results``), plus ``seconds`` per step.

    Raises:
        ConfigError: A step is unknown or reads an artifact no earlier step wrote.
    """
    from codesign.models.checkpoint import save_checkpoint  # noqa: PLC0415 (loads torch)

    plan = []
    have = {"checkpoint"}
    for name in steps:
        if name not in registry:
            raise ConfigError(f"unknown step {name!r}; known: {', '.join(sorted(registry))}")
        step = registry[name]
        missing = [a for a in step.reads if a not in have]
        if missing:
            raise ConfigError(f"step {name!r} reads {missing[0]!r}, which no earlier step writes")
        have.update(step.writes)
        plan.append(step)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = FlowState(run_dir=run_dir, progress=progress)
    path = save_checkpoint(
        run_dir / MODEL_CHECKPOINT, model, model.arch, model.bits, config=flow.to_yaml_dict()
    )
    state.add_artifact("checkpoint", path)
    seconds: dict[str, float] = {}
    chatter = io.StringIO()  # FINN and torch.onnx print; keep the terminal for progress bars
    with contextlib.redirect_stdout(chatter):
        for step in plan:
            t0 = time.perf_counter()
            state = step.fn(state, flow)
            seconds[step.name] = round(time.perf_counter() - t0, 1)
            log.info("%s: %s in %.1f s", run_dir, step.name, seconds[step.name])
    log.debug("tool output:\n%s", chatter.getvalue())
    return {**state.results, "seconds": seconds}
