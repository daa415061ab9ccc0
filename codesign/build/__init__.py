"""Build: bitstreams through finn-plus's own builder, and Vivado's measurements.

Public API (FINN is imported only inside the functions that need it)::

    from codesign.boards import load_board
    from codesign.build import prepare_build, run_build, vivado_status

    board = load_board("pynq-z2")
    folder = prepare_build(Path("runs/c1"), board)      # no Vivado needed
    if vivado_status().usable:
        measurements = run_build(folder)                 # finn build + report parsing
    else:
        print("cd", folder.path, "&&", " ".join(folder.finn_command()))
"""

from codesign.build.build import (
    EXIT_NEEDS_VIVADO,
    SUPPORTED_VIVADO,
    Measurement,
    VivadoStatus,
    collect_measurements,
    load_measurements,
    parse_vivado_version,
    require_build_tools,
    run_build,
    run_xsim_performance,
    vivado_status,
)
from codesign.build.config import BUILD_STEPS, XSIM_STEPS, build_config_dict
from codesign.build.folder import BuildFolder, prepare_build
from codesign.build.vivado_reports import (
    ReportError,
    TimingSummary,
    UtilizationReport,
    parse_timing_summary,
    parse_utilization,
)

__all__ = [
    "BUILD_STEPS",
    "EXIT_NEEDS_VIVADO",
    "SUPPORTED_VIVADO",
    "XSIM_STEPS",
    "BuildFolder",
    "Measurement",
    "ReportError",
    "TimingSummary",
    "UtilizationReport",
    "VivadoStatus",
    "build_config_dict",
    "collect_measurements",
    "load_measurements",
    "parse_vivado_version",
    "parse_timing_summary",
    "parse_utilization",
    "prepare_build",
    "require_build_tools",
    "run_build",
    "run_xsim_performance",
    "vivado_status",
]
