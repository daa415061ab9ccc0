"""Compile: QONNX -> FINN HW dataflow graph -> RTL, as named steps, with estimates.

Public API (importing it loads FINN, so the CLI imports it lazily)::

    from codesign.finn import CompileConfig, compile_model
    result = compile_model(Path("model.onnx"), CompileConfig(board="pynq-z2", fps=10_000),
                           Path("runs/c1"))
    result.estimates.fps, result.compiled
"""

from codesign.finn.compile import CompileResult, compile_model, load_result
from codesign.finn.config import CompileConfig
from codesign.finn.estimates import Estimates, LayerEstimate
from codesign.finn.steps import STEP_NAMES

__all__ = [
    "STEP_NAMES",
    "CompileConfig",
    "CompileResult",
    "Estimates",
    "LayerEstimate",
    "compile_model",
    "load_result",
]
