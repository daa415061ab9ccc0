"""FPGA boards as data: one ``boards/<name>.yaml`` per board, loaded into a frozen :class:`Board`.

Adding a board adds a file, not code. Names are matched case-insensitively against the
board's ``name`` and its FINN board name, so ``pynq-z2``, ``Pynq-Z2`` and ``KV260_SOM`` all
work.

Example:
    >>> board = load_board("pynq-z2")
    >>> board.part, board.capacity.lut
    ('xc7z020clg400-1', 53200)
"""

from __future__ import annotations

import importlib.resources
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from codesign.errors import ConfigError
from codesign.resources import Resources

log = logging.getLogger(__name__)

# codesign's package data (codesign/boards/), found through importlib.resources so that a
# wheel install finds it as an editable one does (the package is not zip-safe: a real path).
DEFAULT_BOARDS_DIR = Path(str(importlib.resources.files("codesign").joinpath("boards")))


class Family(StrEnum):
    """FPGA device family, named as Yosys's ``synth_xilinx -family`` names them."""

    XC7 = "xc7"  # 7-series / Zynq-7000 (DSP48E1)
    XCU = "xcu"  # UltraScale (DSP48E2)
    XCUP = "xcup"  # UltraScale+ / Zynq UltraScale+ / Alveo (DSP48E2)
    VERSAL = "versal"  # Versal (DSP58)


class ShellFlow(StrEnum):
    """How FINN wraps the accelerator: a Zynq block design or a Vitis Alveo kernel."""

    ZYNQ = "zynq"
    ALVEO = "alveo"


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=False))
class Board:
    """One FPGA board: its device, whole-device resources and FINN's name for it.

    Attributes:
        name: Display name, e.g. ``Pynq-Z2``.
        part: Full FPGA part number as Vivado and FINN use it.
        family: Device family (selects DSP primitive and Yosys family).
        lut: CLB LUTs of the device.
        ff: CLB flip-flops of the device.
        bram18: Block RAM in 18 Kb halves.
        uram: UltraRAM blocks.
        dsp: DSP slices.
        clock_ns: Default target clock period in nanoseconds.
        shell: FINN shell flow (Zynq or Alveo).
        finn_board: The board's key in finn-plus's tables (``finn.util.basic.part_map``).
    """

    name: Annotated[str, Field(min_length=1)]
    part: Annotated[str, Field(min_length=1)]
    family: Family
    lut: Annotated[int, Field(ge=0)]
    ff: Annotated[int, Field(ge=0)]
    bram18: Annotated[int, Field(ge=0)]
    uram: Annotated[int, Field(ge=0)]
    dsp: Annotated[int, Field(ge=0)]
    clock_ns: Annotated[float, Field(gt=0)]
    shell: ShellFlow
    finn_board: Annotated[str, Field(min_length=1)]

    @property
    def capacity(self) -> Resources:
        """The device's resources, to compare estimates and measurements against."""
        return Resources(lut=self.lut, ff=self.ff, bram18=self.bram18, uram=self.uram, dsp=self.dsp)

    @property
    def clock_mhz(self) -> float:
        """Default target clock frequency in MHz."""
        return 1000.0 / self.clock_ns


def load_board_file(path: Path) -> Board:
    """Load one board YAML file.

    Args:
        path: A ``boards/<name>.yaml`` file.

    Returns:
        The validated board.

    Raises:
        ConfigError: The file cannot be read, is not a YAML mapping, has unknown or missing
            keys, or a value of the wrong type.
    """
    path = Path(path)
    try:
        data: Any = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read board file {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"board file {path} is not valid YAML: {_one_line(str(err))}") from err
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ConfigError(
            f"board file {path} must hold a mapping of keys to values, not {type(data).__name__}"
        )
    try:
        return Board(**data)
    except ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise ConfigError(f"board file {path}: {problems}") from err


def list_boards(folder: Path | None = None) -> list[str]:
    """Names of the boards in ``folder`` (default: codesign's ``boards/``), sorted.

    Raises:
        ConfigError: The folder is missing, or one of its files is malformed.
    """
    return sorted((b.name for b in _load_all(_boards_dir(folder))), key=str.lower)


def load_board(name: str, folder: Path | None = None) -> Board:
    """Load the board called ``name`` (case-insensitive; its FINN board name works too).

    Args:
        name: Board name such as ``pynq-z2``, ``ZCU104`` or ``KV260_SOM``.
        folder: Folder of board YAML files; default codesign's ``boards/`` package data.

    Returns:
        The board.

    Raises:
        ConfigError: No board has that name (the message lists the known boards), or a
            board file is malformed.
    """
    folder = _boards_dir(folder)
    wanted = name.strip().lower()
    # Fast path: the file is named after the board.
    candidate = folder / f"{wanted}.yaml"
    if candidate.is_file():
        board = load_board_file(candidate)
        if wanted in (board.name.lower(), board.finn_board.lower()):
            return board
    boards = _load_all(folder)
    for board in boards:
        if wanted in (board.name.lower(), board.finn_board.lower()):
            return board
    known = ", ".join(sorted(b.name.lower() for b in boards))  # as the CLI and YAML spell them
    raise ConfigError(
        f"unknown board {name!r}; known boards: {known} (add one as {folder}/<name>.yaml)"
    )


def _boards_dir(folder: Path | None) -> Path:
    folder = DEFAULT_BOARDS_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"boards folder {folder} does not exist; pass the folder that holds "
            "the board YAML files (codesign's own are in codesign/boards/)"
        )
    return folder


def _load_all(folder: Path) -> list[Board]:
    boards = [load_board_file(p) for p in sorted(folder.glob("*.yaml"))]
    seen: dict[str, str] = {}
    for board in boards:
        for key in {board.name.lower(), board.finn_board.lower()}:
            if key in seen and seen[key] != board.name:
                raise ConfigError(
                    f"boards {seen[key]} and {board.name} in {folder} share the name {key!r}"
                )
            seen[key] = board.name
    return boards


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "file"
    if error["type"] == "unexpected_keyword_argument":
        return f"unknown key {where!r}"
    if error["type"] in ("missing", "missing_argument"):
        return f"missing key {where!r}"
    return f"{where}: {error['msg']} (got {error.get('input')!r})"


def _one_line(text: str) -> str:
    return " ".join(text.split())
