"""LayerSpecs of a compiled dataflow model, read from ``RUN/compiled.onnx`` node attributes.

Only ``onnx`` is needed (no FINN import): each RTL node's attributes give its shape,
datatypes and folding. ``spec_to_dict``/``spec_from_dict`` are the JSON form the results
database and calibration points store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from codesign.cost.protocol import Impl, LayerKind, LayerSpec
from codesign.errors import CodesignError
from codesign.models.bits import Precision

__all__ = ["compiled_specs", "kind_of", "node_spec", "spec_from_dict", "spec_to_dict"]

#: finn-plus's default ram_style of the SWG's buffer (ConvolutionInputGenerator).
_SWG_RAM = "distributed"

_KINDS = {
    "MVAU": LayerKind.MVAU,
    "VVAU": LayerKind.VVAU,
    "Thresholding": LayerKind.THRESHOLDING,
    "ConvolutionInputGenerator": LayerKind.SWG,
    "FMPadding": LayerKind.FMPADDING,
    "StreamingDataWidthConverter": LayerKind.DWC,
    "StreamingFIFO": LayerKind.FIFO,
    "Pool": LayerKind.POOL,
    "StreamingMaxPool": LayerKind.POOL,
}


def kind_of(op_type: str) -> LayerKind | None:
    """The cost-model kind of a FINN op type (``MVAU_rtl`` -> mvau), None when unknown."""
    base = op_type.split("_")[0]
    return _KINDS.get(base)


def _precision(name: str) -> Precision:
    name = str(name)
    if name.startswith("FLOAT"):
        return Precision(32, signed=True)
    if name in ("BINARY", "BIPOLAR"):
        return Precision(1, signed=name == "BIPOLAR")
    if name.startswith("UINT"):
        return Precision(int(name[4:]), signed=False)
    if name.startswith("INT"):
        return Precision(int(name[3:]), signed=True)
    raise CodesignError(f"unsupported datatype {name!r} in a compiled model")


def _impl(op_type: str, attrs: Mapping[str, Any]) -> Impl:
    """LUT when the node says so (#12's LUT MVU: op type, resType or impl attribute)."""
    text = " ".join(
        str(attrs.get(k, "")) for k in ("resType", "impl", "mvu_impl", "impl_style")
    ).lower()
    if "lut" in op_type.lower() or "lut" in text.split():
        return Impl.LUT
    return Impl.DSP


def node_spec(name: str, op_type: str, attrs: Mapping[str, Any]) -> LayerSpec | None:
    """The LayerSpec of one compiled node (None for kinds the cost model does not price)."""
    kind = kind_of(op_type)
    if kind is None:
        return None
    a = attrs

    def ivec(key: str) -> int:
        return int(math.prod(int(x) for x in a.get(key, [1])))

    if kind is LayerKind.MVAU:
        acc = _precision(a.get("accDataType", a.get("outputDataType", "INT32")))
        return LayerSpec(
            name,
            kind,
            int(a["MW"]),
            int(a["MH"]),
            ivec("numInputVectors"),
            _precision(a["weightDataType"]),
            _precision(a["inputDataType"]),
            None,
            pe=int(a.get("PE", 1)),
            simd=int(a.get("SIMD", 1)),
            impl=_impl(op_type, a),
            extra=(("acc", float(acc.bits)),),
        )
    if kind is LayerKind.VVAU:
        k = a.get("Kernel", [1, 1])
        acc = _precision(a.get("accDataType", a.get("outputDataType", "INT32")))
        ch = int(a["Channels"])
        return LayerSpec(
            name,
            kind,
            ch,
            ch,
            ivec("Dim"),
            _precision(a["weightDataType"]),
            _precision(a["inputDataType"]),
            None,
            pe=int(a.get("PE", 1)),
            simd=int(a.get("SIMD", 1)),
            impl=_impl(op_type, a),
            extra=(("acc", float(acc.bits)), ("k", float(k[0]))),
        )
    if kind is LayerKind.THRESHOLDING:
        ch = int(a["NumChannels"])
        tdt = a.get("weightDataType", a["inputDataType"])
        return LayerSpec(
            name,
            kind,
            ch,
            ch,
            ivec("numInputVectors"),
            None,
            _precision(a["inputDataType"]),
            _precision(a["outputDataType"]),
            pe=int(a.get("PE", 1)),
            extra=(("tbits", float(_precision(tdt).bits)),)
            # a float input (the network's input quantizer): the RTL compares float bits
            + ((("fp", 1.0),) if str(a["inputDataType"]).startswith("FLOAT") else ()),
        )
    if kind is LayerKind.FMPADDING:
        ch = int(a["NumChannels"])
        idim = [int(x) for x in a["ImgDim"]]
        pad = [int(x) for x in a["Padding"]]
        odim = (idim[0] + pad[0] + pad[2], idim[1] + pad[1] + pad[3])
        prec = _precision(a["inputDataType"])
        return LayerSpec(
            name,
            kind,
            ch,
            ch,
            odim[0] * odim[1],
            None,
            prec,
            prec,
            simd=int(a.get("SIMD", 1)),
            extra=(("idim", float(idim[0])), ("odim", float(odim[0]))),
        )
    if kind is LayerKind.SWG:
        ch = int(a["IFMChannels"])
        k = int(a["ConvKernelDim"][0])
        ofm = int(a["OFMDim"][0])
        prec = _precision(a["inputDataType"])
        return LayerSpec(
            name,
            kind,
            k * k * ch,
            ch,
            ofm * ofm,
            None,
            prec,
            prec,
            simd=int(a.get("SIMD", 1)),
            extra=(
                ("ifm", float(a["IFMDim"][0])),
                ("ofm", float(ofm)),
                ("k", float(k)),
                ("stride", float(a["Stride"][0])),
                ("parallel", float(a.get("parallel_window", 0))),
                # the buffer's ram_style: finn-plus's default "distributed" is LUTRAM
                *((("ram_block", 1.0),) if a.get("ram_style", _SWG_RAM) != _SWG_RAM else ()),
            ),
        )
    if kind is LayerKind.DWC:
        prec = _precision(a["dataType"])
        w_in, w_out = int(a["inWidth"]), int(a["outWidth"])
        return LayerSpec(
            name,
            kind,
            w_in,
            w_out,
            0,
            None,
            prec,
            prec,
            extra=(("in_width", float(w_in)), ("out_width", float(w_out))),
        )
    if kind is LayerKind.FIFO:
        prec = _precision(a["dataType"])
        folded = [int(x) for x in a.get("folded_shape", [1])]
        width = folded[-1] * prec.bits
        return LayerSpec(
            name,
            kind,
            width,
            width,
            0,
            None,
            prec,
            prec,
            extra=(("width", float(width)), ("depth", float(a.get("depth", 2)))),
        )
    prec = _precision(a.get("inputDataType", "UINT8"))
    ch = int(a.get("NumChannels", a.get("Channels", 1)))
    return LayerSpec(name, kind, ch, ch, 1, None, prec, prec, pe=int(a.get("PE", 1)))


def compiled_specs(path: Path) -> list[LayerSpec]:
    """The priced nodes of a compiled dataflow model (``RUN/compiled.onnx``), in order.

    Raises:
        CodesignError: The file is missing or has a node with an unknown datatype.
    """
    import onnx
    from onnx import helper

    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path} not found: is it a finished compile run folder?")
    proto = onnx.load(str(path), load_external_data=False)
    shapes = {init.name: tuple(init.dims) for init in proto.graph.initializer}
    out = []
    for node in proto.graph.node:
        attrs = {}
        for attr in node.attribute:
            value = helper.get_attribute_value(attr)
            attrs[attr.name] = value.decode() if isinstance(value, bytes) else value
        spec = node_spec(node.name, node.op_type, attrs)
        if spec is None:
            continue
        if spec.kind is LayerKind.THRESHOLDING and len(node.input) > 1:
            # rows of the threshold matrix: 1 for per-tensor scales (one set the RTL
            # shares across channels), the channel count for per-channel ones
            dims = shapes.get(node.input[1])
            if dims:
                spec = replace(spec, extra=(*spec.extra, ("trows", float(dims[0]))))
        out.append(spec)
    return out


def spec_to_dict(spec: LayerSpec) -> dict[str, Any]:
    """JSON form of a LayerSpec."""

    def prec(p: Precision | None) -> list[Any] | None:
        return None if p is None else [p.bits, p.signed]

    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "mw": spec.mw,
        "mh": spec.mh,
        "vectors": spec.vectors,
        "weight": prec(spec.weight),
        "act_in": prec(spec.act_in),
        "act_out": prec(spec.act_out),
        "pe": spec.pe,
        "simd": spec.simd,
        "impl": spec.impl.value,
        "extra": {k: v for k, v in spec.extra},
    }


def spec_from_dict(data: Mapping[str, Any]) -> LayerSpec:
    """Rebuild a LayerSpec from :func:`spec_to_dict`'s output."""

    def prec(v: Any) -> Precision | None:  # noqa: ANN401 - JSON
        return None if v is None else Precision(int(v[0]), bool(v[1]))

    act_in = prec(data["act_in"])
    assert act_in is not None
    return LayerSpec(
        name=str(data["name"]),
        kind=LayerKind(data["kind"]),
        mw=int(data["mw"]),
        mh=int(data["mh"]),
        vectors=int(data["vectors"]),
        weight=prec(data["weight"]),
        act_in=act_in,
        act_out=prec(data["act_out"]),
        pe=int(data["pe"]),
        simd=int(data["simd"]),
        impl=Impl(data["impl"]),
        extra=tuple((str(k), float(v)) for k, v in data["extra"].items()),
    )
