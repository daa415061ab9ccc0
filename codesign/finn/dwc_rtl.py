"""finn-plus's RTL data-width converter with an honest ``exp_cycles``.

finn-plus 1.6.1 counts 0 expected cycles for ``StreamingDataWidthConverter_rtl`` (the
default of ``HWCustomOp.get_exp_cycles``), as if every converter ran at full rate. Its
kernel, finn-rtllib's ``vpc.sv`` (``dwc_axi`` instantiates it with ``W=1``, ``PI=IBITS``,
``PO=OBITS``), normalizes both widths by their GCD to ``PI0`` and ``PO0``. With
``PI0 == PO0 == 1`` it is a wire, with ``PI0 == 1`` or ``PO0 == 1`` and the whole vector in
one beat a shift register at full rate; every other ratio goes to its generic buffer, whose
single capacity counter accepts an input only while at most ``PO0`` elements are buffered
and emits only while at least ``PO0`` are. Input and output transfer in the same cycle only
at exactly ``PO0`` buffered elements, so cycles where more are buffered emit without taking
input. For 16 -> 36 bits (``PI0 = 4``, ``PO0 = 9``, CNV's SWG -> MVAU at SIMD 16 -> 36)
that is 12 cycles per 9 input words: 4/3 of the input words, measured in Verilator
(CNV-W1A1 at 3,000 FPS: 37,632 cycles per frame, not the MVUs' 32,768).

:class:`StreamingDataWidthConverter_rtl` keeps finn-plus's class and kernel and only
replaces ``get_exp_cycles`` by that counter's steady state with the input always valid and
the output always ready (:func:`vpc_cycles_per_input_word`), the convention of every
other node's ``exp_cycles``. :func:`codesign.finn.lut_mvau.register` installs it.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

from finn.custom_op.fpgadataflow.rtl.streamingdatawidthconverter_rtl import (
    StreamingDataWidthConverter_rtl as _FinnDwcRtl,
)

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

log = logging.getLogger(__name__)


@lru_cache(maxsize=256)
def vpc_cycles_per_input_word(ibits: int, obits: int) -> Fraction:
    """Steady-state cycles per input word of finn-rtllib's ``vpc`` (``dwc_axi``).

    Args:
        ibits: Input stream width in bits (``IBITS``, unpadded).
        obits: Output stream width in bits (``OBITS``, unpadded).

    Returns:
        ``max(1, ibits / obits)`` for the wire and the shift-register paths; for the generic
        buffer, the cycles of one period of its capacity counter over the input words
        taken in that period.
    """
    if ibits <= 0 or obits <= 0:
        raise ValueError(f"stream widths must be positive, got {ibits} -> {obits}")
    gcd = math.gcd(ibits, obits)
    pi0, po0 = ibits // gcd, obits // gcd
    n0 = ibits * obits // gcd  # dwc_axi's vector: N = IBITS * OBITS elements of W = 1 bit
    if (pi0 == 1 and po0 == 1) or (po0 == 1 and n0 <= pi0) or (pi0 == 1 and n0 <= po0):
        return max(Fraction(1), Fraction(ibits, obits))
    # generic buffer: ``buffered`` = PO0 - ICap; irdy: buffered <= PO0, ovld: buffered >= PO0
    buffered, seen, cycles, words = 0, {}, 0, 0
    while buffered not in seen:
        seen[buffered] = (cycles, words)
        take, give = buffered <= po0, buffered >= po0
        buffered += (pi0 if take else 0) - (po0 if give else 0)
        cycles += 1
        words += int(take)
    c0, w0 = seen[buffered]
    return Fraction(cycles - c0, words - w0)


def dwc_exp_cycles(ibits: int, obits: int, words_in: int) -> int:
    """Cycles per frame of a ``vpc`` converter that takes ``words_in`` words per frame."""
    return math.ceil(words_in * vpc_cycles_per_input_word(ibits, obits))


class StreamingDataWidthConverter_rtl(_FinnDwcRtl):  # noqa: N801 - FINN looks ops up by name
    """finn-plus's RTL DWC; ``get_exp_cycles`` is its kernel's throughput, not 0."""

    def get_exp_cycles(self) -> int:  # noqa: D102
        words_in = math.prod(int(d) for d in self.get_folded_input_shape()[:-1])
        return dwc_exp_cycles(
            int(self.get_instream_width()), int(self.get_outstream_width()), words_in
        )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _converter_cycles(producer: object, consumer: object) -> int:
    """Cycles per frame of the DWC InsertDWC will put between the two (0: none)."""
    ibits = int(producer.get_outstream_width())  # type: ignore[attr-defined]
    obits = int(consumer.get_instream_width())  # type: ignore[attr-defined]
    if ibits == obits:
        return 0
    words = math.prod(int(d) for d in producer.get_folded_output_shape()[:-1])  # type: ignore[attr-defined]
    return dwc_exp_cycles(ibits, obits, words)


def fit_converters(model: ModelWrapper, target_cycles: int, mvau_wwidth_max: int) -> ModelWrapper:
    """Refold LUT MVUs whose input converter would miss ``target_cycles``.

    After SetFolding, an MVU's SIMD and its producer's output width can have a ratio that
    finn-plus's converter runs below full rate (CNV-W1A1 at 3,000 FPS: SWG SIMD 16 -> MVU
    SIMD 36, 4/3 of the frame time). For each such LUT MVU (codesign's kernel takes any
    SIMD and PE that divide MW and MH), take the SIMD x PE with the fewest lanes, within
    ``mvau_wwidth_max`` bits of weights per PE, that meets the target with its converter;
    leave the node as it is when none does (the estimates then name the converter).
    """
    from qonnx.custom_op.registry import getCustomOp  # noqa: PLC0415

    for node in model.graph.node:
        if node.op_type != "MVAU_rtl":
            continue
        inst = getCustomOp(node)
        if inst.get_nodeattr("resType") != "lut":
            continue
        producer = model.find_producer(node.input[0])
        if producer is None or not producer.domain.startswith("finn.custom_op.fpgadataflow"):
            continue
        prod = getCustomOp(producer)
        if _converter_cycles(prod, inst) <= target_cycles:
            continue
        old = (int(inst.get_nodeattr("SIMD")), int(inst.get_nodeattr("PE")))
        mw, mh = int(inst.get_nodeattr("MW")), int(inst.get_nodeattr("MH"))
        wbits = int(inst.get_input_datatype(1).bitwidth())
        best: tuple[int, int, int] | None = None
        for simd in _divisors(mw):
            if simd * wbits > mvau_wwidth_max and simd > old[0]:
                continue
            for pe in _divisors(mh):
                if best is not None and simd * pe >= best[0]:
                    break
                inst.set_nodeattr("SIMD", simd)
                inst.set_nodeattr("PE", pe)
                if (
                    inst.get_exp_cycles() <= target_cycles
                    and _converter_cycles(prod, inst) <= target_cycles
                ):
                    best = (simd * pe, simd, pe)
                    break
        simd, pe = (best[1], best[2]) if best else old
        inst.set_nodeattr("SIMD", simd)
        inst.set_nodeattr("PE", pe)
        if best:
            log.info(
                "%s: SIMD %d PE %d -> SIMD %d PE %d, so the %d -> %d bit converter from %s "
                "meets %d cycles per frame",
                node.name,
                *old,
                simd,
                pe,
                int(prod.get_outstream_width()),
                int(inst.get_instream_width()),
                producer.name,
                target_cycles,
            )
        else:
            log.warning(
                "%s: no SIMD/PE lets the converter from %s meet %d cycles per frame",
                node.name,
                producer.name,
                target_cycles,
            )
    return model
