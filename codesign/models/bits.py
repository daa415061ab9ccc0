"""Per-layer precisions of the CNN family: ``Precision``, ``LayerBits``, ``BitConfig``.

A :class:`BitConfig` is the bit-width policy of one network: the bit-width of the input
quantizer plus, for every weight layer (each conv stage, then the classifier), the weight
bit-width and the bit-width of the activation quantizer that follows the layer. The
classifier has no output quantizer, so its ``act`` is ignored (``None`` by convention).

Which bit-widths are allowed is a hardware rule, not a training one: every layer must become
an RTL node in finn-plus 1.6.1 (``MVAU_rtl`` with a standalone ``Thresholding_rtl``).
7 bits buys nothing over 8 on the DSP datapath, and more than 8 bits leaves the RTL MVU's
supported range. Layers with 2-3 bits only go RTL when the compile step sets
``preferred_impl_style="rtl"`` on them (see ``TOOLCHAIN.md``). 1-bit (XNOR) layers need
codesign's LUT MVU (``impl: lut``, docs/lowbit.md); the family does not offer them yet.
Each layer may choose its MVU implementation with ``impl`` (:data:`ImplChoice`).

Example:
    >>> from codesign.models.bits import BitConfig
    >>> cfg = BitConfig.uniform(4, weight=4, act=4, input_bits=8)
    >>> BitConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from qonnx.core.datatype import DataType

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError

if TYPE_CHECKING:
    from codesign.models.arch import CnnArch

#: A layer's MVAU implementation in a bit config: :class:`~codesign.cost.protocol.Impl`'s
#: ``dsp`` and ``lut``, plus ``auto`` (LUT when weights and activations are both <= 4 bits).
ImplChoice = StrEnum("ImplChoice", {**{i.name: i.value for i in Impl}, "AUTO": "auto"})

ALLOWED_BITS: tuple[int, ...] = (2, 3, 4, 5, 6, 8)
"""Bit-widths every quantizer of the family may take (weights, activations and input)."""

_ALLOWED_TEXT = ", ".join(str(b) for b in ALLOWED_BITS)


def _is_int(value: object) -> bool:
    """True for a real ``int`` (``bool`` is an ``int`` subclass, but never a bit-width)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_bits(value: object, what: str) -> int:
    """Return ``value`` if it is an allowed bit-width, else raise :class:`ConfigError`.

    Args:
        value: The candidate bit-width.
        what: Where the value comes from, e.g. ``"layer 'conv0' weight"``; starts the message.

    Returns:
        The bit-width, unchanged.

    Raises:
        ConfigError: ``value`` is not an int in :data:`ALLOWED_BITS`.
    """
    if not _is_int(value) or value not in ALLOWED_BITS:
        raise ConfigError(
            f"{what} bit-width {value!r} is not allowed; choose one of {_ALLOWED_TEXT} "
            "(every layer must map to an RTL node in finn-plus)"
        )
    return int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Precision:
    """An integer precision: bit-width and signedness, interchangeable with qonnx ``DataType``.

    Attributes:
        bits: Number of bits (>= 1).
        signed: Two's complement (``INTn``) if true, else unsigned (``UINTn``).
    """

    bits: int
    signed: bool

    def __post_init__(self) -> None:
        if not _is_int(self.bits) or self.bits < 1:
            raise ConfigError(f"precision bit-width must be an int >= 1, got {self.bits!r}")
        if not isinstance(self.signed, bool):
            raise ConfigError(f"precision signedness must be a bool, got {self.signed!r}")

    def to_datatype(self) -> DataType:
        """Return the qonnx ``DataType`` (``INT<bits>`` or ``UINT<bits>``)."""
        return DataType[f"{'INT' if self.signed else 'UINT'}{self.bits}"]

    @classmethod
    def from_datatype(cls, datatype: DataType) -> Precision:
        """Build a precision from a qonnx ``INTn`` / ``UINTn`` ``DataType``.

        ``BINARY`` (qonnx's spelling of ``UINT1``) is read as unsigned 1 bit.

        Raises:
            ConfigError: ``datatype`` is not a plain integer type (float, fixed point,
                bipolar, ternary).
        """
        name = datatype.get_canonical_name()
        if name == "BINARY":  # qonnx's name for UINT1 (values 0, 1)
            return cls(bits=1, signed=False)
        if not (name.startswith("INT") or name.startswith("UINT")):
            raise ConfigError(f"data type {name} is not a plain integer type (INTn or UINTn)")
        return cls(bits=datatype.bitwidth(), signed=datatype.signed())

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"


@dataclass(frozen=True)
class LayerBits:
    """Bit-widths of one weight layer.

    Attributes:
        weight: Weight bit-width (narrow-range signed weights).
        act: Bit-width of the unsigned activation quantizer after the layer; ignored for the
            classifier, which has no output quantizer (``None`` there by convention).
        impl: How the layer's MVAU multiplies (``dsp``, ``lut`` or ``auto``); ``None``
            leaves it to the compile's ``impl`` option (default ``dsp``, as before).
    """

    weight: int
    act: int | None = None
    impl: ImplChoice | None = None  # type: ignore[valid-type]

    @property
    def weight_precision(self) -> Precision:
        """The weight precision (always signed)."""
        return Precision(self.weight, signed=True)

    @property
    def act_precision(self) -> Precision | None:
        """The output activation precision (always unsigned, ReLU), or ``None``."""
        return None if self.act is None else Precision(self.act, signed=False)

    def to_dict(self) -> dict[str, int | str | None]:
        """Return ``{"weight": w, "act": a}`` (``act`` may be ``None``), plus ``impl`` if set."""
        out: dict[str, int | str | None] = {"weight": self.weight, "act": self.act}
        if self.impl is not None:
            out["impl"] = str(self.impl)
        return out


_LAYER_KEYS = frozenset({"weight", "act", "impl"})
_CONFIG_KEYS = frozenset({"input_bits", "layers"})


@dataclass(frozen=True)
class BitConfig:
    """The bit-width policy of one network.

    Attributes:
        input_bits: Bit-width of the unsigned input quantizer (the dataflow input datatype).
        layers: One :class:`LayerBits` per weight layer, in forward order: the conv stages,
            then the classifier.
    """

    input_bits: int
    layers: tuple[LayerBits, ...]

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so the config stays hashable and frozen.
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def uniform(cls, n_layers: int, weight: int, act: int, input_bits: int = 8) -> BitConfig:
        """The same weight and activation bit-width in every layer.

        Args:
            n_layers: Number of weight layers (``CnnArch.n_layers``: convs + classifier).
            weight: Weight bit-width of every layer.
            act: Activation bit-width after every conv layer.
            input_bits: Bit-width of the input quantizer.

        Returns:
            The config; the classifier's ``act`` is ``None``.

        Raises:
            ConfigError: ``n_layers`` < 1.
        """
        if not _is_int(n_layers) or n_layers < 1:
            raise ConfigError(f"a bit config needs at least one layer, got n_layers={n_layers!r}")
        layers = [LayerBits(weight, act) for _ in range(n_layers - 1)]
        layers.append(LayerBits(weight, None))
        return cls(input_bits=input_bits, layers=tuple(layers))

    @property
    def weight_bits(self) -> tuple[int, ...]:
        """Weight bit-width per layer."""
        return tuple(layer.weight for layer in self.layers)

    @property
    def act_bits(self) -> tuple[int | None, ...]:
        """Output activation bit-width per layer (``None`` for the classifier by convention)."""
        return tuple(layer.act for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Return a YAML/JSON-friendly dict; :meth:`from_dict` reads it back unchanged."""
        return {"input_bits": self.input_bits, "layers": [lb.to_dict() for lb in self.layers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BitConfig:
        """Parse the dict written by :meth:`to_dict` (e.g. loaded from YAML).

        Unknown keys are rejected, and every bit-width must be in :data:`ALLOWED_BITS`
        (``act`` may be ``null``: required for conv layers, ignored for the classifier, which
        :meth:`validate` checks against an architecture).

        Raises:
            ConfigError: Malformed structure, unknown key or bit-width not allowed.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"bit config must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _CONFIG_KEYS)
        if unknown:
            raise ConfigError(
                f"bit config: unknown key(s) {', '.join(map(str, unknown))}; "
                "expected input_bits, layers"
            )
        missing = sorted(_CONFIG_KEYS - set(data))
        if missing:
            raise ConfigError(f"bit config: missing key(s) {', '.join(missing)}")
        input_bits = check_bits(data["input_bits"], "input")
        raw_layers = data["layers"]
        if isinstance(raw_layers, str | bytes) or not isinstance(raw_layers, Sequence):
            raise ConfigError("bit config: 'layers' must be a list of {weight, act} mappings")
        if not raw_layers:
            raise ConfigError("bit config: 'layers' is empty")
        layers = []
        for i, raw in enumerate(raw_layers):
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"bit config: layer {i} must be a mapping with keys weight, act; got {raw!r}"
                )
            unknown = sorted(set(raw) - _LAYER_KEYS)
            if unknown:
                raise ConfigError(
                    f"bit config: layer {i}: unknown key(s) {', '.join(map(str, unknown))}; "
                    "expected weight, act, impl"
                )
            if "weight" not in raw:
                raise ConfigError(f"bit config: layer {i}: missing key weight")
            weight = check_bits(raw["weight"], f"layer {i} weight")
            act = raw.get("act")
            if act is not None:
                act = check_bits(act, f"layer {i} activation")
            impl = raw.get("impl")
            if impl is not None:
                choices = [c.value for c in ImplChoice]
                if impl not in choices:
                    raise ConfigError(
                        f"bit config: layer {i}: impl {impl!r} is not one of {', '.join(choices)}"
                    )
                impl = ImplChoice(impl)
            layers.append(LayerBits(weight, act, impl))
        return cls(input_bits=input_bits, layers=tuple(layers))

    @property
    def impls(self) -> tuple[ImplChoice | None, ...]:  # type: ignore[valid-type]
        """MVAU implementation choice per layer (``None``: the compile's default)."""
        return tuple(layer.impl for layer in self.layers)

    def validate(self, arch: CnnArch) -> None:
        """Check this config against ``arch``; raise one :class:`ConfigError` naming the layer.

        Rules: one :class:`LayerBits` per layer of ``arch`` (``arch.n_layers``); the input,
        every weight and every conv layer's activation bit-width in :data:`ALLOWED_BITS`. The
        classifier's ``act`` is ignored.

        Raises:
            ConfigError: The first rule broken, e.g. ``"layer 'conv1' weight bit-width 1 is
                not allowed; choose one of 2, 3, 4, 5, 6, 8 (...)"``.
        """
        names = arch.layer_names()
        if len(self.layers) != len(names):
            raise ConfigError(
                f"bit config has {len(self.layers)} layer(s) but the architecture has "
                f"{len(names)} ({', '.join(names)})"
            )
        check_bits(self.input_bits, "input")
        for name, layer in zip(names, self.layers, strict=True):
            if not isinstance(layer, LayerBits):
                raise ConfigError(f"layer '{name}': expected LayerBits, got {layer!r}")
            check_bits(layer.weight, f"layer '{name}' weight")
            if name == names[-1]:
                continue  # the classifier has no output quantizer
            if layer.act is None:
                raise ConfigError(
                    f"layer '{name}' activation bit-width is missing; choose one of {_ALLOWED_TEXT}"
                )
            check_bits(layer.act, f"layer '{name}' activation")

    def describe(self) -> str:
        """A short human-readable form, e.g. ``"in8 W4A4 W4A4 W4"`` (for logs, not for keys)."""
        parts = [f"in{self.input_bits}"]
        for layer in self.layers:
            parts.append(f"W{layer.weight}" + ("" if layer.act is None else f"A{layer.act}"))
        return " ".join(parts)
