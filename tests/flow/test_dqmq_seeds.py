"""`codesign evaluate --jobs` / `--scheduler`: seeds in parallel processes or on Dask give the
rows of a sequential run."""

from __future__ import annotations

import json

import pytest

from codesign.cli.main import run_cli
from codesign.flow.dqmq_seeds import parse_seeds

FLOW = """
run: {name: tiny-jobs, steps: [train_dqmq]}
data: {dataset: fashion_mnist, n_train: 64, n_test: 32, batch_size: 32}
model:
  arch:
    stages: [{width: 4, stride: 2}, {width: 4, stride: 2}]
dqmq:
  candidates: [[2, 2], [4, 4]]
  mix: {clean: 0.5, gaussian_noise: 0.25, contrast: 0.25}
  eval_severities: [3]
  epochs: 2
  warmup_epochs: 1
  cost_target: 0.1
  tiers: 2
  methods: [dqmq, uniform_w2a2]
"""


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("5-8, 2,6") == [5, 6, 7, 8, 2]
    assert parse_seeds("3-3,") == [3]
    for bad in ("", "a", "1-", "-2", "4-2", "1.5", "1--2"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def _timeless(path) -> list[dict]:
    """The rows without the training wall times (which differ run to run)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(path.read_text())]


def test_jobs_match_sequential_and_resume(tmp_path, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    one, par = tmp_path / "one", tmp_path / "par"
    code = run_cli(["evaluate", str(flow), "--seeds", "0,1", "--out", str(one)])
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0

    # the same seeds as tasks of a Dask cluster (two worker processes): the same rows
    distributed = pytest.importorskip("distributed")
    on_dask = tmp_path / "dask"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        code = run_cli(["evaluate", str(flow), "--seeds", "0,1", "--out", str(on_dask),
                        "--scheduler", cluster.scheduler_address])  # fmt: skip
    assert code == 0
    for seed in (0, 1):
        assert _timeless(on_dask / f"seed{seed}" / "rows.json") == _timeless(
            one / f"seed{seed}" / "rows.json"
        )
        assert "dqmq/tiers evaluated" in (on_dask / f"seed{seed}" / "evaluate.log").read_text()

    # seeds 0-2 in parallel; seed 2 cannot write its rows (a folder is in the way)
    (par / "seed2" / "rows.json").mkdir(parents=True)
    capsys.readouterr()
    code = run_cli(["evaluate", str(flow), "--seeds", "0-2", "--jobs", "3", "--out", str(par)])
    err = capsys.readouterr().err
    assert code != 0
    assert "seed 2 failed: IsADirectoryError" in err and "1 of 3 seed(s) failed" in err
    assert "Traceback" not in err
    assert "seed 2 failed" in (par / "seed2" / "evaluate.log").read_text()
    for seed in (0, 1):  # the same rows as one process running the seeds one after another
        rows = _timeless(par / f"seed{seed}" / "rows.json")
        assert rows == _timeless(one / f"seed{seed}" / "rows.json")
        assert any(r["method"] == "dqmq/tiers" for r in rows)
        assert (
            f"seed {seed} dqmq/tiers evaluated"
            in (par / f"seed{seed}" / "evaluate.log").read_text()
        )
    kept = json.loads((par / "results.json").read_text())  # the finished seeds, aggregated
    assert {r["seed"] for r in kept} == {0, 1}

    # the same command again: only seed 2 runs
    (par / "seed2" / "rows.json").rmdir()
    stamp = (par / "seed0" / "rows.json").stat().st_mtime_ns
    code = run_cli(["evaluate", str(flow), "--seeds", "0-2", "--jobs", "2", "--out", str(par)])
    assert code == 0
    assert (par / "seed0" / "rows.json").stat().st_mtime_ns == stamp
    assert {r["seed"] for r in json.loads((par / "results.json").read_text())} == {0, 1, 2}
    assert "dqmq/tiers" in capsys.readouterr().out  # the summary table is printed

    assert run_cli(["evaluate", str(flow), "--seeds", "3-1", "--out", str(par)]) != 0
    assert "--seeds '3-1': range '3-1' runs backwards" in capsys.readouterr().err


def test_a_missing_dataset_is_one_line_before_any_worker(tmp_path, monkeypatch, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    monkeypatch.setenv("CODESIGN_FASHION_MNIST", str(tmp_path / "nowhere"))
    out = tmp_path / "cmp"
    code = run_cli(["evaluate", str(flow), "--seeds", "0-3", "--jobs", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "fashion" in lines[0].lower() and "Traceback" not in err
    assert not any(out.glob("seed*"))  # no worker started, nothing half-written
