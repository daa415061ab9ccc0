"""A sweep on a real Dask LocalCluster (2 workers on loopback), then its HTML report opened
in a real headless chromium: the front table and the embedded plot must render."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sweep_helpers import COMPILE, write_sweep

from codesign.sweep.db import load_points, open_db
from codesign.sweep.report import write_report
from codesign.sweep.runner import run_sweep
from codesign.sweep.spec import load_sweep_spec
from codesign.sweep.store import PointStatus, PointStore

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two points (W2A2, W4A4) trained, evaluated, exported and compiled on the cluster."""
    distributed = pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask_sweep")
    path = write_sweep(
        folder,
        "  bits:\n    uniform: [{weight: 2, act: 2}, {weight: 4, act: 4}]\n",
        steps="train, evaluate, export, compile",
        extra=COMPILE,
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        summary = run_sweep(load_sweep_spec(path), scheduler=cluster.scheduler_address)
        hosts = {r.host for r in PointStore(folder / "out")}
    assert (summary.points, summary.done, summary.failed) == (2, 2, 0), summary.failures
    assert hosts
    return folder / "out"


def test_points_ran_on_the_cluster(cluster_sweep: Path) -> None:
    recs = list(PointStore(cluster_sweep))
    assert {r.labels["bits"] for r in recs} == {"W2A2", "W4A4"}
    for rec in recs:
        assert rec.status is PointStatus.DONE
        hw = rec.report["hardware"]
        assert hw["board"] == "pynq-z2" and hw["resources"]["finn"]["lut"] > 0
        assert any(layer["op_type"] == "MVAU_rtl" for layer in rec.layers)
    # The workers wrote both points to the results database: the sweep rows, and FINN's
    # estimate of each design with its layers, with the run folder as provenance.
    url = f"sqlite:///{cluster_sweep / 'results.sqlite'}"
    rows = load_points(url, "tiny")
    assert sorted(r["digest"] for r in rows) == sorted(r.digest for r in recs)
    assert all(r["lut_source"] == "finn" and r["lut"] > 0 for r in rows)
    designs = open_db(url).query(stage="compile")
    assert {Path(d["run_dir"]).parent.name for d in designs} == {r.digest for r in recs}


def test_html_report_renders_in_chromium(cluster_sweep: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium; install it with `apt-get install chromium` (make setup)")
    written = write_report(cluster_sweep)
    assert written.png.stat().st_size > 10_000
    assert written.csv.read_text().count("\n") == 1 + 2 * 4  # 2 points x 4 qualities
    html = written.html.read_text()
    assert "http://" not in html and "https://" not in html  # offline: nothing to fetch
    run = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(  # noqa: S603
        [*run, "--dump-dom", written.html.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    # The page's own script sets these once the embedded PNG has decoded.
    assert 'data-plot="rendered ' in dom
    assert 'data-front-rows="2"' in dom
    assert "W2A2" in dom and "MVAU_rtl_0" in dom
    shot = tmp_path / "report.png"
    subprocess.run(  # noqa: S603
        [*run, f"--screenshot={shot}", "--window-size=1280,1400", written.html.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000
