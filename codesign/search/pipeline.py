"""The stages of an APQ search as resumable functions over a work folder.

``data -> supernet -> samples (fp32, quantized, held-out) -> predictors``. Each stage writes
its result atomically into the work folder (``supernet.pt``, ``samples.json``) and reads it
back when it is already there with the same settings, so a killed search resumes where it
stopped. Timings go into the returned objects for the benchmark and the closing report.

Example::

    data = load_sample_data("fashion_mnist", n_train=10000, n_val=2000, seed=0)
    net = supernet_stage(space, data, work, epochs=3, seed=0)
    samples = sample_stage(net, data, work, n_fp32=200, m_quant=48, n_held=32, qat_steps=60, seed=0)
    fp32, quant = predictor_stage(space, samples, seed=0)
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codesign.io import atomic_write_bytes, atomic_write_json
from codesign.search.predictor import AccuracyPredictor, encode_features, fit_predictor, transfer
from codesign.search.samples import SampleData, measure_fp32, measure_quantized
from codesign.search.space import SearchSpace
from codesign.search.supernet import Supernet, train_supernet

log = logging.getLogger(__name__)

__all__ = [
    "Samples",
    "load_sample_data",
    "predictor_stage",
    "sample_stage",
    "supernet_stage",
]

Progress = Callable[[str, int, int], None]


def load_sample_data(dataset: str, n_train: int, n_val: int, seed: int) -> SampleData:
    """Training, held-out and calibration images, all from the *training* split.

    The test split stays for the final measurement of the winners.
    """
    from codesign.data.splits import load_split  # noqa: PLC0415 (moves to data/ with #9)

    x, y = load_split(dataset, "train", n_train + n_val, seed)
    return SampleData(
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_val=x[n_train:],
        y_val=y[n_train:],
        calib=x[: min(500, n_train)],
    )


def supernet_stage(
    space: SearchSpace,
    data: SampleData,
    work: Path,
    *,
    epochs: int,
    seed: int,
    progress: Progress | None = None,
) -> tuple[Supernet, float]:
    """Train (or load) the supernet; return it and the seconds spent training it now."""
    path = work / "supernet.pt"
    settings = {"space": repr(space), "epochs": epochs, "seed": seed, "n": len(data.y_train)}
    torch.manual_seed(seed)
    net = Supernet(space)
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        if saved.get("settings") == json.dumps(settings):
            net.load_state_dict(saved["state_dict"])
            net.eval()
            log.info("supernet loaded from %s", path)
            return net, 0.0
    stats = train_supernet(
        net,
        data.x_train,
        data.y_train,
        epochs=epochs,
        seed=seed,
        on_batch=(lambda d, t: progress("supernet", d, t)) if progress else None,
    )
    buf = io.BytesIO()
    torch.save({"settings": json.dumps(settings), "state_dict": net.state_dict()}, buf)
    atomic_write_bytes(path, buf.getvalue())
    log.info("supernet: %d steps in %.1f s, loss %s", stats.steps, stats.seconds, stats.epoch_loss)
    return net, stats.seconds


@dataclass
class Samples:
    """Measured subnets (choice vectors and validation accuracies) and what they cost.

    Attributes:
        fp32_vectors: Subnets measured in fp32 (bits ignored).
        fp32_acc: Their accuracies.
        quant_vectors: Subnets measured after a short QAT finetune at their bits.
        quant_acc: Their accuracies.
        held_vectors: Held-out quantized subnets (predictor scoring only).
        held_acc: Their accuracies.
        seconds: Wall time per kind of sample (``fp32``, ``quant``, ``held``).
    """

    fp32_vectors: np.ndarray
    fp32_acc: np.ndarray
    quant_vectors: np.ndarray
    quant_acc: np.ndarray
    held_vectors: np.ndarray
    held_acc: np.ndarray
    seconds: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """JSON form (lists)."""
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Samples:
        """Read :meth:`to_json`'s output."""
        kw = {k: (np.asarray(v) if k != "seconds" else v) for k, v in data.items()}
        return cls(**kw)


def sample_stage(
    net: Supernet,
    data: SampleData,
    work: Path,
    *,
    n_fp32: int,
    m_quant: int,
    n_held: int,
    qat_steps: int,
    seed: int,
    progress: Progress | None = None,
) -> Samples:
    """Measure ``n_fp32`` fp32 subnets, ``m_quant`` + ``n_held`` short-QAT quantized subnets.

    Quantized samples are saved after each one (``samples.json``), so a killed run resumes.
    """
    space = net.space
    path = work / "samples.json"
    rng = np.random.default_rng(seed)
    fp32_vectors = space.sample_vectors(rng, n_fp32)
    quant_vectors = space.sample_vectors(rng, m_quant + n_held)
    state: dict[str, Any] = {"settings": None}
    settings = [n_fp32, m_quant, n_held, qat_steps, seed, repr(space)]
    if path.is_file():
        state = json.loads(path.read_text())
    if state.get("settings") != settings:
        state = {"settings": settings, "fp32_acc": None, "quant_acc": [], "seconds": {}}
    if state["fp32_acc"] is None:
        t0 = time.perf_counter()
        acc = measure_fp32(
            net,
            fp32_vectors,
            data,
            on_sample=(lambda d, t: progress("fp32 samples", d, t)) if progress else None,
        )
        state["fp32_acc"] = acc.tolist()
        state["seconds"]["fp32"] = time.perf_counter() - t0
        atomic_write_json(path, state)
    t0 = time.perf_counter()
    for i in range(len(state["quant_acc"]), len(quant_vectors)):
        acc_q = measure_quantized(net, quant_vectors[i], data, steps=qat_steps, seed=seed + i)
        state["quant_acc"].append(acc_q)
        state["seconds"]["quant"] = state["seconds"].get("quant", 0.0) + (time.perf_counter() - t0)
        t0 = time.perf_counter()
        atomic_write_json(path, state)
        if progress:
            progress("quantized samples", i + 1, len(quant_vectors))
    quant_acc = np.asarray(state["quant_acc"])
    per_q = state["seconds"].get("quant", 0.0) / max(1, len(quant_vectors))
    return Samples(
        fp32_vectors=fp32_vectors,
        fp32_acc=np.asarray(state["fp32_acc"]),
        quant_vectors=quant_vectors[:m_quant],
        quant_acc=quant_acc[:m_quant],
        held_vectors=quant_vectors[m_quant:],
        held_acc=quant_acc[m_quant:],
        seconds={
            "fp32": state["seconds"].get("fp32", 0.0),
            "quant": per_q * m_quant,
            "held": per_q * n_held,
        },
    )


def predictor_stage(
    space: SearchSpace,
    samples: Samples,
    *,
    seed: int,
    hidden: int = 400,
    epochs: int = 300,
) -> tuple[AccuracyPredictor, AccuracyPredictor, float]:
    """Train the fp32 predictor, then transfer it to the quantized samples.

    Returns:
        ``(fp32_predictor, quant_predictor, seconds)``.
    """
    t0 = time.perf_counter()
    x32 = encode_features(space, samples.fp32_vectors, quantized=False)
    torch.manual_seed(seed)
    fp32 = AccuracyPredictor(x32.shape[1], hidden=hidden)
    fit_predictor(fp32, x32, samples.fp32_acc, seed=seed, epochs=epochs)
    quant = transfer(fp32)
    xq = encode_features(space, samples.quant_vectors, quantized=True)
    fit_predictor(quant, xq, samples.quant_acc, seed=seed, epochs=epochs, reset_base=False)
    return fp32, quant, time.perf_counter() - t0
