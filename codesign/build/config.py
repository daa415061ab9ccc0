"""finn-plus ``DataflowBuildConfig`` for one board, as plain data.

The build starts finn-plus's own builder from the compiled dataflow model
(``RUN/compiled.onnx``), not from the QONNX. Why: codesign's compile is not FINN's default
step list (standalone thresholds before the MatMul conversion, ``preferred_impl_style="rtl"``,
the MVAU_rtl SIMD guard, codesign's folding search), so re-running FINN's front-end steps
from the QONNX would give a graph with other node names and possibly other
implementations, on which the folding config would no longer line up node for node. The
compiled model *is* the design that was estimated and simulated in Verilator; the builder
takes it over at code generation:

``step_apply_folding_config``
    re-applies ``folding_config.json`` (all folding attributes of every node, plus the
    Verilator-sized FIFO depths). On the compiled model this changes nothing by
    construction (:func:`codesign.build.folding.check_folding_config` refuses a config that
    would), and FINN writes ``report/applied_folding_config.json`` as the record.
``step_generate_estimate_reports``
    FINN's analytic estimates, next to Vivado's measurements in the same output folder.
``step_hw_codegen`` / ``step_hw_ipgen``
    PrepareIP / HLSSynthIP on the build machine (the model's code-generation paths are
    cleared, so the RTL is regenerated into the build folder from the same node attributes).
``step_set_fifo_depths``
    with ``auto_fifo_depths=False`` and ``fifo_config_file``: FINN's own
    ``ApplyFIFODepthsFromFile`` with the Verilator depths (already baked into the model, so
    the FIFO RTL is generated at its final depth in the first place).
``step_create_stitched_ip`` ... ``step_deployment_package``
    FINN's defaults: stitched IP, rtlsim performance (only when requested), out-of-context
    synthesis with place and route, the shell (Zynq block design or Vitis link), bitfile,
    driver and deployment package.

Every step is a name registered in finn-plus, so ``build_config.json`` is a plain FINN
config that ``finn build`` runs without codesign installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codesign.boards import Board, ShellFlow
from codesign.errors import ConfigError

#: The builder's steps, in order, starting after codesign's compile.
BUILD_STEPS: tuple[str, ...] = (
    "step_apply_folding_config",
    "step_generate_estimate_reports",
    "step_hw_codegen",
    "step_hw_ipgen",
    "step_set_fifo_depths",
    "step_create_stitched_ip",
    "step_measure_rtlsim_performance",
    "step_out_of_context_synthesis",
    "step_prepare_synthesis",
    "step_synthesize_bitfile",
    "step_make_driver",
    "step_deployment_package",
)

#: The steps of an xsim performance measurement: RTL, FIFO depths, the stitched IP (which
#: finn-plus documents as a prerequisite of its rtlsim step), then FINN's rtlsim.
XSIM_STEPS: tuple[str, ...] = (
    "step_apply_folding_config",
    "step_hw_codegen",
    "step_hw_ipgen",
    "step_set_fifo_depths",
    "step_create_stitched_ip",
    "step_measure_rtlsim_performance",
)

#: File names inside a build folder (all relative, so the folder can be moved).
MODEL_FILE = "model.onnx"
FOLDING_FILE = "folding_config.json"
FIFO_FILE = "fifo_config.json"
CONFIG_JSON = "build_config.json"
CONFIG_YAML = "build_config.yaml"
OUTPUT_DIR = "output"

_ZYNQ_OUTPUTS = (
    "stitched_ip",
    "estimate_reports",
    "out_of_context_synth",
    "bitfile",
    "pynq_driver",
    "deployment_package",
)
# The PYNQ driver also drives Alveo cards (platform "alveo"); the C++ driver would need a
# git checkout of finn-cpp-driver at build time, so it is left out.
_ALVEO_OUTPUTS = _ZYNQ_OUTPUTS


def build_config_dict(
    board: Board,
    clock_ns: float,
    *,
    part: str | None = None,
    steps: Sequence[str] = BUILD_STEPS,
    outputs: Sequence[str] | None = None,
    vitis_platform: str | None = None,
) -> dict[str, Any]:
    """The ``DataflowBuildConfig`` fields for a bitstream build of a compiled design.

    Paths are relative to the build folder, so the folder can be moved. finn-plus 1.6.1
    resolves ``folding_config_file`` against the config file's folder but leaves
    ``fifo_config_file`` relative to the working directory: the builder runs with the build
    folder as working directory (:meth:`~codesign.build.folder.BuildFolder.finn_command`).

    Args:
        board: Target board.
        clock_ns: Clock period the design was compiled for (``RUN/config.yaml``).
        part: FPGA part the design was compiled for; must be the board's.
        steps: Builder step names (finn-plus registered steps).
        outputs: ``DataflowOutputType`` values; default: everything up to the deployment
            package for the board's shell.
        vitis_platform: Alveo only: the Vitis platform (default: finn-plus's default for the
            board, e.g. ``xilinx_u250_gen3x16_xdma_4_1_202210_1``).

    Returns:
        A dict that ``DataflowBuildConfig.from_dict`` accepts.

    Raises:
        ConfigError: The compiled part is not the board's part, or a Vitis platform is given
            for a Zynq board.
    """
    if part is not None and part != board.part:
        raise ConfigError(
            f"the design was compiled for {part} but board {board.name} has "
            f"{board.part}: recompile with --board {board.name.lower()}"
        )
    zynq = board.shell == ShellFlow.ZYNQ
    if zynq and vitis_platform is not None:
        raise ConfigError(f"--vitis-platform applies to Alveo boards only, not {board.name}")
    cfg: dict[str, Any] = {
        "model_path": MODEL_FILE,
        "output_dir": OUTPUT_DIR,
        "board": board.finn_board,
        "fpga_part": board.part,
        "shell_flow_type": "vivado_zynq" if zynq else "vitis_alveo",
        "synth_clk_period_ns": float(clock_ns),
        "generate_outputs": list(outputs or (_ZYNQ_OUTPUTS if zynq else _ALVEO_OUTPUTS)),
        "steps": list(steps),
        "folding_config_file": FOLDING_FILE,
        "auto_fifo_depths": False,
        "fifo_config_file": FIFO_FILE,
        "minimize_bit_width": True,
        "save_intermediate_models": True,
        "console_log_level": "INFO",
        # The Zynq flow refuses None here (step_synthesize_bitfile); no instrumentation.
        "instrumentation_no_dma": False,
    }
    if not zynq:
        cfg["vitis_platform"] = vitis_platform or default_vitis_platform(board)
    return cfg


def default_vitis_platform(board: Board) -> str:
    """finn-plus's default Vitis platform for an Alveo board.

    Raises:
        ConfigError: finn-plus has no default for the board.
    """
    from finn.util.basic import alveo_default_platform

    try:
        return alveo_default_platform[board.finn_board]
    except KeyError:
        raise ConfigError(
            f"finn-plus has no default Vitis platform for {board.finn_board}; pass --vitis-platform"
        ) from None


def validate_build_config(data: dict[str, Any]) -> Any:  # noqa: ANN401 - a finn-plus object
    """Load ``data`` with finn-plus's own config loader (mashumaro, unknown keys rejected).

    Imports only ``finn.builder.build_dataflow_config``, which does not need Vivado.

    Returns:
        The ``DataflowBuildConfig``.

    Raises:
        ConfigError: finn-plus rejects the config (the message carries its reason).
    """
    from finn.builder.build_dataflow_config import DataflowBuildConfig
    from mashumaro.exceptions import ExtraKeysError, InvalidFieldValue, MissingField

    try:
        return DataflowBuildConfig.from_dict(data)
    except (ExtraKeysError, InvalidFieldValue, MissingField, ValueError) as err:
        raise ConfigError(f"finn-plus rejects the build config: {err}") from err
