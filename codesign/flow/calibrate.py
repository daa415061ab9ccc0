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
from dataclasses import replace
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
#: Input feature sizes of the DoE networks: small ones, up to the quickstart's 28 (SWG line
#: buffers and FIFO depths grow with the feature size; a fit on 6..12 under-predicts 28).
DOE_SIZES = (6, 8, 12, 16, 20, 28)


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
    cfg = CompileConfig(board=point.board, fps=point.fps, impl=point.impl.value)
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
    kinds: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compile and synthesize one point; return its record (not yet written).

    ``kinds`` limits per-layer synthesis to nodes of these kinds (``mvau``...; the whole
    design is then not synthesized either).

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
    selected = None
    if kinds is not None:
        selected = [s.name for s in specs if s.kind.value in set(kinds)]
        if not selected:
            raise ConfigError(f"no node of kinds {', '.join(kinds)} in point {point.key}")
    report = synthesize(
        run_dir,
        per_layer=point.per_layer,
        whole=(point.whole or not point.per_layer) and selected is None,
        nodes=selected,
        timeout_s=synth_timeout_s,
        jobs=jobs,
        settings=settings,
    )
    t_total = time.perf_counter() - t0
    estimates = json.loads((run_dir / "estimates.json").read_text())
    finn = {x["name"]: x for x in estimates["layers"]}
    measured = {r.name: r for r in report.layers}
    cfg = CompileConfig.from_yaml(run_dir / "config.yaml")
    predicted = network_layers(
        point.arch,
        point.bits,
        fps=point.fps,
        clock_ns=cfg.clock_ns or 10.0,
        impl=[point.impl] * point.arch.n_layers,
        per_channel_thresholds=False,
    )
    first = report.layers[0] if report.layers else report.whole
    assert first is not None
    nodes = []
    for spec in specs:
        r = measured.get(spec.name)
        est = finn.get(spec.name)
        nodes.append(
            {
                "name": spec.name,
                "op_type": report.op_types.get(spec.name, ""),
                "spec": spec_to_dict(spec),
                "measured": None if r is None else r.resources.to_dict(),
                "cycles": layer_cycles(spec),
                "finn_cycles": None if est is None else est["cycles"],
                "finn_estimate": None if est is None else est["resources"],
                "design_digest": None if r is None else r.design_digest,
                "seconds": None if r is None else r.seconds,
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
    measure: Callable[..., dict[str, Any]] | None = None,
    kinds: Sequence[str] | None = None,
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
        measure: ``measure(point, root, settings=, jobs=) -> record`` (default
            :func:`measure_point`).
        kinds: Synthesize only nodes of these kinds (see :func:`measure_point`).
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
                kwargs: dict[str, Any] = {"settings": settings, "jobs": jobs}
                if kinds is not None:
                    kwargs["kinds"] = kinds
                record = (measure or measure_point)(point, root, **kwargs)
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
    import_runs: Sequence[Path] = (),
    impls: Sequence[str] = ("dsp", "lut"),
    skip_plain_nodes: bool = True,
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
        import_runs: Existing run folders with per-layer Yosys results to add as points
            (:func:`record_from_run`; same family only).
        impls: MVU implementations the DoE cycles through (``dsp``, ``lut``).
        skip_plain_nodes: In DoE points that are not synthesized whole, leave the FIFOs and
            width converters out of the per-layer synthesis (half the nodes of a network,
            priced well by the points that are synthesized whole; halves the Yosys time).

    Returns:
        ``{"calibration": Calibration, "path": Path, "layers": table rows,
        "layers_fit": rows, "designs": rows, "points": n}``.

    Raises:
        ConfigError: Unknown board, or nothing measured to fit.
    """
    from codesign.boards import load_board
    from codesign.cost.db import ResultsDB
    from codesign.cost.doe import Role, calibration_points, design_points
    from codesign.cost.fit import (
        error_table,
        fit_calibration,
        in_design_cv,
        samples,
        whole_design_table,
    )

    spec = load_board(board)
    root = Path(root)
    db = ResultsDB(db_url or f"sqlite:///{(root / 'results.sqlite').resolve()}")
    from codesign.cost.protocol import Impl

    cal_points = calibration_points(
        n_points,
        spec.name.lower(),
        clock_ns=spec.clock_ns,
        seed=seed,
        impls=tuple(Impl(i) for i in impls),
        sizes=DOE_SIZES,
        max_stages=3,
    )
    checks = design_points(spec.name.lower()) if designs else []
    if checks:
        # the quickstart (W4A4) also per layer: the whole design minus its layers' sum is
        # the stitching overhead at the size the model is used at (held out of the fit)
        checks[1] = replace(checks[1], per_layer=True)
    # the whole-design checks first (whole synthesis only: a few minutes each), then the
    # DoE: a partial calibration has every check and as many layer points as time allowed
    points: list[CalibPoint] = [*checks, *cal_points]
    if measure:
        run_points(
            points,
            root,
            store=db.record_point,
            stored=db.has_point,
            settings=settings,
            on_point=on_point,
            jobs=jobs,
            measure=_measure_doe if skip_plain_nodes else None,
        )
    wanted = {p.key for p in points}
    for run in import_runs:
        # imported runs are fit data: they are often sweeps of one shape over bits, so a
        # digest-based hold-out would not hold out shapes (the held-out table is the DoE's)
        record = record_from_run(Path(run), holdout_every=0)
        if record is None or record["family"] != synth_family_of(spec):
            log.info("not importing %s (no per-layer results, or another family)", run)
            continue
        atomic_write_json(point_record_path(root, record["key"]), record)
        db.record_point(record)
    records = [
        r for r in db.points() if r["key"] in wanted or r.get("point", {}).get("source") == "import"
    ]
    if not records:
        raise ConfigError(f"no measured calibration points in {root}: run without --fit-only")
    records = [refresh_specs(r) for r in records]
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
    # the whole-design share's estimator: the one with the lower leave-one-design-out
    # error over the fit designs ("split" when there are too few to tell)
    cv = in_design_cv(records)
    estimator = min(cv, key=lambda k: cv[k]) if cv else "split"
    provenance["in_design"] = {"estimator": estimator, "loo_cv_lut_pct": cv}
    cal = fit_calibration(
        records,
        family=str(first.get("family") or spec.family),
        tool=str(first.get("tool", "yosys")),
        tool_version=str(first.get("tool_version", "")),
        provenance=provenance,
        in_design_estimator=estimator,
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


#: Node kinds synthesized per layer in DoE points that are not synthesized whole.
DOE_LAYER_KINDS = ("mvau", "vvau", "thresholding", "swg", "fmpadding", "pool")


def _measure_doe(point: CalibPoint, root: Path, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
    """:func:`measure_point`, skipping FIFOs and converters unless synthesized whole."""
    if point.whole or not point.per_layer:
        return measure_point(point, root, **kwargs)
    return measure_point(point, root, kinds=DOE_LAYER_KINDS, **kwargs)


def _with_errors(cal: Any, layers: list[dict[str, Any]], designs: list[dict[str, Any]]) -> Any:  # noqa: ANN401
    """The calibration with its held-out error tables attached."""
    return replace(cal, errors=tuple(layers) + tuple({"design": True, **d} for d in designs))


def refresh_specs(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its node specs extracted again from its run folder, if it is here.

    Extraction learns (e.g. the threshold matrix's rows); re-reading the compiled model
    lets records measured before apply it. Records whose run folder is gone are unchanged.
    """
    from codesign.cost.extract import compiled_specs, spec_to_dict

    run_dir = Path(str(record.get("run_dir") or ""))
    model = run_dir / "sized.onnx"
    if record.get("point", {}).get("source") != "import" or not model.is_file():
        model = run_dir / "compiled.onnx"
    if not record.get("run_dir") or not model.is_file():
        return record
    try:
        specs = {s.name: s for s in compiled_specs(model)}
    except CodesignError:
        return record
    nodes = [
        {**n, "spec": spec_to_dict(specs[n["name"]])} if n["name"] in specs else n
        for n in record["nodes"]
    ]
    return {**record, "nodes": nodes}


def synth_family_of(board: Any) -> str:  # noqa: ANN401 - a Board
    """The synth_xilinx family name a board's results are recorded under."""
    from codesign.synth.plan import synth_family

    return synth_family(board.family).value


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


def record_from_run(run_dir: Path, holdout_every: int = 4) -> dict[str, Any] | None:
    """A calibration record from an existing run folder with per-layer Yosys results.

    Any compile run folder (a flow's ``compile/``, a sweep point's, a foreign model's)
    whose ``synth/report.json`` has per-layer results becomes a point: its nodes' specs
    come from ``sized.onnx`` (FIFO depths after sizing) if there is one, else
    ``compiled.onnx``. The key is the digest of the report; every
    ``holdout_every``-th key (by digest) is held out. None when there is nothing to use.
    """
    import hashlib

    from codesign.cost.cycles import layer_cycles
    from codesign.cost.extract import compiled_specs, spec_to_dict

    run_dir = Path(run_dir)
    if (run_dir / "compile" / "synth" / "report.json").is_file():
        run_dir = run_dir / "compile"
    report_path = run_dir / "synth" / "report.json"
    if not report_path.is_file() or not (run_dir / "compiled.onnx").is_file():
        return None
    report = json.loads(report_path.read_text())
    if not report.get("layers"):
        return None
    # what synthesize read by default: the FIFO-sized design when sizing wrote one (its FIFO
    # depths are the sized ones; compiled.onnx keeps depth 2)
    model_path = run_dir / "sized.onnx"
    if not model_path.is_file():
        model_path = run_dir / "compiled.onnx"
    try:
        specs = {s.name: s for s in compiled_specs(model_path)}
    except CodesignError as err:
        log.warning("skipping %s: %s", run_dir, err)
        return None
    estimates = {}
    if (run_dir / "estimates.json").is_file():
        estimates = {
            x["name"]: x for x in json.loads((run_dir / "estimates.json").read_text())["layers"]
        }
    nodes = []
    for r in report["layers"]:
        spec = specs.get(r["name"])
        if spec is None:
            continue
        est = estimates.get(r["name"])
        nodes.append(
            {
                "name": r["name"],
                "op_type": report.get("op_types", {}).get(r["name"], ""),
                "spec": spec_to_dict(spec),
                "measured": r["resources"],
                "cycles": layer_cycles(spec),
                "finn_cycles": None if est is None else est["cycles"],
                "finn_estimate": None if est is None else est["resources"],
                "design_digest": r["design_digest"],
                "seconds": r["seconds"],
            }
        )
    if not nodes:
        return None
    key = hashlib.sha256(report_path.read_bytes()).hexdigest()[:16]
    role = (
        "holdout" if holdout_every and int(key, 16) % holdout_every == holdout_every - 1 else "fit"
    )
    first = report["layers"][0]
    whole = report.get("whole")
    # nodes synthesized whole but not all per layer: the overhead fit skips such records
    return {
        "key": key,
        "point": {"role": role, "source": "import"},
        "board": "",
        "family": first["family"],
        "part": first["part"],
        "clock_ns": first["clock_ns"],
        "tool": first["tool"],
        "tool_version": first["version"],
        "codesign_version": "",
        "timestamp": datetime.fromtimestamp(report_path.stat().st_mtime, UTC).isoformat(
            timespec="seconds"
        ),
        "run_dir": str(run_dir.resolve()),
        "compile_seconds": None,
        "seconds": round(sum(float(r["seconds"]) for r in report["layers"]), 2),
        "nodes": nodes,
        "whole": None
        if not whole or len(nodes) != len(specs)
        else {
            "resources": whole["resources"],
            "design_digest": whole["design_digest"],
            "seconds": whole["seconds"],
            "nodes": len(whole["nodes"]),
        },
    }
