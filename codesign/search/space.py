"""The APQ search space: depth, width (pruning), kernel, bits and MVU implementation.

A network of the CNN family is grouped into *stages* of equal resolution. Stage ``s`` holds
``depths[s]`` conv layers; its first layer has stride 2 (the family down-samples with stride-2
convolutions, never max-pool, so every layer stays an RTL node), the others stride 1. Every
layer *slot* (``max_depth`` per stage) has its own kept channel count (``width``: the pruning
axis, channels kept out of the stage's ``max_width``), odd kernel, weight and activation
bit-width and MVU implementation; the classifier has a weight bit-width and an implementation.

An :class:`Arch` holds a value for every slot, active or not (once-for-all keeps kernel and
expand ratio for all 20 layers the same way). That makes :meth:`SearchSpace.encode` /
:meth:`SearchSpace.decode` a bijection between the archs of a space and the integer vectors of
choice indices in its box, and the vector has the same length for every point. Slots beyond a
stage's depth do not exist in the built network: :meth:`SearchSpace.to_cnn_arch` skips them and
the predictor's features zero them.

Torch-free: loading a space, encoding and pricing do not import torch.

Example:
    >>> space = SearchSpace.default()
    >>> arch = space.largest()
    >>> space.decode(space.encode(arch)) == arch
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.bits import ALLOWED_BITS, BitConfig, ImplChoice, LayerBits

__all__ = ["Arch", "SearchSpace", "StageChoices"]


def _choices(values: Sequence[int], what: str, *, odd: bool = False) -> tuple[int, ...]:
    out = tuple(values)
    if not out:
        raise ConfigError(f"search space: {what} needs at least one choice")
    if len(set(out)) != len(out):
        raise ConfigError(f"search space: {what} lists a value twice: {list(out)}")
    for v in out:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"search space: {what} must be ints >= 1, got {v!r}")
        if odd and v % 2 == 0:
            raise ConfigError(
                f"search space: {what} {v} is even; the family needs odd kernels (same padding)"
            )
    return tuple(sorted(out))


@dataclass(frozen=True)
class StageChoices:
    """The choices of one stage.

    Attributes:
        depths: Conv layers the stage may have (e.g. ``(1, 2)``); the first has stride 2.
        widths: Output channels a layer may keep (the largest is the stage's full width).
        kernels: Odd kernel sizes a layer may have.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    kernels: tuple[int, ...] = (3,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", _choices(self.depths, "stage depths"))
        object.__setattr__(self, "widths", _choices(self.widths, "stage widths"))
        object.__setattr__(self, "kernels", _choices(self.kernels, "stage kernels", odd=True))

    @property
    def max_depth(self) -> int:
        """Layer slots of the stage."""
        return self.depths[-1]

    @property
    def max_width(self) -> int:
        """Full (unpruned) width of the stage's layers."""
        return self.widths[-1]


@dataclass(frozen=True)
class Arch:
    """One point of a :class:`SearchSpace`: a network and its precisions.

    Per-slot tuples have one entry per layer slot (``SearchSpace.n_slots``: the slots of
    stage 0, then stage 1...), whether the slot is active or not.

    Attributes:
        depths: Active layers per stage.
        widths: Kept output channels per slot.
        kernels: Kernel size per slot.
        weight_bits: Weight bit-width per slot, then the classifier's.
        act_bits: Output activation bit-width per slot.
        impls: MVU implementation per slot, then the classifier's.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    kernels: tuple[int, ...]
    weight_bits: tuple[int, ...]
    act_bits: tuple[int, ...]
    impls: tuple[Impl, ...]

    def __post_init__(self) -> None:
        for name in ("depths", "widths", "kernels", "weight_bits", "act_bits", "impls"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "impls", tuple(Impl(i) for i in self.impls))

    def to_dict(self) -> dict[str, list]:
        """A JSON-friendly dict (:meth:`from_dict` reads it back)."""
        return {
            "depths": list(self.depths),
            "widths": list(self.widths),
            "kernels": list(self.kernels),
            "weight_bits": list(self.weight_bits),
            "act_bits": list(self.act_bits),
            "impls": [i.value for i in self.impls],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Arch:
        """Parse :meth:`to_dict`'s output (check it against a space with ``space.check``)."""
        keys = {"depths", "widths", "kernels", "weight_bits", "act_bits", "impls"}
        if not isinstance(data, dict) or set(data) != keys:
            raise ConfigError(f"arch must be a mapping with keys {', '.join(sorted(keys))}")
        try:
            return cls(**{k: tuple(v) for k, v in data.items()})
        except ValueError as err:
            raise ConfigError(f"arch: {err}") from None


@dataclass(frozen=True)
class SearchSpace:
    """The space: stage choices and the per-layer precision and implementation choices.

    Attributes:
        stages: Choices of each stage, input to output.
        weight_bits: Weight bit-widths a layer may take (each in ``ALLOWED_BITS``).
        act_bits: Activation bit-widths a layer may take (each in ``ALLOWED_BITS``).
        impls: MVU implementations a layer may take. ``lut`` compiles only where the LUT MVU
            (issue #12) is available; leave it out of the space until then.
        input_bits: Bit-width of the input quantizer (fixed).
        num_classes: Classifier outputs.
        in_channels: Input image channels.
        input_size: Input height = width.
    """

    stages: tuple[StageChoices, ...]
    weight_bits: tuple[int, ...] = (2, 3, 4, 6, 8)
    act_bits: tuple[int, ...] = (2, 3, 4, 6, 8)
    impls: tuple[Impl, ...] = (Impl.DSP,)
    input_bits: int = 8
    num_classes: int = 10
    in_channels: int = 1
    input_size: int = 28
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # Derived once (the search decodes thousands of vectors a second): entry choices, their
    # counts, and a (entries, max choices) value table for a vectorised decode.
    _choices: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    _card: np.ndarray = field(init=False, repr=False, compare=False)
    _table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ConfigError("search space: at least one stage is needed")
        for what in ("weight_bits", "act_bits"):
            values = _choices(getattr(self, what), what)
            bad = [b for b in values if b not in ALLOWED_BITS]
            if bad:
                raise ConfigError(
                    f"search space: {what} {bad[0]} is not buildable all-RTL; choose from "
                    f"{', '.join(map(str, ALLOWED_BITS))}"
                )
            object.__setattr__(self, what, values)
        if self.input_bits not in ALLOWED_BITS:
            raise ConfigError(f"search space: input_bits {self.input_bits} is not allowed")
        try:
            impls = tuple(dict.fromkeys(Impl(i) for i in self.impls))
        except ValueError:
            raise ConfigError(
                f"search space: impls {list(self.impls)} must be among "
                f"{', '.join(i.value for i in Impl)}"
            ) from None
        if not impls:
            raise ConfigError("search space: impls needs at least one choice")
        object.__setattr__(self, "impls", impls)
        offsets, start = [], 0
        for stage in self.stages:
            offsets.append(start)
            start += stage.max_depth
        object.__setattr__(self, "_offsets", tuple(offsets))
        choices = tuple(self._slot_choices())
        card = np.array([len(c) for c in choices], dtype=np.int64)
        card.setflags(write=False)
        table = np.zeros((len(choices), int(card.max())), dtype=np.int64)
        for k, c in enumerate(choices):
            table[k, : len(c)] = c
        table.setflags(write=False)
        object.__setattr__(self, "_choices", choices)
        object.__setattr__(self, "_card", card)
        object.__setattr__(self, "_table", table)
        # The smallest network must still reach the classifier with a non-empty feature map.
        self.to_cnn_arch(self.smallest())

    # ---- shape ------------------------------------------------------------------------

    @property
    def n_slots(self) -> int:
        """Conv layer slots (sum of the stages' largest depths)."""
        return self._offsets[-1] + self.stages[-1].max_depth

    def slot_stage(self, slot: int) -> int:
        """Stage index of ``slot``."""
        for s in range(len(self.stages) - 1, -1, -1):
            if slot >= self._offsets[s]:
                return s
        raise IndexError(slot)

    def stage_start(self, stage: int) -> int:
        """The first slot of ``stage`` (its stride-2 layer)."""
        return self._offsets[stage]

    def active_slots(self, arch: Arch) -> list[int]:
        """The slots that exist in ``arch``'s network, in forward order."""
        return [self._offsets[s] + i for s, d in enumerate(arch.depths) for i in range(d)]

    def active_mask(self, vectors: np.ndarray) -> np.ndarray:
        """Which slots exist in each network of ``vectors``: ``(N, n_slots + 1)`` bool.

        The last column is the classifier (always there).
        """
        vectors = np.atleast_2d(vectors)
        cols = []
        for s, stage in enumerate(self.stages):
            depth = np.asarray(stage.depths)[vectors[:, s]]  # (N,)
            cols += [depth > i for i in range(stage.max_depth)]
        cols.append(np.ones(vectors.shape[0], bool))
        return np.stack(cols, axis=1)

    def slot_choices(self) -> list[tuple[int, ...]]:
        """Choices of every vector entry, in :meth:`encode` order (values, not indices)."""
        return list(self._choices)

    def _slot_choices(self) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = [st.depths for st in self.stages]
        slot_stages = [self.slot_stage(k) for k in range(self.n_slots)]
        out += [self.stages[s].widths for s in slot_stages]
        out += [self.stages[s].kernels for s in slot_stages]
        out += [self.weight_bits] * (self.n_slots + 1)
        out += [self.act_bits] * self.n_slots
        out += [tuple(range(len(self.impls)))] * (self.n_slots + 1)
        return out

    def axis_slices(self) -> dict[str, slice]:
        """Where each field of :class:`Arch` lies in :meth:`encode`'s vector."""
        n_st, n = len(self.stages), self.n_slots
        lengths = {
            "depths": n_st,
            "widths": n,
            "kernels": n,
            "weight_bits": n + 1,
            "act_bits": n,
            "impls": n + 1,
        }
        out, start = {}, 0
        for name, length in lengths.items():
            out[name] = slice(start, start + length)
            start += length
        return out

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of choices of every vector entry (``int64``, length :attr:`vector_length`)."""
        return self._card

    @property
    def vector_length(self) -> int:
        """Length of :meth:`encode`'s vector: ``n_stages + 5 * n_slots + 2``."""
        return len(self.stages) + 5 * self.n_slots + 2

    # ---- encode / decode ------------------------------------------------------------------

    def encode(self, arch: Arch) -> np.ndarray:
        """The choice-index vector of ``arch`` (``int64``, fixed length).

        Raises:
            ConfigError: ``arch`` is not a point of this space.
        """
        self.check(arch)
        values: list[int] = [*arch.depths, *arch.widths, *arch.kernels]
        values += [*arch.weight_bits, *arch.act_bits]
        choices = self.slot_choices()
        idx = [choices[k].index(v) for k, v in enumerate(values)]
        idx += [self.impls.index(i) for i in arch.impls]
        return np.array(idx, dtype=np.int64)

    def decode(self, vector: Sequence[int] | np.ndarray) -> Arch:
        """The arch whose :meth:`encode` is ``vector``.

        Raises:
            ConfigError: Wrong length, or an index outside its entry's choices.
        """
        vec = np.asarray(vector)
        if vec.shape != (self.vector_length,):
            raise ConfigError(
                f"arch vector has shape {vec.shape}, this space needs ({self.vector_length},)"
            )
        card = self._card
        if not np.issubdtype(vec.dtype, np.integer) or (vec < 0).any() or (vec >= card).any():
            raise ConfigError("arch vector holds an index outside its entry's choices")
        vals = self._table[np.arange(len(card)), vec].tolist()  # choice values, in order
        n_st, n = len(self.stages), self.n_slots
        a, b, c, d, e = n_st, n_st + n, n_st + 2 * n, n_st + 3 * n + 1, n_st + 4 * n + 1
        return Arch(
            depths=tuple(vals[:a]),
            widths=tuple(vals[a:b]),
            kernels=tuple(vals[b:c]),
            weight_bits=tuple(vals[c:d]),
            act_bits=tuple(vals[d:e]),
            impls=tuple(self.impls[v] for v in vals[e:]),
        )

    def check(self, arch: Arch) -> None:
        """Raise :class:`ConfigError` unless ``arch`` is a point of this space."""
        n = self.n_slots
        lengths = {
            "depths": len(self.stages),
            "widths": n,
            "kernels": n,
            "weight_bits": n + 1,
            "act_bits": n,
            "impls": n + 1,
        }
        for name, want in lengths.items():
            if len(getattr(arch, name)) != want:
                raise ConfigError(
                    f"arch.{name} has {len(getattr(arch, name))} entries, the space needs {want}"
                )
        for k, (v, ch) in enumerate(
            zip(
                [*arch.depths, *arch.widths, *arch.kernels, *arch.weight_bits, *arch.act_bits],
                self.slot_choices(),
                strict=False,
            )
        ):
            if v not in ch:
                raise ConfigError(f"arch vector entry {k}: {v!r} is not one of {list(ch)}")
        for i in arch.impls:
            if i not in self.impls:
                raise ConfigError(f"arch impl {i.value} is not in the space's {self.impls}")

    # ---- named points and sampling -------------------------------------------------------

    def largest(self) -> Arch:
        """Deepest, widest, largest kernels, highest bits (every index at its last choice)."""
        return self.decode(self.cardinalities - 1)

    def smallest(self) -> Arch:
        """Shallowest, narrowest, smallest kernels, lowest bits (every index 0)."""
        return self.decode(np.zeros(self.vector_length, dtype=np.int64))

    def sample_vectors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random choice vectors, ``(n, vector_length)`` int64."""
        return rng.integers(0, self.cardinalities, size=(n, self.vector_length))

    def sample(self, rng: np.random.Generator) -> Arch:
        """One uniformly random point."""
        return self.decode(self.sample_vectors(rng, 1)[0])

    def with_uniform_bits(self, arch: Arch, weight: int, act: int) -> Arch:
        """``arch`` with every layer at ``weight``/``act`` bits (need not be in the space)."""
        return Arch(
            depths=arch.depths,
            widths=arch.widths,
            kernels=arch.kernels,
            weight_bits=(weight,) * (self.n_slots + 1),
            act_bits=(act,) * self.n_slots,
            impls=arch.impls,
        )

    # ---- to the model family --------------------------------------------------------------

    def to_cnn_arch(self, arch: Arch) -> CnnArch:
        """The family architecture of ``arch``'s active layers (kept widths, no prune ratio)."""
        stages = []
        for s, depth in enumerate(arch.depths):
            for i in range(depth):
                k = self._offsets[s] + i
                stages.append(
                    StageSpec(
                        width=arch.widths[k], kernel=arch.kernels[k], stride=2 if i == 0 else 1
                    )
                )
        return CnnArch(
            stages=tuple(stages),
            num_classes=self.num_classes,
            in_channels=self.in_channels,
            input_size=self.input_size,
        )

    def to_bit_config(self, arch: Arch) -> BitConfig:
        """The per-layer bit policy of ``arch``'s active layers, then the classifier.

        Each layer carries its MVU implementation (``impl``), so a flow built from it
        compiles every layer the way the search priced it.
        """
        impl = [ImplChoice(i.value) for i in arch.impls]
        layers = [
            LayerBits(arch.weight_bits[k], arch.act_bits[k], impl[k])
            for k in self.active_slots(arch)
        ]
        layers.append(LayerBits(arch.weight_bits[-1], None, impl[-1]))
        return BitConfig(input_bits=self.input_bits, layers=tuple(layers))

    def to_impls(self, arch: Arch) -> tuple[Impl, ...]:
        """MVU implementation of each active layer, then the classifier."""
        return (*(arch.impls[k] for k in self.active_slots(arch)), arch.impls[-1])

    def active_key(self, arch: Arch) -> tuple:
        """A hashable key equal for archs that build the same network and precisions."""
        act = self.active_slots(arch)
        return (
            arch.depths,
            tuple(arch.widths[k] for k in act),
            tuple(arch.kernels[k] for k in act),
            tuple(arch.weight_bits[k] for k in act) + (arch.weight_bits[-1],),
            tuple(arch.act_bits[k] for k in act),
            tuple(arch.impls[k] for k in act) + (arch.impls[-1],),
        )

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def default(cls) -> SearchSpace:
        """A small Fashion-MNIST space for 2 CPU cores: 3 stages of 1-2 layers, 4-32 channels."""
        return cls(
            stages=(
                StageChoices(depths=(1, 2), widths=(4, 6, 8), kernels=(3, 5)),
                StageChoices(depths=(1, 2), widths=(8, 12, 16), kernels=(3, 5)),
                StageChoices(depths=(1, 2), widths=(8, 16, 24, 32), kernels=(3,)),
            )
        )
