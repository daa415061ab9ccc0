"""Make the exported graph take the integer input that the hardware receives.

The family's input quantizer has a constant scale ``s = 1 / (2^b - 1)``
(:class:`~codesign.models.quant.InputQuant`). :class:`IntegerizeInput` replaces that input
``Quant`` node by ``Mul(x_int, s)`` and annotates the graph input as ``UINT<b>``. FINN then
streamlines the ``Mul`` into the first thresholds, and the dataflow partition's input is the
plain integer stream; the host computes ``x_int`` with
:func:`~codesign.models.quant.quantize_input`. On images that come from ``uint8`` pixels the
two graphs agree exactly (no rounding ties, see ``tests/models/test_export.py``).

Example:
    >>> from qonnx.core.modelwrapper import ModelWrapper
    >>> from qonnx.util.cleanup import cleanup_model
    >>> model = cleanup_model(ModelWrapper("run/qonnx/model.onnx"))  # doctest: +SKIP
    >>> model = model.transform(IntegerizeInput())  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

from codesign.errors import UnsupportedModelError

__all__ = ["IntegerizeInput"]


class IntegerizeInput(Transformation):
    """Replace the input ``Quant`` (unsigned, zero point 0) by ``Mul(x, scale)``, input ``UINTb``.

    Idempotent: a graph whose input already feeds a ``Mul`` and carries an integer datatype
    is left unchanged. Run it after qonnx ``cleanup_model`` (quantizer parameters must be
    initializers).
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        """Rewrite the graph input; see the class docstring.

        Raises:
            UnsupportedModelError: The graph input does not feed exactly one unsigned,
                constant-parameter ``Quant`` node with zero point 0.
        """
        if len(model.graph.input) != 1:
            raise UnsupportedModelError(
                f"expected a single graph input, found {len(model.graph.input)}"
            )
        in_name = model.graph.input[0].name
        consumers = model.find_consumers(in_name)
        if (
            len(consumers) == 1
            and consumers[0].op_type == "Mul"
            and model.get_tensor_datatype(in_name).is_integer()
        ):
            return model, False
        if len(consumers) != 1 or consumers[0].op_type != "Quant":
            found = [n.op_type for n in consumers]
            raise UnsupportedModelError(
                f"graph input '{in_name}' must feed one Quant node (the input quantizer), "
                f"it feeds {found}"
            )
        quant = consumers[0]
        scale, zero_point, bit_width = (model.get_initializer(t) for t in quant.input[1:4])
        if scale is None or zero_point is None or bit_width is None:
            raise UnsupportedModelError(
                f"input Quant node '{quant.name}' has non-constant parameters; "
                "run qonnx cleanup_model first"
            )
        signed = get_by_name(quant.attribute, "signed")
        narrow = get_by_name(quant.attribute, "narrow")
        if (signed is not None and signed.i != 0) or (narrow is not None and narrow.i != 0):
            raise UnsupportedModelError(
                f"input Quant node '{quant.name}' must be unsigned and not narrow-range"
            )
        if np.any(zero_point != 0) or np.size(scale) != 1:
            raise UnsupportedModelError(
                f"input Quant node '{quant.name}' must have a scalar scale and zero point 0"
            )
        bits = int(np.asarray(bit_width).item())
        scale_name = model.make_new_valueinfo_name()
        model.set_initializer(scale_name, np.asarray(scale, dtype=np.float32).reshape(()))
        mul = helper.make_node(
            "Mul", [in_name, scale_name], [quant.output[0]], name=f"{quant.name}_int_input_scale"
        )
        index = list(model.graph.node).index(quant)
        model.graph.node.remove(quant)
        model.graph.node.insert(index, mul)
        model.set_tensor_datatype(in_name, DataType[f"UINT{bits}"])
        model.set_tensor_datatype(quant.output[0], DataType["FLOAT32"])
        return model, True
