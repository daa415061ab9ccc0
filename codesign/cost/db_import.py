"""Import a compile (or flow) run folder into the results database.

Reads what the hardware steps leave in a run folder: FINN's estimate
(``estimates.json``), Verilator results (``sim/*.json``), Yosys results
(``synth/report.json``) and Vivado measurements (``build/*/measurements.json``); the
node specs come from ``compiled.onnx``. Used by :meth:`ResultsDB.record_run_folder`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from codesign.cost.db import _RESOURCES
from codesign.errors import CodesignError, ConfigError

if TYPE_CHECKING:
    from codesign.cost.db import ResultsDB

__all__ = ["import_run_folder"]


def import_run_folder(db: ResultsDB, path: Path) -> list[int | None]:
    """Store every result found in ``path``; new design-row ids (None: already stored).

    Raises:
        ConfigError: ``path`` is not a compile run folder nor a flow folder holding one.
    """
    from codesign.cost.cycles import layer_cycles
    from codesign.cost.extract import compiled_specs, spec_to_dict

    run = path
    if (run / "compile" / "config.yaml").is_file():
        run = run / "compile"  # a flow run folder
    if not (run / "config.yaml").is_file() or not (
        (run / "estimates.json").is_file() or (run / "compiled.onnx").is_file()
    ):
        raise ConfigError(
            f"{path} is not a compile run folder (config.yaml with estimates.json or "
            "compiled.onnx), nor a flow run folder holding one in compile/"
        )
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
    board = str(cfg.get("board", ""))
    family = ""
    try:
        from codesign.boards import load_board

        family = str(load_board(board).family) if board else ""
    except CodesignError:
        pass
    common = {
        "run_dir": str(run.resolve()),
        "board": board,
        "family": family,
        "part": cfg.get("part") or "",
        "clock_ns": cfg.get("clock_ns"),
    }
    specs = {}
    if (run / "compiled.onnx").is_file():
        specs = {s.name: s for s in compiled_specs(run / "compiled.onnx")}
    ids: list[int | None] = []

    est_path = run / "estimates.json"
    if est_path.is_file():
        est = json.loads(est_path.read_text())
        layers = []
        for x in est["layers"]:
            spec = specs.get(x["name"])
            layers.append(
                {
                    "name": x["name"],
                    "op_type": x["op_type"],
                    "resources": x["resources"],
                    "cycles": x["cycles"],
                    "spec": spec_to_dict(spec) if spec else {},
                    "kind": spec.kind.value if spec else "",
                }
            )
        digest = hashlib.sha256(est_path.read_bytes()).hexdigest()
        ids.append(
            db.add_design(
                {
                    **common,
                    "stage": "compile",
                    "tool": "finn-plus",
                    "tool_version": _finn_version(),
                    "design_digest": digest,
                    **est["total"],
                    "cycles": est["max_cycles"],
                    "fps": est["fps"],
                    "meta": {"bottleneck": est["bottleneck"]},
                    "timestamp": _mtime(est_path),
                },
                layers,
            )
        )
    for sim_path in sorted((run / "sim").glob("*.json")) if (run / "sim").is_dir() else []:
        data = json.loads(sim_path.read_text())
        if "interval_cycles" not in data:
            continue
        digest = hashlib.sha256(sim_path.read_bytes()).hexdigest()
        ids.append(
            db.add_design(
                {
                    **common,
                    "stage": "simulate",
                    "name": sim_path.stem,
                    "tool": "verilator",
                    "tool_version": data.get("verilator_version", ""),
                    "design_digest": digest,
                    "cycles": data["interval_cycles"],
                    "fps": data.get("fps"),
                    "clock_ns": data.get("clock_ns", common["clock_ns"]),
                    "meta": {
                        k: data.get(k)
                        for k in (
                            "frames",
                            "latency_cycles",
                            "bit_exact",
                            "ready_pct",
                            "analytic_cycles",
                        )
                    },
                    "timestamp": _mtime(sim_path),
                },
            )
        )
    report = run / "synth" / "report.json"
    if report.is_file():
        data = json.loads(report.read_text())
        layers = []
        for r in data["layers"]:
            spec = specs.get(r["name"])
            layers.append(
                {
                    "name": r["name"],
                    "op_type": data.get("op_types", {}).get(r["name"], ""),
                    "resources": r["resources"],
                    "layer_digest": r["design_digest"],
                    "spec": spec_to_dict(spec) if spec else {},
                    "kind": spec.kind.value if spec else "",
                    "cycles": layer_cycles(spec) if spec else None,
                    "seconds": r["seconds"],
                }
            )
        first = data["whole"] or (data["layers"][0] if data["layers"] else None)
        if first is not None:
            prov = {
                **common,
                "stage": "synth",
                "tool": first["tool"],
                "tool_version": first["version"],
                "family": first["family"] or family,
                "part": first["part"],
                "timestamp": _mtime(report),
            }
            if layers:
                total = {k: sum((x["resources"].get(k) or 0) for x in layers) for k in _RESOURCES}
                ids.append(
                    db.add_design(
                        {
                            **prov,
                            "name": "layers",
                            "design_digest": hashlib.sha256(
                                "".join(x["layer_digest"] for x in layers).encode()
                            ).hexdigest(),
                            **total,
                        },
                        layers,
                    )
                )
            if data["whole"]:
                w = data["whole"]
                ids.append(
                    db.add_design(
                        {
                            **prov,
                            "name": "design",
                            "design_digest": w["design_digest"],
                            **w["resources"],
                            "seconds": w["seconds"],
                        }
                    )
                )
    build_dir = run / "build"
    for meas in sorted(build_dir.glob("*/measurements.json")) if build_dir.is_dir() else []:
        for m in json.loads(meas.read_text()):
            ids.append(
                db.add_design(
                    {
                        **common,
                        "stage": "build",
                        "name": m["kind"],
                        "tool": m["tool"],
                        "tool_version": m.get("tool_version") or "",
                        "part": m["part"],
                        "clock_ns": m["clock_ns"],
                        "design_digest": hashlib.sha256(
                            json.dumps(m, sort_keys=True).encode()
                        ).hexdigest(),
                        **m["resources"],
                        "meta": {"timing": m.get("timing", {})},
                        "timestamp": _mtime(meas),
                    },
                    [{"name": k, "resources": v} for k, v in m.get("per_node", {}).items()],
                )
            )
    return ids


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def _finn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finn-plus")
    except PackageNotFoundError:
        return ""
