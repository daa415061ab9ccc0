"""Measure calibration points: export, compile, Yosys per layer (and whole), record.

The hardware side of ``codesign calibrate``: :mod:`codesign.cost.doe` says which networks,
this module produces their measurements, :mod:`codesign.cost.fit` fits the model to them.
Each finished point is one JSON record ``ROOT/points/<key>.json``, written atomically
only after every measurement of the point is in, and then stored in the results database
in one transaction. A restarted calibration skips points the database has, imports
records that were written but not yet stored, and measures the rest; compiles and Yosys
runs that a killed point had finished are reused (the run folder and the Yosys digest
cache), so nothing finished is lost and no point is recorded twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codesign.cost.doe import CalibPoint
from codesign.errors import CodesignError, ConfigError
from codesign.io import atomic_write_json
from codesign.settings import Settings, get_settings

log = logging.getLogger(__name__)

__all__ = ["POINTS_DIR", "RUNS_DIR", "measure_point", "point_record_path", "run_points"]

POINTS_DIR = "points"
RUNS_DIR = "runs"
#: on_point(index, total, key, what): what is "stored", "imported", "measured" or "failed".
PointFn = Callable[[int, int, str, str], None]


def point_record_path(root: Path, key: str) -> Path:
    """Where a point's finished record lives."""
    return Path(root) / POINTS_DIR / f"{key}.json"


def _compile(point: CalibPoint, run_dir: Path) -> Path:
    """Export and compile the point (reusing a finished compile of the same point)."""
    from codesign.finn import CompileConfig, compile_model

    marker = run_dir / "point.json"
    if (run_dir / "compiled.onnx").is_file() and marker.is_file():
        if json.loads(marker.read_text()) == point.to_dict():
            return run_dir
    import torch

    from codesign.models.cnn import build_cnn
    from codesign.models.export import export_qonnx

    torch.manual_seed(point.seed)
    qdir = run_dir.parent / f"{run_dir.name}.qonnx"
    qonnx = export_qonnx(build_cnn(point.arch, point.bits), qdir)
    cfg = CompileConfig(board=point.board, fps=point.fps)
    compile_model(qonnx, cfg, run_dir)
    atomic_write_json(marker, point.to_dict())
    return run_dir


def measure_point(
    point: CalibPoint,
    root: Path,
    *,
    settings: Settings | None = None,
    synth_timeout_s: float = 1800,
    jobs: int = 1,
) -> dict[str, Any]:
    """Compile and synthesize one point; return its record (not yet written).

    Raises:
        CodesignError: Compile or synthesis failed (the message says which and why).
    """
    import codesign
    from codesign.cost.cycles import layer_cycles
    from codesign.cost.extract import compiled_specs, spec_to_dict
    from codesign.cost.network import network_layers
    from codesign.finn.config import CompileConfig
    from codesign.synth import synthesize

    settings = settings or get_settings()
    run_dir = Path(root) / RUNS_DIR / point.key
    t0 = time.perf_counter()
    _compile(point, run_dir)
    t_compile = time.perf_counter() - t0
    specs = compiled_specs(run_dir / "compiled.onnx")
    report = synthesize(
        run_dir,
        per_layer=True,
        whole=point.whole,
        timeout_s=synth_timeout_s,
        jobs=jobs,
        settings=settings,
    )
    t_total = time.perf_counter() - t0
    estimates = json.loads((run_dir / "estimates.json").read_text())
    finn = {x["name"]: x for x in estimates["layers"]}
    measured = {r.name: r for r in report.layers}
    cfg = CompileConfig.from_yaml(run_dir / "config.yaml")
    predicted = network_layers(point.arch, point.bits, fps=point.fps, clock_ns=cfg.clock_ns or 10.0)
    first = report.layers[0] if report.layers else report.whole
    assert first is not None
    nodes = []
    for spec in specs:
        r = measured.get(spec.name)
        if r is None:
            continue
        est = finn.get(spec.name)
        nodes.append(
            {
                "name": spec.name,
                "op_type": report.op_types.get(spec.name, ""),
                "spec": spec_to_dict(spec),
                "measured": r.resources.to_dict(),
                "cycles": layer_cycles(spec),
                "finn_cycles": None if est is None else est["cycles"],
                "finn_estimate": None if est is None else est["resources"],
                "design_digest": r.design_digest,
                "seconds": r.seconds,
            }
        )
    return {
        "key": point.key,
        "point": point.to_dict(),
        "board": point.board,
        "family": first.family,
        "part": first.part,
        "clock_ns": first.clock_ns,
        "tool": first.tool,
        "tool_version": first.version,
        "codesign_version": codesign.__version__,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_dir": str(run_dir),
        "compile_seconds": round(t_compile, 2),
        "seconds": round(t_total, 2),
        "nodes": nodes,
        "whole": None
        if report.whole is None
        else {
            "resources": report.whole.resources.to_dict(),
            "design_digest": report.whole.design_digest,
            "seconds": report.whole.seconds,
            "nodes": len(report.whole.nodes),
        },
        "predicted_nodes_match": [s.name for s in predicted] == [s.name for s in specs]
        and all((a.pe, a.simd) == (b.pe, b.simd) for a, b in zip(predicted, specs, strict=False)),
    }


def run_points(
    points: Sequence[CalibPoint],
    root: Path,
    *,
    store: Callable[[dict[str, Any]], bool] | None = None,
    stored: Callable[[str], bool] | None = None,
    settings: Settings | None = None,
    on_point: PointFn | None = None,
    keep_going: bool = True,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Measure every point not yet stored; return the records of all points that have one.

    Args:
        points: The design of experiments.
        root: The calibration folder (``points/``, ``runs/``).
        store: Stores a record (in the database, one transaction); True when it was new.
        stored: Whether a key is already stored.
        settings: Cache folder and tools.
        on_point: Progress callback.
        keep_going: Log a failed point and go on (else raise).
        jobs: Yosys runs at once.
    """
    root = Path(root)
    (root / POINTS_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for index, point in enumerate(points):
        key = point.key
        path = point_record_path(root, key)
        if stored is not None and stored(key) and path.is_file():
            records.append(json.loads(path.read_text()))
            if on_point:
                on_point(index, len(points), key, "stored")
            continue
        if path.is_file():
            record = json.loads(path.read_text())
            what = "imported"
        else:
            try:
                record = measure_point(point, root, settings=settings, jobs=jobs)
            except CodesignError as err:
                log.warning("point %s failed: %s", key, err)
                if on_point:
                    on_point(index, len(points), key, "failed")
                if not keep_going:
                    raise
                continue
            atomic_write_json(path, record)
            what = "measured"
        if store is not None:
            store(record)
        records.append(record)
        if on_point:
            on_point(index, len(points), key, what)
    return records


def calibrate(
    board: str,
    root: Path,
    *,
    n_points: int = 40,
    seed: int = 0,
    db_url: str | None = None,
    jobs: int = 1,
    measure: bool = True,
    designs: bool = True,
    settings: Settings | None = None,
    on_point: PointFn | None = None,
) -> dict[str, Any]:
    """Measure (resuming) the design of experiments for ``board``, fit, and report.

    Args:
        board: Board name (its family names the calibration).
        root: Calibration folder: ``points/``, ``runs/``, the fitted ``<name>.json`` and
            ``errors.json``.
        n_points: Random DoE networks (plus the 4 whole-design checks with ``designs``).
        seed: DoE seed.
        db_url: Results database (default: ``ROOT/results.sqlite``).
        jobs: Yosys runs at once.
        measure: Measure missing points (False: fit what is stored).
        designs: Include the quickstart whole-design checks.
        settings: Cache folder and tools.
        on_point: Progress callback.

    Returns:
        ``{"calibration": Calibration, "path": Path, "layers": table rows,
        "layers_fit": rows, "designs": rows, "points": n}``.

    Raises:
        ConfigError: Unknown board, or nothing measured to fit.
    """
    from codesign.boards import load_board
    from codesign.cost.db import ResultsDB
    from codesign.cost.doe import Role, calibration_points, design_points
    from codesign.cost.fit import error_table, fit_calibration, samples, whole_design_table

    spec = load_board(board)
    root = Path(root)
    db = ResultsDB(db_url or f"sqlite:///{(root / 'results.sqlite').resolve()}")
    cal_points = calibration_points(n_points, spec.name.lower(), clock_ns=spec.clock_ns, seed=seed)
    checks = design_points(spec.name.lower()) if designs else []
    # interleave the whole-design checks so that a partial run has some of each
    points: list[CalibPoint] = []
    step = max(1, len(cal_points) // max(1, len(checks)))
    for i, check in enumerate(checks):
        points.append(check)
        points += cal_points[i * step : (i + 1) * step]
    points += cal_points[len(checks) * step :]
    if measure:
        run_points(
            points,
            root,
            store=db.record_point,
            stored=db.has_point,
            settings=settings,
            on_point=on_point,
            jobs=jobs,
        )
    wanted = {p.key for p in points}
    records = [r for r in db.points() if r["key"] in wanted]
    if not records:
        raise ConfigError(f"no measured calibration points in {root}: run without --fit-only")
    first = records[0]
    import codesign

    provenance = {
        "board": spec.name,
        "part": first.get("part"),
        "clock_ns": first.get("clock_ns"),
        "codesign_version": codesign.__version__,
        "codesign_commit": _git_commit(),
        "points": len(records),
        "doe_seed": seed,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_per_point": round(
            sum(r.get("seconds", 0.0) for r in records) / max(1, len(records)), 1
        ),
    }
    cal = fit_calibration(
        records,
        family=str(first.get("family") or spec.family),
        tool=str(first.get("tool", "yosys")),
        tool_version=str(first.get("tool_version", "")),
        provenance=provenance,
    )
    model = cal.model()
    data = samples(records)
    held = [s for s in data if s.role != Role.FIT.value]
    fitted = [s for s in data if s.role == Role.FIT.value]
    layers = error_table(model, held)
    designs_rows = whole_design_table(model, records)
    cal = _with_errors(cal, layers, designs_rows)
    path = cal.save(root / f"{cal.name}.json")
    atomic_write_json(
        root / "errors.json",
        {
            "layers_heldout": layers,
            "layers_fit": error_table(model, fitted),
            "designs": designs_rows,
        },
    )
    return {
        "calibration": cal,
        "path": path,
        "layers": layers,
        "layers_fit": error_table(model, fitted),
        "designs": designs_rows,
        "points": len(records),
    }


def _with_errors(cal: Any, layers: list[dict[str, Any]], designs: list[dict[str, Any]]) -> Any:  # noqa: ANN401
    """The calibration with its held-out error tables attached."""
    from dataclasses import replace

    return replace(cal, errors=tuple(layers) + tuple({"design": True, **d} for d in designs))


def _git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).parent,
            check=False,
        )
        return out.stdout.strip()
    except OSError:
        return ""
