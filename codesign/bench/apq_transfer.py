"""Benchmark: does the fp32 -> quantization-aware predictor transfer help? (APQ, issue #15)

Trains a small Fashion-MNIST supernet of the default search space, measures fp32 subnets,
short-QAT quantized subnets and held-out quantized subnets, then scores transferred and
from-scratch predictors over a range of M (RMSE and Kendall's tau, three seeds each), at
three fit budgets (passes over the M samples).
Sized for 2 shared CPU cores (~11 min at load ~13: 130 quantized samples at ~3 s each, the
study 3 min); the work folder makes a killed run resume.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from codesign.search.pipeline import (
    load_sample_data,
    predictor_stage,
    sample_stage,
    supernet_stage,
)
from codesign.search.space import SearchSpace
from codesign.search.transfer import transfer_study

SETTINGS = {
    "dataset": "fashion_mnist",
    "n_train": 10000,
    "n_val": 2000,
    "supernet_epochs": 4,
    "n_fp32": 300,
    "m_quant": 96,
    "n_held": 34,
    "qat_steps": 60,
    "m_values": [4, 8, 16, 32, 48, 64, 96],
    "seeds": [0, 1, 2],
    "epochs": [30, 100, 300],
    "seed": 0,
}


def run(out_dir: Path, settings: dict | None = None) -> dict:
    """Run the study in ``out_dir``; return settings, stage times and the table."""
    s = {**SETTINGS, **(settings or {})}
    torch.set_num_threads(1)
    space = SearchSpace.default()
    t = {}
    t0 = time.perf_counter()
    data = load_sample_data(s["dataset"], s["n_train"], s["n_val"], s["seed"])
    t["data_s"] = time.perf_counter() - t0
    net, t["supernet_s"] = supernet_stage(
        space, data, out_dir, epochs=s["supernet_epochs"], seed=s["seed"]
    )
    samples = sample_stage(
        net,
        data,
        out_dir,
        n_fp32=s["n_fp32"],
        m_quant=s["m_quant"],
        n_held=s["n_held"],
        qat_steps=s["qat_steps"],
        seed=s["seed"],
    )
    t.update({f"samples_{k}_s": v for k, v in samples.seconds.items()})
    fp32, _, t["predictors_s"] = predictor_stage(space, samples, seed=s["seed"])
    from codesign.search.predictor import encode_features  # noqa: PLC0415

    t0 = time.perf_counter()
    tables = {}
    for epochs in s["epochs"]:  # the fit budget: passes over the M samples, for both kinds
        study = transfer_study(
            fp32,
            encode_features(space, samples.quant_vectors, quantized=True),
            samples.quant_acc,
            encode_features(space, samples.held_vectors, quantized=True),
            samples.held_acc,
            m_values=s["m_values"],
            seeds=s["seeds"],
            epochs=epochs,
        )
        tables[str(epochs)] = study.table()
    t["study_s"] = time.perf_counter() - t0
    return {
        "settings": s,
        "seconds": {k: round(v, 2) for k, v in t.items()},
        "fp32_acc_range": [float(samples.fp32_acc.min()), float(samples.fp32_acc.max())],
        "quant_acc_range": [float(samples.quant_acc.min()), float(samples.quant_acc.max())],
        "held_acc_std": float(samples.held_acc.std()),
        "tables_by_epochs": tables,
    }
