"""QONNX export of a :class:`~codesign.models.cnn.QuantCNN`, with the facts the host needs.

brevitas 0.13.4 on torch 2.13 exports through the dynamo exporter and writes the weights as
ONNX *external data*: ``model.onnx`` plus ``model.onnx.data`` in the same folder (qonnx's
``ModelWrapper`` loads the pair). :func:`export_qonnx` adds ``metadata_props`` to the graph
so later steps need not re-derive them from the Brevitas model:

==========================  ===============================================================
key                         value
==========================  ===============================================================
``codesign.input_shape``    JSON list ``[1, C, H, W]`` (the export batch size is 1)
``codesign.input_bits``     bit-width of the unsigned input quantizer
``codesign.input_scale``    ``1 / (2^input_bits - 1)``: dataflow input = ``round(x / scale)``
``codesign.input_signed``   ``"false"``
``codesign.output_scale``   logits / output_scale = classifier accumulator (integers)
``codesign.arch``           JSON of :meth:`CnnArch.to_dict`
``codesign.bits``           JSON of :meth:`BitConfig.to_dict`
==========================  ===============================================================
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from brevitas.export import export_qonnx as _brevitas_export_qonnx

from codesign.errors import CodesignError
from codesign.io import atomic_write_bytes
from codesign.models.bits import BitConfig, Precision
from codesign.models.cnn import CnnArch, QuantCNN

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
"""File name of the exported model inside ``out_dir``."""

DATA_FILE = "model.onnx.data"
"""File name of the external weight data next to :data:`MODEL_FILE`."""

META_PREFIX = "codesign."
META_INPUT_SHAPE = META_PREFIX + "input_shape"
META_INPUT_BITS = META_PREFIX + "input_bits"
META_INPUT_SCALE = META_PREFIX + "input_scale"
META_INPUT_SIGNED = META_PREFIX + "input_signed"
META_OUTPUT_SCALE = META_PREFIX + "output_scale"
META_ARCH = META_PREFIX + "arch"
META_BITS = META_PREFIX + "bits"


@dataclass(frozen=True)
class ExportMetadata:
    """What :func:`export_qonnx` records in the ONNX ``metadata_props``.

    Attributes:
        input_shape: ``(1, C, H, W)``.
        input_bits: Input quantizer bit-width.
        input_scale: Constant input scale; the dataflow input is ``round(x / input_scale)``.
        input_signed: Always false (images are non-negative).
        output_scale: Logits divided by this are the classifier's integer accumulators.
        arch: The architecture.
        bits: The bit-width policy.
    """

    input_shape: tuple[int, ...]
    input_bits: int
    input_scale: float
    input_signed: bool
    output_scale: float
    arch: CnnArch
    bits: BitConfig

    @property
    def input_precision(self) -> Precision:
        """The dataflow input precision (``UINT<input_bits>``)."""
        return Precision(self.input_bits, signed=self.input_signed)

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries (all values are strings)."""
        return {
            META_INPUT_SHAPE: json.dumps(list(self.input_shape)),
            META_INPUT_BITS: str(self.input_bits),
            META_INPUT_SCALE: repr(self.input_scale),
            META_INPUT_SIGNED: "true" if self.input_signed else "false",
            META_OUTPUT_SCALE: repr(self.output_scale),
            META_ARCH: json.dumps(self.arch.to_dict(), sort_keys=True),
            META_BITS: json.dumps(self.bits.to_dict(), sort_keys=True),
        }

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ExportMetadata:
        """Parse the entries written by :meth:`to_props`.

        Raises:
            CodesignError: An entry is missing (the model was not exported by codesign).
        """
        missing = [
            key
            for key in (
                META_INPUT_SHAPE,
                META_INPUT_BITS,
                META_INPUT_SCALE,
                META_INPUT_SIGNED,
                META_OUTPUT_SCALE,
                META_ARCH,
                META_BITS,
            )
            if key not in props
        ]
        if missing:
            raise CodesignError(
                f"ONNX model lacks codesign metadata ({', '.join(missing)}); "
                "export it with codesign.models.export.export_qonnx"
            )
        return cls(
            input_shape=tuple(json.loads(props[META_INPUT_SHAPE])),
            input_bits=int(props[META_INPUT_BITS]),
            input_scale=float(props[META_INPUT_SCALE]),
            input_signed=props[META_INPUT_SIGNED] == "true",
            output_scale=float(props[META_OUTPUT_SCALE]),
            arch=CnnArch.from_dict(json.loads(props[META_ARCH])),
            bits=BitConfig.from_dict(json.loads(props[META_BITS])),
        )


def export_metadata(model: QuantCNN) -> ExportMetadata:
    """The metadata :func:`export_qonnx` records for ``model`` (scales as of now)."""
    with torch.no_grad():
        output_scale = model.output_scale()
    return ExportMetadata(
        input_shape=(1, *model.arch.input_shape),
        input_bits=model.bits.input_bits,
        input_scale=model.input_scale,
        input_signed=False,
        output_scale=output_scale,
        arch=model.arch,
        bits=model.bits,
    )


def read_export_metadata(onnx_path: Path) -> ExportMetadata:
    """Read the metadata of a model written by :func:`export_qonnx` (weights not loaded).

    Raises:
        CodesignError: The file is missing or lacks codesign metadata.
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise CodesignError(f"ONNX model not found: {onnx_path}")
    proto = onnx.load(str(onnx_path), load_external_data=False)
    return ExportMetadata.from_props({p.key: p.value for p in proto.metadata_props})


def export_qonnx(model: QuantCNN, out_dir: Path) -> Path:
    """Export ``model`` (in eval mode) to QONNX at ``out_dir/model.onnx``.

    The export runs on a dummy ``(1, C, H, W)`` input; in eval mode every scale of the family
    is data-independent, so the graph does not depend on it. The model's train/eval mode is
    restored afterwards. Existing ``model.onnx`` / ``model.onnx.data`` are replaced; a
    failed export leaves them untouched.

    Args:
        model: A model from :func:`~codesign.models.cnn.build_cnn`.
        out_dir: Output folder (created if missing).

    Returns:
        The path of ``model.onnx``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    start = time.monotonic()
    try:
        meta = export_metadata(model)
        device = next(model.parameters()).device
        dummy = torch.zeros(meta.input_shape, device=device)  # (1, C, H, W)
        with tempfile.TemporaryDirectory(prefix=".export-", dir=out_dir) as tmp:
            tmp_model = Path(tmp) / MODEL_FILE
            _brevitas_export_qonnx(model, input_t=dummy, export_path=str(tmp_model))
            proto = onnx.load(str(tmp_model), load_external_data=False)
            del proto.metadata_props[:]
            for key, value in meta.to_props().items():
                entry = proto.metadata_props.add()
                entry.key, entry.value = key, value
            tmp_data = Path(tmp) / DATA_FILE
            if tmp_data.exists():
                tmp_data.replace(out_dir / DATA_FILE)
            else:
                (out_dir / DATA_FILE).unlink(missing_ok=True)
            model_path = atomic_write_bytes(out_dir / MODEL_FILE, proto.SerializeToString())
            stray = [p.name for p in Path(tmp).iterdir() if p.name != MODEL_FILE]
            if stray:
                log.warning("brevitas export wrote unexpected files, ignored: %s", stray)
    finally:
        model.train(was_training)
    log.info(
        "exported %s (%s) to %s in %.1f s",
        model.arch.layer_names(),
        model.bits.describe(),
        model_path,
        time.monotonic() - start,
    )
    return model_path


__all__ = [
    "DATA_FILE",
    "MODEL_FILE",
    "ExportMetadata",
    "export_metadata",
    "export_qonnx",
    "read_export_metadata",
]
