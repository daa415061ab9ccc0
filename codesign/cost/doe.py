"""The calibration's design of experiments: small family networks spanning the layer space.

Each :class:`CalibPoint` is one network (so one compile), whose nodes are the measured
layers: every MVAU, threshold, padding, sliding window, width converter and FIFO of it.
The axes are layer kinds (all of them in every network) x shapes (channels, kernel,
stride, feature size) x bits (weights, activations, input) x folding (the FPS target, from
fully folded to 64x parallel) x implementation (``impls``; ``lut`` needs the LUT MVU of the
low-bit hardware issue). Points are drawn by a seeded generator, so the list is the same
on every machine and a resumed calibration sees the same keys; every ``holdout_every``-th
point is held out of the fit (its shapes are its own: the held-out table is on shapes not
used in fitting). :func:`design_points` are the whole-design checks (the quickstart
network at 2/4/8 bits and mixed), synthesized whole as well.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from codesign.cost.cycles import layer_cycles
from codesign.cost.network import base_layers, predict_folding
from codesign.cost.protocol import Impl, LayerKind
from codesign.models.arch import QUICKSTART_ARCH, CnnArch, StageSpec
from codesign.models.bits import ALLOWED_BITS, BitConfig, LayerBits

__all__ = ["CalibPoint", "Role", "calibration_points", "design_points"]


class Role(StrEnum):
    """What a point is for."""

    FIT = "fit"
    HOLDOUT = "holdout"
    DESIGN = "design"  # whole-design check (also held out of the fit)


@dataclass(frozen=True)
class CalibPoint:
    """One network to compile and measure.

    Attributes:
        arch: The network.
        bits: Its bit-widths.
        fps: The compile's FPS target.
        board: Board name.
        role: Fit, held out, or a whole-design check.
        whole: Synthesize the whole design too (for the stitching overhead).
        impl: MVU implementation of every weight layer.
        seed: Weight initialization seed of the exported model.
        per_layer: Synthesize each node on its own (the layer samples of the fit).
    """

    arch: CnnArch
    bits: BitConfig
    fps: float
    board: str
    role: Role = Role.FIT
    whole: bool = False
    impl: Impl = Impl.DSP
    seed: int = 0
    per_layer: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the key is its digest)."""
        return {
            "arch": self.arch.to_dict(),
            "bits": self.bits.to_dict(),
            "fps": self.fps,
            "board": self.board,
            "role": self.role.value,
            "whole": self.whole,
            "impl": self.impl.value,
            "seed": self.seed,
            "per_layer": self.per_layer,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibPoint:
        """Parse :meth:`to_dict`'s output."""
        return cls(
            arch=CnnArch.from_dict(data["arch"]),
            bits=BitConfig.from_dict(data["bits"]),
            fps=float(data["fps"]),
            board=str(data["board"]),
            role=Role(data["role"]),
            whole=bool(data["whole"]),
            impl=Impl(data["impl"]),
            seed=int(data["seed"]),
            per_layer=bool(data.get("per_layer", True)),
        )

    @property
    def key(self) -> str:
        """A stable 16-hex-digit digest of the point."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bits(rng: random.Random, n_layers: int) -> BitConfig:
    layers = []
    for i in range(n_layers):
        act = rng.choice(ALLOWED_BITS) if i < n_layers - 1 else None
        layers.append(LayerBits(rng.choice(ALLOWED_BITS), act))
    return BitConfig(input_bits=rng.choice(ALLOWED_BITS), layers=tuple(layers))


def _fps_for(arch: CnnArch, bits: BitConfig, speedup: int, clock_ns: float, max_par: int) -> float:
    """An FPS target ``speedup`` x the fully folded one, lowered until PE*SIMD <= max_par."""
    base = base_layers(arch, bits)
    slow = max(layer_cycles(s) for s in predict_folding(base, 10**12))
    fastest = max(layer_cycles(s) for s in predict_folding(base, 1))
    while speedup > 1:
        target = max(fastest, slow // speedup)
        folded = predict_folding(base, target)
        par = max(s.pe * s.simd for s in folded if s.kind is LayerKind.MVAU)
        if par <= max_par:
            break
        speedup //= 2
    target = max(fastest, slow // max(1, speedup))
    return math.floor(1e9 / clock_ns / target * 1000) / 1000  # floor: never above target


def calibration_points(
    n: int,
    board: str = "pynq-z2",
    *,
    clock_ns: float = 10.0,
    seed: int = 0,
    holdout_every: int = 4,
    impls: Sequence[Impl] = (Impl.DSP,),
    max_parallel: int = 64,
    whole_every: int = 3,
    sizes: Sequence[int] = (6, 8, 10, 12),
    max_stages: int = 2,
) -> list[CalibPoint]:
    """``n`` random small networks (1-2 conv stages + classifier), deterministic in ``seed``.

    Args:
        n: Number of points.
        board: Board they are compiled for.
        clock_ns: The board's clock (for the FPS targets).
        seed: Generator seed.
        holdout_every: Every k-th point is held out of the fit.
        impls: MVU implementations to cycle through.
        max_parallel: Cap on PE x SIMD of any MVAU (Yosys time grows with it).
        whole_every: Every k-th point is also synthesized whole (stitching overhead).
        sizes: Input feature sizes to draw from (the quickstart's is 28).
        max_stages: Most conv stages per network (1..max, fewer more often).
    """
    rng = random.Random(seed)
    points = []
    for i in range(n):
        n_stages = rng.choice((1, 1, *range(2, max_stages + 1)))
        size = rng.choice(tuple(sizes))
        stages = []
        for _ in range(n_stages):
            kernel = rng.choice((1, 3, 3, 5))
            stride = rng.choice((1, 2)) if kernel > 1 else 2
            stages.append(StageSpec(rng.choice((2, 3, 4, 6, 8, 12, 16, 24, 32)), kernel, stride))
        arch = CnnArch(
            stages=tuple(stages),
            num_classes=rng.choice((2, 4, 5, 10)),
            in_channels=rng.choice((1, 2, 3)),
            input_size=size,
        )
        bits = _bits(rng, arch.n_layers)
        fps = _fps_for(arch, bits, rng.choice((1, 2, 4, 8, 16, 64)), clock_ns, max_parallel)
        role = (
            Role.HOLDOUT if holdout_every and i % holdout_every == holdout_every - 1 else Role.FIT
        )
        points.append(
            CalibPoint(
                arch=arch,
                bits=bits,
                fps=fps,
                board=board,
                role=role,
                whole=bool(whole_every) and i % whole_every == 0,
                # shifted every 4 points, so held-out points get every implementation too
                impl=impls[(i + i // 4) % len(impls)],
                seed=seed * 100_003 + i,
            )
        )
    return points


def design_points(
    board: str = "pynq-z2", fps: float = 10_000, per_layer: bool = False
) -> list[CalibPoint]:
    """The quickstart network at W2A2, W4A4, W8A8 and mixed bits, synthesized whole.

    Per-layer synthesis of these is off by default: they check whole designs, and their
    35 nodes each would cost more Yosys time than a dozen DoE networks.
    """
    n = QUICKSTART_ARCH.n_layers
    mixed = BitConfig(8, (LayerBits(4, 4), LayerBits(8, 6), LayerBits(2, 3), LayerBits(4, None)))
    configs = [BitConfig.uniform(n, b, b) for b in (2, 4, 8)] + [mixed]
    return [
        CalibPoint(
            QUICKSTART_ARCH,
            bits,
            fps,
            board,
            role=Role.DESIGN,
            whole=True,
            seed=0,
            per_layer=per_layer,
        )
        for bits in configs
    ]
