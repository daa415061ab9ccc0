"""Boards as data: every board agrees with finn-plus's own tables where finn-plus lists it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from finn.util import basic as finn_basic
from finn.util import platforms as finn_platforms

from codesign.boards import (
    DEFAULT_BOARDS_DIR,
    Board,
    Family,
    ShellFlow,
    list_boards,
    load_board,
    load_board_file,
)
from codesign.errors import ConfigError
from codesign.resources import Resources

REQUIRED = ["Pynq-Z1", "Pynq-Z2", "Ultra96-V2", "ZCU102", "ZCU104", "KV260", "AUP-ZU3", "U250"]
ALL_BOARDS = list_boards()
FIELDS = ("lut", "ff", "bram18", "uram", "dsp")


def _finn_totals(finn_board: str) -> dict[str, int]:
    """Whole-device totals from finn.util.platforms (the sum over SLRs)."""
    platform = finn_platforms.platforms[finn_board]()
    per_slr = platform.compute_resources  # [[LUT, FF, BRAM_18K, URAM, DSP], ...] one per SLR
    return {f: sum(int(slr[i]) for slr in per_slr) for i, f in enumerate(FIELDS)}


def test_required_boards_present():
    assert set(REQUIRED) <= set(ALL_BOARDS)


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_part_matches_finn_tables(name):
    board = load_board(name)
    assert board.finn_board in finn_basic.part_map, f"{board.finn_board} unknown to finn-plus"
    assert board.part == finn_basic.part_map[board.finn_board]
    table = (
        finn_basic.alveo_part_map if board.shell is ShellFlow.ALVEO else finn_basic.pynq_part_map
    )
    assert table[board.finn_board] == board.part


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_family_matches_part(name):
    board = load_board(name)
    prefix = {
        Family.XC7: ("xc7",),
        Family.XCU: ("xcku0", "xcvu0"),
        Family.XCUP: ("xczu", "xck2", "xcu", "xcvu", "xcku"),
        Family.VERSAL: ("xcv",),
    }[board.family]
    assert board.part.startswith(prefix)
    if board.family is Family.XC7:
        assert board.uram == 0  # 7-series has no UltraRAM


@pytest.mark.parametrize("name", ["Pynq-Z1", "Pynq-Z2"])
def test_zynq7020_resources_equal_finn_exactly(name):
    board = load_board(name)
    assert _finn_totals(board.finn_board) == {f: getattr(board, f) for f in FIELDS}
    assert board.capacity == Resources(lut=53200, ff=106400, bram18=280, uram=0, dsp=220)


# finn.util.platforms rounds the MPSoC LUT/FF counts to thousands (ZU3EG: 71,000 for 70,560)
# and lists a few BRAM/URAM fewer than the data sheets (ZU3EG 412 of 432 BRAM18, ZU7EV 92 of
# 96 URAM); for Alveo it lists what Vivado reports next to the shell (U250: 13% fewer LUTs).
# Our figures are the whole-device data-sheet counts; they must agree within these bounds.
_TOLERANCE = {ShellFlow.ZYNQ: 0.05, ShellFlow.ALVEO: 0.15}


@pytest.mark.parametrize(
    "name", [n for n in ALL_BOARDS if load_board(n).finn_board in finn_platforms.platforms]
)
def test_resources_match_finn_platforms(name):
    board = load_board(name)
    finn = _finn_totals(board.finn_board)
    tol = _TOLERANCE[board.shell]
    for field in FIELDS:
        ours = getattr(board, field)
        assert abs(finn[field] - ours) <= tol * ours, (
            f"{name}.{field}: finn {finn[field]}, ours {ours}"
        )
        if board.shell is ShellFlow.ALVEO:
            assert finn[field] <= ours  # the shell only takes resources away


def test_finn_platform_boards_are_checked():
    # The parametrized test above must cover these, or it would silently test nothing.
    checked = {load_board(n).finn_board for n in ALL_BOARDS} & set(finn_platforms.platforms)
    assert {"Pynq-Z1", "Pynq-Z2", "ZCU102", "ZCU104", "AUP-ZU3_8GB", "U250"} <= checked


def test_same_device_same_resources():
    # Boards on one device (Pynq-Z1/Z2, Ultra96/Ultra96-V2/AUP-ZU3, ZCU111/RFSoC2x2) must agree.
    by_device: dict[str, set[Resources]] = {}
    for name in ALL_BOARDS:
        board = load_board(name)
        device = re.sub(r"^(xc7z\d{3}).*", r"\1", board.part.split("-")[0])
        by_device.setdefault(device, set()).add(board.capacity)
    assert {d for d, caps in by_device.items() if len(caps) > 1} == set()
    assert {"xc7z020", "xczu3eg", "xczu28dr"} <= set(by_device)


def test_capacity_and_clock():
    board = load_board("ZCU104")
    assert board.capacity == Resources(lut=230400, ff=460800, bram18=624, uram=96, dsp=1728)
    assert board.clock_mhz == pytest.approx(1000.0 / board.clock_ns)
    assert board.family is Family.XCUP and board.shell is ShellFlow.ZYNQ


@pytest.mark.parametrize("alias", ["pynq-z2", "PYNQ-Z2", " Pynq-Z2 "])
def test_names_are_case_insensitive(alias):
    assert load_board(alias).name == "Pynq-Z2"


def test_finn_board_name_is_an_alias():
    assert load_board("kv260_som").name == "KV260"
    assert load_board("AUP-ZU3_8GB").name == "AUP-ZU3"


def test_board_is_frozen():
    board = load_board("pynq-z1")
    with pytest.raises(AttributeError):
        board.lut = 1  # type: ignore[misc]


def test_unknown_board_lists_known_boards():
    with pytest.raises(ConfigError) as info:
        load_board("pynq-z9")
    msg = str(info.value)
    assert msg.startswith("unknown board 'pynq-z9'; known boards: aup-zu3, kv260, pynq-z1,")
    for name in REQUIRED:
        assert name.lower() in msg


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_explicit_folder(tmp_path):
    shutil.copy(DEFAULT_BOARDS_DIR / "pynq-z1.yaml", tmp_path / "my-board.yaml")
    assert list_boards(tmp_path) == ["Pynq-Z1"]
    assert load_board("pynq-z1", folder=tmp_path).part == "xc7z020clg400-1"
    with pytest.raises(ConfigError, match=r"unknown board 'zcu104'; known boards: pynq-z1 "):
        load_board("zcu104", folder=tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"boards folder .*/nope does not exist"):
        list_boards(tmp_path / "nope")


def test_unknown_key_rejected(tmp_path):
    text = (DEFAULT_BOARDS_DIR / "pynq-z1.yaml").read_text() + "luts: 3\n"
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_board_file(path)
    assert str(info.value) == f"board file {path}: unknown key 'luts'"


def test_missing_key_and_bad_value(tmp_path):
    text = "\n".join(
        line
        for line in (DEFAULT_BOARDS_DIR / "pynq-z1.yaml").read_text().splitlines()
        if not line.startswith("dsp:")
    )
    text = text.replace("family: xc7", "family: xc9")
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_board_file(path)
    msg = str(info.value)
    assert msg.startswith(f"board file {path}: ")
    assert "family: Input should be 'xc7', 'xcu', 'xcup' or 'versal' (got 'xc9')" in msg
    assert "missing key 'dsp'" in msg


def test_malformed_yaml_names_file(tmp_path):
    path = _write(tmp_path, "broken.yaml", "name: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^board file {path} is not valid YAML: "):
        load_board_file(path)


def test_non_mapping_yaml(tmp_path):
    path = _write(tmp_path, "list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError, match=rf"^board file {path} must hold a mapping"):
        load_board_file(path)


def test_malformed_board_in_folder_fails_lookup(tmp_path):
    shutil.copy(DEFAULT_BOARDS_DIR / "pynq-z1.yaml", tmp_path / "pynq-z1.yaml")
    bad = _write(tmp_path, "zz.yaml", "name: ZZ\n")
    with pytest.raises(ConfigError, match=rf"^board file {bad}: missing key 'part'"):
        list_boards(tmp_path)


def test_duplicate_names_rejected(tmp_path):
    shutil.copy(DEFAULT_BOARDS_DIR / "pynq-z1.yaml", tmp_path / "a.yaml")
    text = (
        (DEFAULT_BOARDS_DIR / "pynq-z2.yaml").read_text().replace("name: Pynq-Z2", "name: pynq-z1")
    )
    _write(tmp_path, "b.yaml", text)
    with pytest.raises(ConfigError, match="share the name 'pynq-z1'"):
        list_boards(tmp_path)


def test_direct_construction_validates():
    with pytest.raises(ValueError, match="clock_ns"):
        Board(
            name="X",
            part="p",
            family="xc7",
            lut=1,
            ff=1,
            bram18=1,
            uram=0,
            dsp=1,
            clock_ns=0,
            shell="zynq",
            finn_board="X",
        )
