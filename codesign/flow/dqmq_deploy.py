"""Deploy DQMQ tiers: freeze, export, compile, simulate (bit-exact) and synthesize each tier.

:func:`deploy_tier` takes one static choice of a switchable network to hardware:
``SwitchableCNN.freeze`` -> ``export_qonnx`` -> ``compile_model`` -> Verilator ``simulate``
(checked against FINN's execution, and here also against the switchable network's own
outputs, in integers) -> optionally Yosys ``synthesize``. :func:`deploy_table` puts the
tiers side by side with the test images the router sends to each: each tier's accuracy on
its own inputs, its FPS and resources, and the whole stream's accuracy and mean cost.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.finn.config import CompileConfig
    from codesign.models.cnn import QuantCNN
    from codesign.models.switchable import SwitchableCNN

log = logging.getLogger(__name__)


def deploy_tier(
    net: SwitchableCNN,
    choice: list[int],
    out_dir: Path,
    compile_cfg: CompileConfig,
    frames: Tensor,
    *,
    synth: bool = False,
    synth_timeout_s: float = 600.0,
    model: QuantCNN | None = None,
) -> dict[str, Any]:
    """Take one tier to hardware and check it bit for bit.

    Args:
        net: The trained switchable network (eval mode).
        choice: The tier's candidate index per layer.
        out_dir: Folder for ``qonnx/``, ``compile/`` (a ``codesign compile`` run folder).
        compile_cfg: Board and FPS target.
        frames: ``(N, C, H, W)`` images to simulate (a few).
        synth: Also synthesize the whole design with Yosys.
        synth_timeout_s: Yosys time limit.
        model: The tier's own plain model (per-tier fine-tuned weights, at ``choice``'s
            bits) to deploy instead of ``net.freeze(choice)``; the RTL is then checked
            against it.

    Returns:
        ``bits``, ``weights`` (``shared`` or ``tier``), ``estimated_fps``, ``estimate``
        (FINN LUT/DSP/BRAM), ``sim`` (bit-exactness against FINN and against the Brevitas
        model deployed, ``bit_exact_vs_brevitas``, also named by kind:
        ``bit_exact_vs_switchable`` for the shared weights, ``bit_exact_vs_tier_model`` for a
        tier's own), ``synth`` (Yosys LUT/FF/BRAM18/DSP) when asked.

    Raises:
        ConfigError: ``model``'s bits are not ``choice``'s.
        SimMismatchError: The RTL differs from FINN's execution or from the network.
    """
    import torch  # noqa: PLC0415

    from codesign.errors import ConfigError  # noqa: PLC0415
    from codesign.finn.compile import compile_model  # noqa: PLC0415
    from codesign.finn.golden import integer_outputs, run_tail_affine  # noqa: PLC0415
    from codesign.flow.hardware import check_against_brevitas  # noqa: PLC0415
    from codesign.models.export import export_qonnx  # noqa: PLC0415
    from codesign.sim import simulate  # noqa: PLC0415

    if model is not None and model.bits != net.space.config(choice):
        raise ConfigError(
            f"the tier model is {model.bits.describe()}, the tier "
            f"{net.space.config(choice).describe()}"
        )
    plain = net.freeze(choice) if model is None else model.eval()
    with contextlib.redirect_stdout(io.StringIO()):  # torch.onnx prints its progress
        qonnx = export_qonnx(plain, out_dir / "qonnx")
    result = compile_model(qonnx, compile_cfg, out_dir / "compile")
    est = result.estimates
    images = frames.numpy().astype(np.float32)
    sim = simulate(result.run_dir, images)
    scale, offset = run_tail_affine(result.run_dir / "parent.onnx")
    with torch.no_grad():
        if model is None:
            y = net(frames, torch.tensor(choice)).numpy()  # the switchable net at this tier
        else:
            y = model(frames).numpy()  # the tier's own model
    exact_key = "bit_exact_vs_switchable" if model is None else "bit_exact_vs_tier_model"
    want = integer_outputs(y, scale.reshape(1, -1), offset.reshape(1, -1))
    got = sim.outputs.reshape(want.shape)
    check_against_brevitas(got, want)
    row: dict[str, Any] = {
        "bits": plain.bits.describe(),
        "choice": list(choice),
        "weights": "shared" if model is None else "tier",
        "compile_run": str(result.run_dir),
        "estimated_fps": round(est.fps, 1) if est else None,
        "estimate": (
            {k: round(v) for k, v in est.total.to_dict().items() if k in ("lut", "dsp", "bram18")}
            if est
            else None
        ),
        "sim": {
            "frames": int(images.shape[0]),
            "bit_exact_vs_finn": bool(sim.bit_exact),
            "bit_exact_vs_brevitas": True,  # the model deployed; check_against_brevitas raised
            exact_key: True,  # ... and which one it was
            "interval_cycles": sim.interval_cycles,
            "latency_cycles": sim.latency_cycles,
            "fps": round(sim.fps, 1),
        },
    }
    if synth:
        from codesign.synth.run import synthesize  # noqa: PLC0415

        report = synthesize(result.run_dir, per_layer=False, whole=True, timeout_s=synth_timeout_s)
        whole = report.whole
        if whole is not None:
            row["synth"] = {
                k: round(v)
                for k, v in whole.resources.to_dict().items()
                if k in ("lut", "ff", "bram18", "dsp")
            }
    return row


def deploy_table(
    net: SwitchableCNN,
    tiers: np.ndarray,
    routed: np.ndarray,
    images: Tensor,
    labels: Tensor,
    costs: list[float],
    *,
    models: Sequence[QuantCNN] | None = None,
) -> dict[str, Any]:
    """Each tier's share of the stream and accuracy on its own inputs, and the stream's.

    Args:
        net: The switchable network.
        tiers: ``(T, L)`` tier choices.
        routed: ``(N,)`` tier of each test image (the router's decision).
        images: ``(N, C, H, W)`` test images.
        labels: ``(N,)`` labels.
        costs: Normalized cost of each tier.
        models: Each tier's own model (per-tier weights) instead of ``net`` at its choice.
    """
    import torch  # noqa: PLC0415

    rows, correct = [], 0
    for t, choice in enumerate(tiers):
        idx = np.nonzero(routed == t)[0]
        acc = None
        if idx.size:
            with torch.no_grad():
                if models is None:
                    pred = net(images[idx], torch.tensor(choice.tolist())).argmax(dim=1)
                else:
                    pred = models[t].eval()(images[idx]).argmax(dim=1)
            hits = int((pred == labels[idx]).sum())
            correct += hits
            acc = round(hits / idx.size, 4)
        rows.append({"tier": t, "share": round(idx.size / len(routed), 4), "accuracy": acc,
                     "cost": round(costs[t], 5)})  # fmt: skip
    stream_cost = sum(r["share"] * r["cost"] for r in rows)
    return {
        "tiers": rows,
        "stream_accuracy": round(correct / len(routed), 4),
        "stream_cost": round(stream_cost, 5),
    }
