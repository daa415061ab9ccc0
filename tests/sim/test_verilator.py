"""Running a plan: a tool failure names the log, shows an excerpt and the command to rerun."""

from __future__ import annotations

import dataclasses

import pytest

from codesign.errors import ToolFailedError
from codesign.settings import Settings
from codesign.sim.stitch import BuildPlan
from codesign.sim.verilator import build, verilator_version

pytestmark = pytest.mark.verilator


def test_build_failure_reports_excerpt_and_command(tmp_path) -> None:
    settings = dataclasses.replace(Settings.from_env(), cache_dir=tmp_path / "cache")
    plan = BuildPlan(
        files={
            "rtl/broken.sv": "module broken (input logic a;\nendmodule\n",
            "sources.f": "rtl/broken.sv\n",
        },
        command=(
            "verilator",
            "--binary",
            "--top-module",
            "broken",
            "-Mdir",
            "obj",
            "-f",
            "sources.f",
        ),
        executable="obj/Vbroken",
        tool_version=verilator_version(settings),
        streams=(),
        fifos=(),
        trace=False,
    )
    with pytest.raises(ToolFailedError) as err:
        build(plan, tmp_path / "logs", settings, timeout_s=120)
    msg = str(err.value)
    assert "Verilator build exited" in msg
    assert "%Error" in msg and "broken.sv" in msg
    assert "reproduce with: cd " in msg and "--top-module broken" in msg
    assert (tmp_path / "logs" / "verilator_build.log").read_text().startswith("$ cd ")
    # a failed build leaves no cache entry
    assert not (tmp_path / "cache" / "verilator" / plan.digest()).exists()
