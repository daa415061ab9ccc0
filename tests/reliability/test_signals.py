"""A compile killed mid-way by real SIGTERM or SIGKILL leaves the previous ``--out`` as it was.

The compile runs as a child process (``python -m codesign.cli.main``) on the flow run's
QONNX model (two 32-channel conv stages at 28x28: its compile takes seconds), into a copy
of an earlier compile run folder that also holds a user file. The signal is sent once the
child's hidden work folder shows that the ``streamline`` step is running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import Inputs, changes, copy_into, invoke, snapshot


def _start_and_signal(sandbox: Path, model: Path, sig: int) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "codesign.cli.main", "compile", str(model)]
    cmd += ["--board", "pynq-z2", "--fps", "50000", "--out", "out"]
    proc = subprocess.Popen(cmd, cwd=sandbox, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        logs = list(sandbox.glob(".out.*.tmp/logs/compile.log"))
        if logs and "streamline" in logs[0].read_text():
            proc.send_signal(sig)
            break
        time.sleep(0.005)
    else:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the compile ended before it could be signalled: {err.decode()[-2000:]}")
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out.decode(), err.decode())


@pytest.fixture
def previous_run(inputs: Inputs, sandbox: Path) -> tuple[Path, Path]:
    """``sandbox/out``: an earlier compile with a user file in it; and the model to compile."""
    out = copy_into(inputs.flow_run / "compile", sandbox / "out")
    (out / "notes.txt").write_text("mine\n")
    model = copy_into(inputs.flow_run / "qonnx", sandbox.parent / "in") / "model.onnx"
    return out, model


def test_sigterm_mid_compile_cleans_up_like_ctrl_c(
    previous_run: tuple[Path, Path], sandbox: Path, tmp_path: Path
) -> None:
    _, model = previous_run
    before = snapshot(tmp_path)
    res = _start_and_signal(sandbox, model, signal.SIGTERM)
    assert res.returncode == 143, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "error: terminated"
    assert "Traceback" not in res.stderr
    assert changes(before, snapshot(tmp_path)) == {"created": [], "changed": [], "removed": []}


def test_sigkill_mid_compile_leaves_the_previous_run_intact(
    previous_run: tuple[Path, Path], sandbox: Path, tmp_path: Path
) -> None:
    out, model = previous_run
    before = snapshot(tmp_path)
    res = _start_and_signal(sandbox, model, signal.SIGKILL)
    assert res.returncode == -signal.SIGKILL
    diff = changes(before, snapshot(tmp_path))
    assert diff["changed"] == [] and diff["removed"] == []
    # Only the killed process's hidden work folder is new; nothing can remove it then...
    assert {p.split("/")[1] for p in diff["created"]} <= {
        p.name for p in sandbox.glob(".out.*.tmp")
    }
    # ...so the next compile into the same folder sweeps it, and keeps the user's file.
    again = invoke(
        ["compile", str(model), "--board", "pynq-z2", "--fps", "50000", "--out", "out"], sandbox
    )
    assert again.code == 0, again.stderr
    assert not list(sandbox.glob(".out.*"))
    assert (out / "notes.txt").read_text() == "mine\n"
