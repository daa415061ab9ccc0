"""``codesign build`` without Vivado: folder written, one clear message, exit status 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.boards import load_board
from codesign.build import (
    EXIT_NEEDS_VIVADO,
    require_build_tools,
    run_xsim_performance,
    vivado_status,
)
from codesign.build.folding import extract_folding_config
from codesign.errors import ToolNotFoundError
from codesign.settings import Settings

CODESIGN = Path(sys.executable).parent / "codesign"
NO_VIVADO = Settings(path="/usr/bin:/bin")


def _env_without_vivado() -> dict[str, str]:
    drop = ("XILINX_VIVADO", "XILINX_VITIS", "XILINX_HLS", "XILINX_XRT", "PLATFORM_REPO_PATHS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = "/usr/bin:/bin"
    return env


def _write_folding(run: Path) -> None:
    from qonnx.core.modelwrapper import ModelWrapper

    cfg = extract_folding_config(ModelWrapper(str(run / "compiled.onnx")))
    (run / "folding_config.json").write_text(json.dumps(cfg))


def _codesign(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CODESIGN), *args],
        env=_env_without_vivado(),
        text=True,
        capture_output=True,
        check=False,
        timeout=600,
    )


def test_build_without_vivado_writes_folder_and_exits_3(run_copy: Path, tmp_path: Path) -> None:
    _write_folding(run_copy)
    out = tmp_path / "bld"
    proc = _codesign("build", str(run_copy), "--board", "pynq-z2", "--out", str(out))
    assert proc.returncode == EXIT_NEEDS_VIVADO == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"build folder: {out}" in proc.stdout
    assert "FIFOs sized in simulation" in proc.stdout
    err = " ".join(proc.stderr.split())
    assert "not built: Vivado not found" in err
    assert "settings64.sh" in err
    assert f"codesign build {run_copy} --board pynq-z2 --out {out}" in err
    assert (
        f"cd {out} && finn build --batch -b finn_build -o output build_config.yaml model.onnx"
    ) in err
    assert f"--out {out} --collect" in err
    for name in (
        "build_config.json",
        "build_config.yaml",
        "model.onnx",
        "folding_config.json",
        "fifo_config.json",
        "codesign_build.json",
        "qonnx/model.onnx",
    ):
        assert (out / name).is_file(), name
    assert list((out / "rtl").glob("code_gen_ipgen_MVAU_rtl_0_*/*.v"))
    meta = json.loads((out / "codesign_build.json").read_text())
    assert meta["board"] == "Pynq-Z2" and meta["fifos_sized"] is True
    assert not (out / "output").exists()  # nothing pretends to have run the builder


def test_build_without_folding_config_is_one_line_error(run_copy: Path, tmp_path: Path) -> None:
    proc = _codesign("build", str(run_copy), "--board", "pynq-z2", "--out", str(tmp_path / "b"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "folding_config.json is missing" in " ".join(proc.stderr.split())


def test_vivado_status_without_vivado() -> None:
    status = vivado_status(NO_VIVADO)
    assert not status.usable and status.path is None and status.version is None
    assert status.describe().startswith("Vivado not found")
    assert "source <Xilinx>/Vivado/<ver>/settings64.sh" in status.describe()


def test_tools_are_required_without_vivado() -> None:
    with pytest.raises(ToolNotFoundError, match="Vivado not found"):
        require_build_tools(load_board("u250"), NO_VIVADO)


def test_xsim_without_vivado_raises_with_fix(run_copy: Path) -> None:
    _write_folding(run_copy)
    with pytest.raises(
        ToolNotFoundError,
        match=r"xsim needs Vivado: Vivado not found .*"
        r"settings64.sh",
    ):
        run_xsim_performance(run_copy, load_board("pynq-z2"), settings=NO_VIVADO)
    assert not (run_copy / "xsim").exists()


def test_finish_command_reaches_finn_and_fails_with_log_tail(
    run_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed finn-plus command is accepted by finn-plus's CLI; without Vivado, finn-plus
    itself stops at its XSI check, and codesign reports that with the log's tail."""
    from codesign.build.build import _run_finn
    from codesign.build.folder import prepare_build
    from codesign.errors import ToolFailedError
    from codesign.settings import Settings

    _write_folding(run_copy)
    folder = prepare_build(run_copy, load_board("pynq-z2"), tmp_path / "b", write_rtl=False)
    for var in ("XILINX_VIVADO", "XILINX_HLS", "XILINX_VITIS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(ToolFailedError) as err:
        _run_finn(folder, Settings.from_env())
    msg = str(err.value)
    assert msg.startswith("finn-plus build failed (exit 1, status None)")
    assert "finn build --batch -b finn_build -o output build_config.yaml model.onnx" in msg
    assert "XILINX_VIVADO environment variable not set" in msg
    assert (folder.path / "logs" / "finn_build.log").is_file()


def test_simulate_engine_xsim_without_vivado_is_one_line_error(run_copy: Path) -> None:
    _write_folding(run_copy)
    proc = _codesign("simulate", str(run_copy), "--engine", "xsim")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    err = " ".join(proc.stderr.split())
    assert "xsim needs Vivado: Vivado not found" in err and "settings64.sh" in err
    assert not (run_copy / "xsim").exists()
