"""Fast whole-design prices of family networks, for search loops (>= 1e4 designs/s).

:class:`DesignPricer` gives the same result as
``model.design_cost(network_layers(arch, bits, target_cycles=T))`` (tested), but caches the
price of each *layer group* (the nodes compile makes of one weight layer, with its
converters and FIFOs; see :func:`codesign.cost.surrogate.node_groups`) under a key made of
plain numbers: the layer's input channels, feature size and activation bits, its stage
shape, its own bits and implementation, and the cycle target. A search that varies bits
and widths re-prices only the groups it has not seen; a design whose groups are all cached
costs a few dictionary look-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codesign.cost.cycles import layer_cycles
from codesign.cost.network import (
    avoid_full_simd,
    base_layers,
    expected_fifo_depths,
    fold_pass,
    insert_dwc_fifo,
)
from codesign.cost.protocol import CostModel, Impl
from codesign.cost.surrogate import node_groups
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.bits import BitConfig, LayerBits
from codesign.resources import Resources

__all__ = ["DesignPrice", "DesignPricer"]


@dataclass(frozen=True)
class DesignPrice:
    """A design's total resources and bottleneck cycles."""

    resources: Resources
    cycles: int

    def fps(self, clock_mhz: float) -> float:
        """Frames per second at ``clock_mhz``."""
        return clock_mhz * 1e6 / max(1, self.cycles)


# (lut, ff, bram18, uram, dsp, nodes, max cycles, max cycles before the full-SIMD guard)
_Group = tuple[float, float, float, float, float, int, int, int]


class DesignPricer:
    """Prices family networks with ``model``, caching per layer group.

    Args:
        model: The cost model (its overhead is added per design).
        mvau_wwidth_max: SetFolding's weight-stream cap.
        max_entries: Cache size bound (cleared when exceeded).
        fifo_sizing: Price the FIFOs at their expected sized depths
            (:func:`~codesign.cost.network.expected_fifo_depths`, as
            ``network_layers(..., fifo_sizing=True)``): what a compiled, FIFO-sized design
            costs. False (the default): the unsized depth-2 FIFOs.
    """

    def __init__(
        self,
        model: CostModel,
        mvau_wwidth_max: int = 36,
        max_entries: int = 500_000,
        fifo_sizing: bool = False,
    ) -> None:
        self.model = model
        self.fifo_sizing = fifo_sizing
        self.mvau_wwidth_max = mvau_wwidth_max
        self.max_entries = max_entries
        self._groups: dict[tuple[object, ...], _Group] = {}
        overhead = getattr(model, "overhead", (Resources(), Resources()))
        self._const, self._per_node = overhead

    def price(
        self,
        arch: CnnArch,
        bits: BitConfig,
        target_cycles: int,
        impl: Sequence[Impl] | None = None,
    ) -> DesignPrice:
        """The design's price at ``target_cycles`` (SetFolding's two-pass relaxation)."""
        impl = tuple(impl) if impl is not None else (Impl.DSP,) * arch.n_layers
        target = max(1, int(target_cycles))
        groups = self._groups_at(arch, bits, impl, target)
        worst = max(g[7] for g in groups)  # SetFolding relaxes before the guard runs
        if worst > target:
            groups = self._groups_at(arch, bits, impl, worst)
        lut = self._const.lut
        ff = self._const.ff
        bram = self._const.bram18
        uram = self._const.uram
        dsp = self._const.dsp
        nodes = 0
        cycles = 0
        for g in groups:
            lut += g[0]
            ff += g[1]
            bram += g[2]
            uram += g[3]
            dsp += g[4]
            nodes += g[5]
            cycles = max(cycles, g[6])
        per = self._per_node
        return DesignPrice(
            Resources(
                lut=lut + per.lut * nodes,
                ff=ff + per.ff * nodes,
                bram18=bram + per.bram18 * nodes,
                uram=uram + per.uram * nodes,
                dsp=dsp + per.dsp * nodes,
            ),
            cycles,
        )

    def _groups_at(
        self, arch: CnnArch, bits: BitConfig, impl: tuple[Impl, ...], target: int
    ) -> list[_Group]:
        out = []
        size = arch.input_size
        ch = arch.in_channels
        act = bits.input_bits
        out.append(self._group(("in", ch, size, act, target), arch, bits, impl, -1, target))
        # the slowest node before each group (the expected FIFO depths depend on it)
        upstream = out[0][6] if self.fifo_sizing else 0
        stages = arch.stages
        for i, stage in enumerate(stages):
            lb = bits.layers[i]
            key = (
                "st",
                ch,
                size,
                act,
                stage.channels,
                stage.kernel,
                stage.stride,
                lb.weight,
                lb.act,
                impl[i],
                target,
                upstream,
            )
            out.append(self._group(key, arch, bits, impl, i, target, upstream))
            if self.fifo_sizing:
                upstream = max(upstream, out[-1][6])
            size = (size + 2 * (stage.kernel // 2) - stage.kernel) // stage.stride + 1
            ch, act = stage.channels, lb.act
        cls = bits.layers[-1]
        key = ("fc", ch, size, act, cls.weight, impl[-1], arch.num_classes, target, upstream)
        out.append(self._group(key, arch, bits, impl, len(stages), target, upstream))
        return out

    def _group(
        self,
        key: tuple[object, ...],
        arch: CnnArch,
        bits: BitConfig,
        impl: tuple[Impl, ...],
        index: int,
        target: int,
        upstream: int = 0,
    ) -> _Group:
        hit = self._groups.get(key)
        if hit is not None:
            return hit
        if len(self._groups) >= self.max_entries:
            self._groups.clear()
        specs, which, pre = self._mini_network(arch, bits, impl, index, target, upstream)
        lut = ff = bram = uram = dsp = 0.0
        n = 0
        worst = 0
        for spec, g in zip(specs, node_groups(specs), strict=True):
            if g != which:
                continue
            r = self.model.layer_cost(spec).resources
            lut += r.lut
            ff += r.ff
            bram += r.bram18
            uram += r.uram
            dsp += r.dsp
            n += 1
            worst = max(worst, layer_cycles(spec))
        group = (lut, ff, bram, uram, dsp, n, worst, pre)
        self._groups[key] = group
        return group

    def _mini_network(
        self,
        arch: CnnArch,
        bits: BitConfig,
        impl: tuple[Impl, ...],
        index: int,
        target: int,
        upstream: int = 0,
    ) -> tuple[list, int, int]:
        """A network whose group ``which`` equals layer ``index``'s group of ``arch``.

        Layer ``index``'s nodes depend only on its input (channels, size, activation bits:
        the previous thresholds' shape and folding) and its own stage and bits, so a
        one-stage network starting at that input has the same nodes.
        """
        if index < 0:
            mini_arch, mini_bits, mini_impl, which = arch, bits, impl, -1
        else:
            last = index >= len(arch.stages)
            s = index - 1 if last else index  # the classifier rides on the last stage
            size = arch.input_size
            ch = arch.in_channels
            act = bits.input_bits
            for stage, lb in zip(arch.stages[:s], bits.layers[:s], strict=True):
                size = (size + 2 * (stage.kernel // 2) - stage.kernel) // stage.stride + 1
                ch, act = stage.channels, int(lb.act)  # type: ignore[arg-type]
            stage = arch.stages[s]
            mini_arch = CnnArch(
                stages=(StageSpec(stage.channels, stage.kernel, stage.stride),),
                num_classes=arch.num_classes,
                in_channels=ch,
                input_size=size,
            )
            mini_bits = BitConfig(act, (bits.layers[s], LayerBits(bits.layers[-1].weight, None)))
            mini_impl = (impl[s], impl[-1])
            which = 1 if last else 0
        base = base_layers(mini_arch, mini_bits, mini_impl)
        folded = fold_pass(base, target, self.mvau_wwidth_max)
        pre = max(
            (
                layer_cycles(s)
                for s, g in zip(folded, node_groups(folded), strict=True)
                if g == which
            ),
            default=0,
        )
        specs = insert_dwc_fifo(avoid_full_simd(folded))
        if self.fifo_sizing:
            specs = expected_fifo_depths(specs, upstream_cycles=upstream)
        return specs, which, pre
