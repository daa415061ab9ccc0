"""Benchmark: DQMQ training throughput vs fixed-precision training, quickstart network.

One process, one torch thread, the same data (``N_IMAGES`` Fashion-MNIST training images,
mixed quality), batch size and number of epochs:

* ``fixed``: the family's plain W4A4 model trained by :func:`codesign.train.fixed.train_fixed`;
* ``dqmq_warmup``: a sandwich warm-up epoch of the switchable net (lowest + highest + random
  precision: three forward/backward passes per batch);
* ``dqmq_joint``: a joint epoch (policy, per-sample precisions, cost and REINFORCE terms);
* ``dqmq_joint_loo``: a joint epoch with the Lagrangian budget, the graded reward and the
  leave-one-out baseline (the default objective of ``flows/dqmq.yaml``: a second sample per
  image, run forward only, with the weights quantized once per step and the images whose
  second sample repeats the first skipped).

Each figure is images/s and seconds per epoch; ``ratio`` is DQMQ's epoch time over the fixed
one (goal: <= 4). Runs are interleaved (fixed, DQMQ, fixed, ...) and the best of
``REPEATS`` is kept, so load from other processes on a shared machine biases both alike.
``cpu_ratio`` is the same ratio of the process's CPU time (one torch thread), which the
other processes on a loaded machine disturb much less than the wall time.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

N_IMAGES = 4096
BATCH = 64
REPEATS = 2


def run(out_dir: Path) -> dict:
    """Measure the three epoch kinds; return images/s, s/epoch and the ratios."""
    import torch

    from codesign.data.splits import load_split
    from codesign.models.arch import QUICKSTART_ARCH
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import build_cnn
    from codesign.models.switchable import SwitchableCNN, SwitchSpace
    from codesign.policy.costs import bitops_surrogate
    from codesign.policy.policy import QualityPolicy
    from codesign.train.dqmq import DqmqConfig, train_dqmq
    from codesign.train.dqmq_run import mixed_data
    from codesign.train.fixed import torch_threads, train_fixed

    images, labels = load_split("fashion_mnist", "train", N_IMAGES, 0)
    mix = {"clean": 0.4} | {
        c: 0.06
        for c in (
            "gaussian_noise", "shot_noise", "impulse_noise", "gaussian_blur", "defocus_blur",
            "motion_blur", "jpeg_compression", "contrast", "brightness", "pixelate",
        )
    }  # fmt: skip
    data = mixed_data(images, labels, mix, [1, 2, 3, 4, 5], 0)
    space = SwitchSpace.uniform(QUICKSTART_ARCH, [(2, 2), (3, 3), (4, 4), (8, 8)])
    surrogate = bitops_surrogate(QUICKSTART_ARCH, space)
    base = DqmqConfig(epochs=1, warmup_epochs=1, batch_size=BATCH, seed=0)
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], None]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
        best_cpu[name] = min(best_cpu.get(name, float("inf")), time.process_time() - c0)

    def fixed() -> None:
        torch.manual_seed(0)
        model = build_cnn(QUICKSTART_ARCH, BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4))
        train_fixed(model, data.images, data.labels, epochs=1, lr=2e-3, batch_size=BATCH, seed=0)

    loo = dataclasses.replace(base, warmup_epochs=0, budget="lagrangian", cost_target=0.2,
                              pg_reward="nll", pg_baseline="loo")  # fmt: skip

    def dqmq(warmup: bool, cfg: DqmqConfig | None = None) -> None:
        torch.manual_seed(0)
        net = SwitchableCNN(QUICKSTART_ARCH, space)
        policy = QualityPolicy(data.features.shape[1], space.sizes)
        if cfg is None:
            cfg = base if warmup else dataclasses.replace(base, warmup_epochs=0)
        train_dqmq(net, policy, surrogate, data.images, data.labels, data.features, cfg)

    with torch_threads(1):
        for _ in range(REPEATS):
            timed("fixed", fixed)
            timed("dqmq_warmup", lambda: dqmq(True))
            timed("dqmq_joint", lambda: dqmq(False))
            timed("dqmq_joint_loo", lambda: dqmq(False, loo))
    out = {
        name: {
            "seconds_per_epoch": round(s, 3),
            "cpu_seconds_per_epoch": round(best_cpu[name], 3),
            "images_per_s": round(N_IMAGES / s, 1),
        }
        for name, s in best.items()
    }
    out["ratio_warmup"] = round(best["dqmq_warmup"] / best["fixed"], 2)
    out["ratio_joint"] = round(best["dqmq_joint"] / best["fixed"], 2)
    out["ratio_joint_loo"] = round(best["dqmq_joint_loo"] / best["fixed"], 2)
    for kind in ("warmup", "joint", "joint_loo"):
        out[f"cpu_ratio_{kind}"] = round(best_cpu[f"dqmq_{kind}"] / best_cpu["fixed"], 2)
    out["setup"] = {"images": N_IMAGES, "batch": BATCH, "threads": 1, "repeats": REPEATS,
                    "candidates": "W2A2 W3A3 W4A4 W8A8", "fixed": "W4A4"}  # fmt: skip
    return out
