"""Golden checks: run the same input through QONNX execution and FINN's dataflow graph.

The dataflow graph is executed by FINN itself (``finn.core.onnx_exec.execute_onnx`` on
``RUN/parent.onnx``, whose StreamingDataflowPartition holds the compiled HW layers). In
finn-plus 1.6.1 an ``_rtl`` node has two exec modes, ``"cppsim"`` and ``"rtlsim"``; for RTL
nodes ``"cppsim"`` runs the Python model of the abstract layer (e.g. ``MVAU.execute_node``,
numpy), no C++ compiler involved, while ``"rtlsim"`` needs Vivado's xsim. So this module
sets ``exec_mode="cppsim"`` on every node: the "python" execution of the HW graph.

Comparisons happen in the integer domain: the dataflow partition outputs integers (the
last MVAU's accumulators); the host-side tail of the parent graph (a Mul by the output
scale, possibly an Add) maps them to floats. :func:`integer_outputs` inverts that tail on
the QONNX output, so both sides can be compared with ``np.array_equal``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from codesign.errors import UnsupportedModelError

_EXEC_MODE = "cppsim"  # the Python execution of _rtl nodes in finn-plus 1.6.1 (see above)


def load_qonnx_for_exec(qonnx_path: Path) -> ModelWrapper:
    """Load a QONNX file and tidy it (shapes, constants) so qonnx can execute it."""
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(ModelWrapper(str(qonnx_path)))


def execute_qonnx(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    """Run the QONNX model (Quant nodes executed by qonnx) on one input batch."""
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return execute_onnx(model, {iname: x.astype(np.float32)})[oname]


@dataclass(frozen=True)
class DataflowOutput:
    """One execution of the parent graph.

    Attributes:
        output: The parent graph's (float) output.
        integers: The dataflow partition's output, before the host-side tail.
    """

    output: np.ndarray
    integers: np.ndarray


class DataflowRunner:
    """Executes ``parent.onnx`` with its partition replaced by a Python-executable copy.

    Args:
        parent_path: ``RUN/parent.onnx``.
        dataflow_path: The dataflow model to run inside the partition (``RUN/compiled.onnx``
            or an intermediate after specialization).
        work_dir: Where the exec-mode copy is written (a temp folder by default).
    """

    def __init__(
        self, parent_path: Path, dataflow_path: Path, work_dir: Path | None = None
    ) -> None:
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="codesign-golden-")
        work = Path(work_dir) if work_dir else Path(self._tmp.name)  # type: ignore[union-attr]
        dataflow = ModelWrapper(str(dataflow_path))
        for node in dataflow.graph.node:
            getCustomOp(node).set_nodeattr("exec_mode", _EXEC_MODE)
        exec_path = work / "dataflow_exec.onnx"
        dataflow.save(str(exec_path))
        self.parent = ModelWrapper(str(parent_path))
        sdp = self.parent.get_nodes_by_op_type("StreamingDataflowPartition")
        if len(sdp) != 1:
            raise UnsupportedModelError(f"{parent_path} has {len(sdp)} dataflow partitions")
        getCustomOp(sdp[0]).set_nodeattr("model", str(exec_path))
        self._sdp_out = sdp[0].output[0]
        self.scale, self.offset = host_tail_affine(self.parent, self._sdp_out)

    def run(self, x: np.ndarray) -> DataflowOutput:
        """Execute one input (batch 1, the model's input layout)."""
        from finn.core.onnx_exec import execute_onnx

        iname, oname = self.parent.graph.input[0].name, self.parent.graph.output[0].name
        ctx = execute_onnx(
            self.parent, {iname: x.astype(np.float32)}, return_full_exec_context=True
        )
        return DataflowOutput(output=ctx[oname], integers=ctx[self._sdp_out])


def host_tail_affine(parent: ModelWrapper, sdp_output: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` of the host-side ops after the partition: ``y = q * scale + offset``.

    Raises:
        UnsupportedModelError: The tail holds something other than Mul/Add by constants.
    """
    scale, offset = np.float64(1.0), np.float64(0.0)
    tensor = sdp_output
    while True:
        consumer = parent.find_consumer(tensor)
        if consumer is None:
            break
        const = parent.get_initializer(consumer.input[1]) if len(consumer.input) > 1 else None
        if consumer.op_type == "Mul" and const is not None:
            scale, offset = scale * const, offset * const
        elif consumer.op_type == "Add" and const is not None:
            offset = offset + const
        elif consumer.op_type in ("Reshape", "Flatten", "Identity"):
            pass
        else:
            raise UnsupportedModelError(
                f"host-side tail node {consumer.name} "
                f"({consumer.op_type}) is not a Mul/Add by a constant"
            )
        tensor = consumer.output[0]
    return np.asarray(scale, dtype=np.float64), np.asarray(offset, dtype=np.float64)


def run_tail_affine(parent_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`host_tail_affine` after the one dataflow partition of ``RUN/parent.onnx``.

    Raises:
        UnsupportedModelError: The model has not exactly one partition, or its tail holds
            something other than Mul/Add by constants.
    """
    parent = ModelWrapper(str(parent_path))
    sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    if len(sdp) != 1:
        raise UnsupportedModelError(f"{parent_path} has {len(sdp)} dataflow partitions")
    return host_tail_affine(parent, sdp[0].output[0])


def integer_outputs(
    y: np.ndarray, scale: np.ndarray, offset: np.ndarray, tol: float = 1e-3
) -> np.ndarray:
    """Map float outputs back to the integers the dataflow graph computes.

    ``y`` usually comes from a float32 forward pass (Brevitas), whose rounding error grows
    with the magnitudes a layer sums: a W8A8 classifier's accumulators reach ~3e5, where a
    float32 ulp is ~0.03, and a small output of the same row carries the error of those
    large partial sums (seen: 0.008 off at 1.2e3 beside 2.7e5). Each element may therefore
    be off the grid by ``tol`` plus a few float32 ulps of the largest magnitude in its row
    (the last axis), capped at 0.25 so the rounding stays unambiguous. The integers are
    still compared exactly with the design's afterwards.

    Raises:
        ValueError: ``y`` is not an integer grid under ``(scale, offset)`` (within that
            tolerance).
    """
    q = (np.asarray(y, dtype=np.float64) - offset) / scale
    off = np.abs(q - np.round(q))
    mag = np.abs(q).max(axis=-1, keepdims=True) if q.ndim and q.size else np.abs(q)
    allowed = np.minimum(tol + _ULPS * np.finfo(np.float32).eps * mag, 0.25)
    allowed = np.broadcast_to(allowed, q.shape)
    if q.size and bool(np.any(off > allowed)):
        worst = int(np.argmax(off - allowed))
        raise ValueError(
            "outputs are not integers times the output scale "
            f"(off by {off.flat[worst]:.3g} at {abs(q.flat[worst]):.3g}, "
            f"allowed {allowed.flat[worst]:.3g})"
        )
    return np.round(q).astype(np.int64)


#: float32 ulps of its row's largest magnitude that :func:`integer_outputs` tolerates.
_ULPS = 8
