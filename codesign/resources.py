"""FPGA resources: the one type every estimator and every measurement returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Resources:
    """FPGA resource counts, so predicted and measured figures line up field by field.

    ``lutram`` and ``srl`` are the parts of ``lut`` used as distributed RAM and shift
    registers, where the tool reports them. BRAM is counted in 18 Kb halves.
    """

    lut: float = 0
    ff: float = 0
    bram18: float = 0
    uram: float = 0
    dsp: float = 0
    lutram: float = 0
    srl: float = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def to_dict(self) -> dict[str, float]:
        """Return the counts as a plain dict (for JSON)."""
        return asdict(self)

    def fits(self, capacity: Resources) -> bool:
        """True when every count is within ``capacity`` (lut, ff, bram18, uram, dsp)."""
        return all(
            getattr(self, k) <= getattr(capacity, k) for k in ("lut", "ff", "bram18", "uram", "dsp")
        )


RESOURCE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Resources))
"""The field names of :class:`Resources`, in order (lut, ff, bram18, uram, dsp, lutram, srl)."""
