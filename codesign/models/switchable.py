"""Switchable-precision CNNs: one float weight set that runs at any candidate precision.

A :class:`SwitchableCNN` holds, for every weight layer of a :class:`CnnArch`, one shared
float weight tensor and one *option* per candidate :class:`LayerBits` of that layer. An
option of a conv stage is a family :class:`~codesign.models.cnn.ConvBlock`
(``QuantConv2d -> BatchNorm2d -> QuantReLU``) whose conv weight *is* the shared parameter;
what precision needs per bit-width is per option: the BatchNorm statistics and affine
parameters, and the learned scale (clipping level) of the activation quantizer. This is the
Any-Precision / AdaBits recipe. The weight quantizer is a max-abs per-tensor scale computed
from the shared weight, so it needs no per-bit-width state.

Precisions are chosen per sample: ``forward(x, choice)`` takes a ``(B, L)`` tensor of
candidate indices (one per layer), runs every option only on the samples that chose it and
scatters the results back, so a batch may mix precisions and costs about one forward pass.
An optional ``gate`` (``(B, L)``, value 1 with a gradient: a straight-through hard sample)
multiplies each layer's output, which is how the task loss reaches a bit-width policy.

A static choice freezes into a plain family model (:meth:`SwitchableCNN.freeze`): the
options' state is copied into ``build_cnn(arch, space.config(choice))``, whose outputs equal
the switchable model's at that choice exactly (same modules, same float operations), so it
exports and compiles like any trained model of the family.

Example:
    >>> import torch
    >>> from codesign.models.arch import QUICKSTART_ARCH
    >>> space = SwitchSpace.uniform(QUICKSTART_ARCH, [(2, 2), (4, 4), (8, 8)])
    >>> net = SwitchableCNN(QUICKSTART_ARCH, space).eval()
    >>> x = torch.rand(2, 1, 28, 28)
    >>> plain = net.freeze([1, 1, 1, 1])
    >>> torch.equal(plain(x), net(x, torch.ones(2, 4, dtype=torch.long)))
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import brevitas.nn as qnn
import torch
from torch import Tensor, nn

from codesign.errors import ConfigError
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig, LayerBits, check_bits
from codesign.models.cnn import ConvBlock, QuantCNN, build_cnn
from codesign.models.quant import InputQuant, WeightQuant

__all__ = ["SwitchSpace", "SwitchableCNN"]


@dataclass(frozen=True)
class SwitchSpace:
    """The candidate precisions of every weight layer, and the input bit-width(s).

    Attributes:
        input_bits: Bit-width of the input quantizer; with ``input_options``, the one the
            uniform baselines read the input at.
        candidates: Per weight layer (convs, then the classifier), its candidate
            :class:`LayerBits`, without repeats. The classifier's candidates have
            ``act=None``.
        input_options: ``None`` (the input is read at ``input_bits``), or per candidate of
            the first layer the bit-width its input is quantized to: the input quantizer is
            switched with the first layer (a low-contrast image keeps its detail in the
            low bits of its pixels; a noisy one does not need them), so
            ``candidates[0]`` may repeat a :class:`LayerBits` at different input widths.
    """

    input_bits: int
    candidates: tuple[tuple[LayerBits, ...], ...]
    input_options: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(tuple(c) for c in self.candidates))
        check_bits(self.input_bits, "input")
        if not self.candidates:
            raise ConfigError("a switch space needs at least one layer")
        if self.input_options is not None:
            object.__setattr__(self, "input_options", tuple(int(b) for b in self.input_options))
            for b in self.input_options:
                check_bits(b, "input option")
            if len(self.input_options) != len(self.candidates[0]):
                raise ConfigError(
                    f"switch space: {len(self.input_options)} input widths for "
                    f"{len(self.candidates[0])} first-layer candidates"
                )
        for i, layer in enumerate(self.candidates):
            if not layer:
                raise ConfigError(f"switch space: layer {i} has no candidates")
            keyed = list(layer)  # layer 0 may repeat a pair at different input widths
            if i == 0 and self.input_options is not None:
                keyed = list(zip(self.input_options, layer, strict=True))
            if len(set(keyed)) != len(keyed):
                raise ConfigError(f"switch space: layer {i} lists a candidate twice: {layer}")

    @classmethod
    def uniform(
        cls,
        arch: CnnArch,
        pairs: Sequence[Sequence[int]],
        input_bits: int = 8,
        input_candidates: Sequence[int] | None = None,
    ) -> SwitchSpace:
        """The same ``(weight, act)`` pairs in every conv layer; the classifier gets the weights.

        Args:
            arch: The architecture (for the number of layers).
            pairs: ``(weight, act)`` bit-width pairs, e.g. ``[(2, 2), (4, 4), (8, 8)]``.
            input_bits: Input quantizer bit-width.
            input_candidates: Input widths switched with the first layer (see
                :meth:`per_layer`).

        Raises:
            ConfigError: A pair is malformed or a bit-width is not allowed.
        """
        layers = [pairs] * (len(arch.stages) + 1)
        return cls.per_layer(arch, layers, input_bits, input_candidates)

    @classmethod
    def per_layer(
        cls,
        arch: CnnArch,
        layers: Sequence[Sequence[Sequence[int]]],
        input_bits: int = 8,
        input_candidates: Sequence[int] | None = None,
    ) -> SwitchSpace:
        """Each weight layer its own ``(weight, act)`` pairs (convs, then the classifier).

        The classifier has no activation quantizer: it takes its pairs' weight bit-widths.

        Args:
            arch: The architecture (for the number of layers).
            layers: One list of ``(weight, act)`` pairs per weight layer, e.g. for the
                quickstart ``[[(4, 4), (4, 8), (8, 8)], [(2, 2), (4, 4)], [(2, 2), (4, 4)],
                [(4, 4), (8, 8)]]``.
            input_bits: Input quantizer bit-width (with ``input_candidates``: one of them,
                the uniform baselines').
            input_candidates: ``None``, or the input widths the first layer may read: its
                candidates become every (input width, pair), ordered by input width.

        Raises:
            ConfigError: Wrong number of layers, a malformed pair, a bit-width not allowed,
                ``input_bits`` not among ``input_candidates``.
        """
        names = arch.layer_names()
        if len(layers) != len(names):
            raise ConfigError(
                f"give one candidate list per weight layer: {len(names)} "
                f"({', '.join(names)}), got {len(layers)}"
            )
        out = []
        for i, pairs in enumerate(layers):
            parsed = []
            for pair in pairs:
                if isinstance(pair, str | bytes) or len(pair) != 2:
                    raise ConfigError(f"a candidate must be a (weight, act) pair, got {pair!r}")
                w = check_bits(pair[0], "candidate weight")
                a = check_bits(pair[1], "candidate activation")
                parsed.append(LayerBits(w, a if i < len(names) - 1 else None))
            if not parsed:
                raise ConfigError(
                    f"layer '{names[i]}': give at least one (weight, act) candidate pair"
                )
            out.append(tuple(dict.fromkeys(parsed)))
        if input_candidates is None:
            return cls(input_bits, tuple(out))
        widths = sorted({check_bits(b, "input candidate") for b in input_candidates})
        if input_bits not in widths:
            raise ConfigError(
                f"input_bits {input_bits} is not among the input candidates {widths}: the "
                "uniform baselines read the input at input_bits"
            )
        first = [(b, c) for b in widths for c in out[0]]
        return cls(input_bits, (tuple(c for _, c in first), *out[1:]), tuple(b for b, _ in first))

    def uniform_pairs(self) -> list[tuple[int, int]]:
        """The ``(b, b)`` pairs every layer offers (the classifier: weight ``b``), in order."""
        conv, head = self.candidates[:-1], self.candidates[-1]
        out = []
        for c in conv[0] if conv else ():
            b = c.weight
            if (
                c.act == b
                and all(LayerBits(b, b) in layer for layer in conv[1:])
                and any(h.weight == b for h in head)
            ):
                out.append((b, b))
        return list(dict.fromkeys(out))

    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self.candidates)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of candidates per layer."""
        return tuple(len(c) for c in self.candidates)

    def validate(self, arch: CnnArch) -> None:
        """Check the space against ``arch`` (layer count, act only on convs, allowed bits).

        Raises:
            ConfigError: The first rule broken, naming the layer.
        """
        names = arch.layer_names()
        if len(self.candidates) != len(names):
            raise ConfigError(
                f"switch space has {len(self.candidates)} layer(s) but the architecture has "
                f"{len(names)} ({', '.join(names)})"
            )
        for name, cands in zip(names, self.candidates, strict=True):
            for c in cands:
                check_bits(c.weight, f"layer '{name}' candidate weight")
                if name == names[-1]:
                    if c.act is not None:
                        raise ConfigError(f"layer '{name}' has no activation; set act to null")
                elif c.act is None:
                    raise ConfigError(f"layer '{name}' candidate {c} needs an activation width")
                else:
                    check_bits(c.act, f"layer '{name}' candidate activation")

    def config(self, choice: Sequence[int]) -> BitConfig:
        """The :class:`BitConfig` of one static choice (a candidate index per layer).

        Raises:
            ConfigError: Wrong length or an index out of range.
        """
        choice = [int(c) for c in choice]
        if len(choice) != self.n_layers:
            raise ConfigError(f"a choice needs {self.n_layers} indices, got {len(choice)}")
        for i, (c, n) in enumerate(zip(choice, self.sizes, strict=True)):
            if not 0 <= c < n:
                raise ConfigError(f"layer {i}: candidate index {c} is outside 0..{n - 1}")
        layers = tuple(self.candidates[i][c] for i, c in enumerate(choice))
        return BitConfig(self.input_of(choice[0]), layers)

    def input_of(self, first: int) -> int:
        """The input width the first layer's candidate ``first`` reads."""
        return self.input_bits if self.input_options is None else self.input_options[first]

    def uniform_choice(self, weight: int, act: int) -> list[int]:
        """The candidate indices of a uniform ``W{weight}A{act}`` network at ``input_bits``.

        Raises:
            ConfigError: A layer lacks that candidate.
        """
        out = []
        for i, cands in enumerate(self.candidates):
            idx = [j for j, c in enumerate(cands) if c.weight == weight and c.act in (act, None)]
            if i == 0:  # the uniform baselines read the input at input_bits
                idx = [j for j in idx if self.input_of(j) == self.input_bits]
            if not idx:
                raise ConfigError(f"layer {i} has no candidate W{weight}A{act}")
            out.append(idx[0])
        return out

    def lowest(self) -> list[int]:
        """Per layer, the candidate with the fewest bits (weight + act, then weight)."""
        return [min(range(n), key=lambda j, i=i: self._key(i, j)) for i, n in enumerate(self.sizes)]

    def highest(self) -> list[int]:
        """Per layer, the candidate with the most bits."""
        return [max(range(n), key=lambda j, i=i: self._key(i, j)) for i, n in enumerate(self.sizes)]

    def _key(self, i: int, j: int) -> tuple[int, ...]:
        key = _bits_key(self.candidates[i][j])
        return (*key, self.input_of(j)) if i == 0 else key

    def bits_table(self) -> list[list[tuple[int, int]]]:
        """Per layer and candidate ``(weight, act)``; the classifier's act is its weight bits."""
        return [[(c.weight, c.act or c.weight) for c in cands] for cands in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        """Plain data; :meth:`from_dict` reads it back."""
        out: dict[str, Any] = {
            "input_bits": self.input_bits,
            "candidates": [[c.to_dict() for c in cands] for cands in self.candidates],
        }
        if self.input_options is not None:
            out["input_options"] = list(self.input_options)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SwitchSpace:
        """Parse :meth:`to_dict`'s output.

        Raises:
            ConfigError: Malformed data.
        """
        try:
            cands = tuple(
                tuple(LayerBits(int(c["weight"]), c.get("act")) for c in layer)
                for layer in data["candidates"]
            )
            options = data.get("input_options")
            return cls(int(data["input_bits"]), cands, None if options is None else tuple(options))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"malformed switch space: {err}") from None


def _input_quant(bits: int) -> qnn.QuantIdentity:
    return qnn.QuantIdentity(act_quant=InputQuant, bit_width=bits, return_quant_tensor=True)


def _bits_key(bits: LayerBits) -> tuple[int, int]:
    return (bits.weight + (bits.act or 0), bits.weight)


def _memo_quant_weight(module: nn.Module) -> Any:
    """``module.quant_weight`` that computes once and then returns the first result."""
    method = type(module).quant_weight
    cache: list[Any] = []

    def quant_weight(quant_input: Any = None, subtensor_slice_list: Any = None) -> Any:
        if subtensor_slice_list is not None:
            return method(module, quant_input, subtensor_slice_list)
        if not cache:
            cache.append(method(module, quant_input))
        return cache[0]

    return quant_weight


class _SwitchLayer(nn.Module):
    """One weight layer: a shared float weight and one option module per candidate."""

    def __init__(self, options: list[nn.Module], conv: bool) -> None:
        super().__init__()
        first = options[0].conv if conv else options[0]
        self.weight = nn.Parameter(first.weight.detach().clone())  # shared by every option
        for option in options:
            target = option.conv if conv else option
            del target.weight  # drop the option's own weight ...
            target.weight = self.weight  # ... and point it at the shared one
        self.options = nn.ModuleList(options)
        self.is_conv = conv

    def run(self, j: int, h: Tensor) -> Tensor:
        """Run option ``j`` on float input ``h`` and return float values."""
        out = self.options[j](h)
        return out.value if hasattr(out, "value") else out

    def weight_layers(self) -> list[nn.Module]:
        """The Brevitas layer (``QuantConv2d`` / ``QuantLinear``) of every option."""
        return [option.conv if self.is_conv else option for option in self.options]


class SwitchableCNN(nn.Module):
    """A CNN of the family whose every layer runs at any of its candidate precisions.

    Attributes:
        arch: The architecture.
        space: The candidates per layer.
        input_quant: The (fixed-precision) input quantizer.
        layers: One switchable layer per weight layer.
    """

    def __init__(self, arch: CnnArch, space: SwitchSpace) -> None:
        """Build the network with PyTorch's default initialisation (seed torch before)."""
        super().__init__()
        space.validate(arch)
        self.arch = arch
        self.space = space
        self.input_quant = _input_quant(space.input_bits)
        if space.input_options is not None:  # the input quantizer switched with layer 0
            widths = sorted(set(space.input_options))
            self.input_quants = nn.ModuleDict({str(b): _input_quant(b) for b in widths})
        layers = []
        in_channels = arch.in_channels
        for stage, cands in zip(arch.stages, space.candidates[:-1], strict=True):
            options = [ConvBlock(in_channels, stage, bits) for bits in cands]
            layers.append(_SwitchLayer(options, conv=True))
            in_channels = stage.channels
        heads = [
            qnn.QuantLinear(
                arch.classifier_in_features,
                arch.num_classes,
                bias=False,
                weight_quant=WeightQuant,
                weight_bit_width=bits.weight,
            )
            for bits in space.candidates[-1]
        ]
        layers.append(_SwitchLayer(heads, conv=False))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, choice: Tensor, gate: Tensor | None = None) -> Tensor:
        """Logits with each sample at its own precisions.

        Args:
            x: ``(B, C, H, W)`` images in ``[0, 1]``.
            choice: ``(B, L)`` int64 candidate index per sample and layer (or ``(L,)`` for
                the whole batch).
            gate: Optional ``(B, L)`` float multipliers of each layer's output, normally a
                straight-through hard sample (value 1, gradient to the policy).

        Returns:
            ``(B, num_classes)`` float logits.
        """
        if choice.ndim == 1:
            choice = choice.expand(x.shape[0], -1)  # (B, L)
        h = self._input(x)  # (B, C, H, W): on the input grid unless layer 0 picks the grid
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            if i == last:
                h = h.flatten(1)  # (B, C_last * S * S), NCHW order
            col = choice[:, i]  # (B,)
            present = torch.unique(col).tolist()
            if len(present) == 1:
                h = self._run(i, present[0], h)
            else:
                out = None
                for j in present:
                    idx = torch.nonzero(col == j).squeeze(1)  # (B_j,)
                    part = self._run(i, j, h.index_select(0, idx))
                    if out is None:
                        out = part.new_zeros((h.shape[0], *part.shape[1:]))
                    out = out.index_copy(0, idx, part)
                h = out
            if gate is not None:
                g = gate[:, i]  # (B,)
                h = h * g.reshape(-1, *([1] * (h.ndim - 1)))
        return h

    def _input(self, x: Tensor) -> Tensor:
        """The input on the fixed input grid, or as is when layer 0's options quantize it."""
        return x if self.space.input_options is not None else self.input_quant(x).value

    def _run(self, i: int, j: int, h: Tensor) -> Tensor:
        """Option ``j`` of layer ``i`` on ``h`` (layer 0 first quantizes at its input width)."""
        if i == 0 and self.space.input_options is not None:
            h = self.input_quants[str(self.space.input_of(j))](h).value
        return self.layers[i].run(j, h)

    @contextmanager
    def weights_once(self) -> Iterator[None]:
        """Within the block, every option quantizes the shared weight at most once.

        A training step that runs the network more than once before the optimizer step
        (DQMQ's leave-one-out reward probe) sees the same weights every time; Brevitas would
        re-quantize them in every call of every option (about half of a mixed forward's time
        at the quickstart's sizes). Inside the block each option's first
        ``quant_weight()`` result (with its autograd graph, if any) is kept and returned by
        the later calls, so the outputs are the same values as without the block. Do not
        change the weights inside it.
        """
        patched = []
        for layer in self.layers:
            for module in layer.weight_layers():
                if module.weight_quant.requires_quant_input:  # depends on the input: no reuse
                    continue
                module.quant_weight = _memo_quant_weight(module)  # an instance attribute
                patched.append(module)
        try:
            yield
        finally:
            for module in patched:
                del module.quant_weight  # the class's method again

    def forward_soft(self, x: Tensor, probs: Sequence[Tensor]) -> Tensor:
        """Logits of the probability-weighted mix of every option's output, layer by layer.

        Not a deployable network (every option runs on every sample); it is the "soft"
        evaluation of a policy. ``probs[i]`` is ``(B, K_i)``.
        """
        h = self._input(x)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last:
                h = h.flatten(1)
            p = probs[i]  # (B, K_i)
            outs = [self._run(i, j, h) for j in range(len(layer.options))]
            stacked = torch.stack(outs, dim=1)  # (B, K_i, ...)
            h = (stacked * p.reshape(*p.shape, *([1] * (stacked.ndim - 2)))).sum(dim=1)
        return h

    def freeze(self, choice: Sequence[int]) -> QuantCNN:
        """A plain family model at one static choice, with this model's state copied.

        Returns:
            ``build_cnn(arch, space.config(choice))`` in eval mode; its outputs equal
            ``self(x, choice)`` in eval mode exactly.
        """
        bits = self.space.config(choice)
        plain = build_cnn(self.arch, bits)
        quant = self.input_quant
        if self.space.input_options is not None:
            quant = self.input_quants[str(bits.input_bits)]
        plain.input_quant.load_state_dict(quant.state_dict())
        for i, j in enumerate(int(c) for c in choice):
            option = self.layers[i].options[j]
            target = plain.classifier if i == len(self.layers) - 1 else plain.features[i]
            target.load_state_dict(option.state_dict())
        return plain.eval()

    def uniform_choice(self, weight: int, act: int) -> list[int]:
        """The candidate indices of a uniform ``W{weight}A{act}`` network (see the space's)."""
        return self.space.uniform_choice(weight, act)
