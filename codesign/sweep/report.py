"""The sweep report: Pareto files and a self-contained HTML page (``codesign report``).

:func:`write_report` reads a sweep folder's point records and writes, in the sweep folder:

* ``pareto.csv`` and ``pareto.json``: every point per quality, and each front;
* ``pareto.png``: accuracy against LUTs per quality, the fronts drawn;
* ``report.html``: from the Jinja2 template ``templates/report.html.j2``; the plot is
  embedded as a data URI and there are no scripts or styles from elsewhere, so the file
  opens offline. Links to run folders and logs are relative to the sweep folder.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from codesign.errors import CodesignError
from codesign.io import atomic_write_text
from codesign.sweep.pareto import (
    CLEAN,
    MIXED,
    Row,
    analyse,
    compact_bits,
    plot_fronts,
    write_csv,
    write_json,
)
from codesign.sweep.store import PLAN_FILE, PointStore

log = logging.getLogger(__name__)

HTML_FILE = "report.html"
PNG_FILE = "pareto.png"
CSV_FILE = "pareto.csv"
JSON_FILE = "pareto.json"
TEMPLATE = "report.html.j2"


@dataclass
class TextTable:
    """A table as strings (the CLI prints it with rich, the template as HTML)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class WrittenReport:
    """What :func:`write_report` wrote."""

    html: Path
    png: Path
    csv: Path
    json: Path
    tables: list[TextTable]


def write_report(sweep_dir: Path) -> WrittenReport:
    """Analyse the sweep in ``sweep_dir`` and write the files listed in the module docstring.

    Raises:
        CodesignError: ``sweep_dir`` holds no sweep (no ``plan.json``).
    """
    sweep_dir = Path(sweep_dir).resolve()
    if not (sweep_dir / PLAN_FILE).exists():
        raise CodesignError(
            f"{sweep_dir} is not a sweep folder (no {PLAN_FILE}); run codesign sweep"
        )
    store = PointStore(sweep_dir)
    plan = store.read_plan()
    in_plan = {p["digest"]: p for p in plan}
    records = [r for r in store if r.digest in in_plan]
    rows, fronts = analyse(records)
    csv_path = write_csv(rows, sweep_dir / CSV_FILE)
    json_path = write_json(fronts, rows, sweep_dir / JSON_FILE)
    png = plot_fronts(rows, sweep_dir / PNG_FILE)
    tables = summary_tables(rows)
    spec = (
        json.loads((sweep_dir / "sweep.json").read_text())
        if (sweep_dir / "sweep.json").exists()
        else {}
    )
    points = []
    by_digest = {r.digest: r for r in records}
    for digest, p in in_plan.items():
        rec = by_digest.get(digest)
        points.append(
            {
                "digest": digest,
                "labels": p["labels"],
                "status": rec.status.value if rec else "pending",
                "bits": _bits_text(p["config"]),
                "board": (p["config"].get("compile") or {}).get("board"),
                "run_link": _rel(Path(p["config"]["run"]["out_dir"]), sweep_dir),
                "log_link": _rel(Path(rec.log), sweep_dir) if rec and rec.log else None,
                "failure": rec.failure if rec else None,
                "log_tail": rec.log_tail if rec else None,
                "seconds": rec.seconds if rec else None,
                "layers": rec.layers if rec else [],
                "steps": rec.steps if rec else {},
                "accuracy": {r.quality: r.accuracy for r in rows if r.digest == digest},
            }
        )
    counts = {s: sum(1 for p in points if p["status"] == s) for s in ("done", "failed", "pending")}
    env = Environment(
        loader=FileSystemLoader(str(files("codesign.sweep") / "templates")),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template(TEMPLATE).render(
        name=(spec.get("sweep") or {}).get("name", sweep_dir.name),
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        sweep_dir=str(sweep_dir),
        counts=counts,
        tables=tables,
        points=points,
        png_uri="data:image/png;base64," + base64.b64encode(png).decode(),
        qualities=list(dict.fromkeys(r.quality for r in rows)),
        dqmq=dqmq_sections(plan, sweep_dir),
        spec_json=json.dumps(spec, indent=2),
    )
    html_path = atomic_write_text(sweep_dir / HTML_FILE, html)
    log.info("wrote %s", html_path)
    return WrittenReport(html_path, sweep_dir / PNG_FILE, csv_path, json_path, tables)


def summary_tables(rows: list[Row]) -> list[TextTable]:
    """Per board and LUT source: each point's hardware figures and accuracy per quality.

    The qualities are clean, mixed and each corruption family; ``*`` marks a front member.
    """
    out = []
    keys = sorted({(r.board or "-", r.lut_source or "-") for r in rows})
    for board, source in keys:
        mine = [r for r in rows if (r.board or "-", r.lut_source or "-") == (board, source)]
        quals = list(dict.fromkeys(r.quality for r in mine))
        quals = [q for q in (CLEAN, MIXED) if q in quals] + [
            q for q in quals if q not in (CLEAN, MIXED)
        ]
        lut_name = "LUT (Yosys)" if source == "yosys" else "LUT (FINN est.)"
        table = TextTable(
            title=f"{board if board != '-' else 'no hardware steps'}: accuracy per test-data "
            f"quality (* on that quality's front)",
            columns=[
                "point",
                "bits",
                lut_name,
                "DSP",
                "BRAM18",
                "FPS",
                "latency us",
                "bit-exact",
                *quals,
            ],  # fmt: skip
        )
        digests = list(dict.fromkeys(r.digest for r in sorted(mine, key=lambda r: r.lut or 0)))
        for digest in digests:
            per = {r.quality: r for r in mine if r.digest == digest}
            first = next(iter(per.values()))
            table.rows.append(
                [
                    first.label,
                    compact_bits(first.bits),
                    _num(first.lut),
                    _num(first.dsp),
                    _num(first.bram18),
                    _num(first.fps),
                    _num(first.latency_us, "{:,.1f}"),
                    _exact(first.bit_exact, first.sim_frames),
                    *(
                        f"{per[q].accuracy:.2%}{'*' if per[q].on_front else ''}" if q in per else ""
                        for q in quals
                    ),
                ]
            )
        out.append(table)
    return out


def _exact(ok: bool | None, frames: int | None) -> str:
    if ok is None:
        return "-"
    return f"yes ({frames} frames)" if ok else f"NO ({frames} frames)"


def dqmq_sections(plan: list[dict[str, Any]], sweep_dir: Path) -> list[dict[str, Any]]:
    """The DQMQ runs whose tiers are points of the sweep: tiers, deployment, feedback.

    For each run folder a tier point names (``tier.checkpoint`` is ``RUN/dqmq/...``):
    ``deploy.json`` (per tier: bits, routed share and accuracy, FINN estimate, Verilator
    FPS and bit-exactness, Yosys resources; the stream's accuracy and cost), the training
    summary and the last feedback round (LUT error of the cost model before and after).
    Missing files leave their part out.
    """
    runs = []
    for p in plan:
        ckpt = (p["config"].get("tier") or {}).get("checkpoint")
        if ckpt:
            runs.append(Path(ckpt).parent.parent)
    out = []
    for run in dict.fromkeys(runs):
        deploy = _read_json(run / "dqmq" / "deploy.json")
        rounds = sorted((run / "feedback").glob("round*.json"), key=lambda f: int(f.stem[5:] or 0))
        feedback = _read_json(rounds[-1]) if rounds else None
        steps = _read_json(run / "steps.json") or {}
        train = next(
            (s.get("results") for s in steps.get("steps", []) if s.get("name") == "train_dqmq"),
            None,
        )
        tiers = []
        for t in (deploy or {}).get("tiers", []):
            sim, synth, est = t.get("sim") or {}, t.get("synth") or {}, t.get("estimate") or {}
            tiers.append(
                {
                    "tier": t.get("tier"),
                    "bits": t.get("bits", ""),
                    "share": t.get("share"),
                    "accuracy": t.get("accuracy"),
                    "cost": t.get("cost"),
                    "finn_lut": est.get("lut"),
                    "fps": sim.get("fps"),
                    "frames": sim.get("frames"),
                    "exact_finn": sim.get("bit_exact_vs_finn"),
                    "exact_switchable": sim.get(
                        "bit_exact_vs_brevitas", sim.get("bit_exact_vs_switchable")
                    ),  # the Brevitas model deployed (the switchable net or a tier's own)
                    "lut": synth.get("lut"),
                    "ff": synth.get("ff"),
                    "dsp": synth.get("dsp"),
                    "bram18": synth.get("bram18"),
                }
            )
        out.append(
            {
                "run": str(run),
                "run_link": _rel(run, sweep_dir),
                "tiers": tiers,
                "stream_accuracy": (deploy or {}).get("stream_accuracy"),
                "stream_cost": (deploy or {}).get("stream_cost"),
                "cost_version": (train or {}).get("cost_version"),
                "feedback": _feedback_rows(feedback),
            }
        )
    return out


def _feedback_rows(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """A feedback round's summary as one row per node kind, before and after the refit."""
    if not summary:
        return None
    before = {r["kind"]: r for r in summary.get("before") or []}
    rows = []
    for a in summary.get("after") or []:
        b = before.get(a["kind"], {})
        rows.append(
            {
                "kind": a["kind"],
                "n": a.get("n"),
                "lut_before": b.get("lut_mape"),
                "lut_after": a.get("lut_mape"),
                "ff_before": b.get("ff_mape"),
                "ff_after": a.get("ff_mape"),
            }
        )
    return {"round": summary.get("round"), "calibration": summary.get("calibration"), "rows": rows}


def _read_json(path: Path) -> Any:  # noqa: ANN401 (JSON)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _bits_text(config: dict[str, Any]) -> str:
    model = config.get("model") or {}
    bits = model.get("bits")
    if bits is None:
        w, a = model.get("weight_bits"), model.get("act_bits")
        return f"in{model.get('input_bits')} uniform W{w}A{a}"
    parts = [f"in{bits['input_bits']}"]
    for layer in bits["layers"]:
        parts.append(
            f"W{layer['weight']}" + ("" if layer.get("act") is None else f"A{layer['act']}")
        )
    return " ".join(parts)


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.resolve().as_uri()
