"""Pareto analysis: the non-dominated front of accuracy against measured LUTs.

Each done point gives one row per test-data quality: ``clean``, each corruption family
(its accuracy averaged over the evaluated severities) and ``mixed`` (the mean over clean
and every corruption and severity evaluated: a test set with the qualities in equal
shares). LUTs are Yosys' whole-design count where the point was synthesized, else FINN's
estimate (``lut_source`` says which; FINN counts RTL MVAU LUTs as 0, so estimates are
lower bounds and are never mixed with measurements in one front). DSP, BRAM18, FPS and
latency ride along as further columns.

A point is on the front of its (board, quality, LUT source) group when no other point has
at least its accuracy with at most its LUTs, better in one of the two.

Example::

    rows = point_rows(PointStore(sweep_dir))
    front = pareto_front([r for r in rows if r.quality == "clean"])
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codesign.io import atomic_write_json, atomic_write_text
from codesign.sweep.store import PointRecord, PointStatus

log = logging.getLogger(__name__)

CLEAN = "clean"
MIXED = "mixed"


@dataclass
class Row:
    """One point under one test-data quality."""

    digest: str
    labels: dict[str, str]
    quality: str
    accuracy: float
    board: str | None
    bits: str | None
    lut: float | None
    lut_source: str | None  # "yosys" (measured) or "finn" (estimate)
    dsp: float | None
    bram18: float | None
    ff: float | None
    fps: float | None
    fps_source: str | None  # "verilator" (measured) or "finn" (estimate)
    latency_us: float | None
    run_dir: str
    bit_exact: bool | None = None  # Verilator == FINN == Brevitas on the simulated frames
    sim_frames: int | None = None
    on_front: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The point's axis values in one line."""
        return ", ".join(f"{k}={v}" for k, v in self.labels.items()) or self.digest[:8]


def qualities(report: dict[str, Any]) -> dict[str, float]:
    """Accuracy per test-data quality of one flow report (see the module docstring)."""
    out = {CLEAN: float(report["clean_accuracy"])}
    families: dict[str, list[float]] = defaultdict(list)
    for c in report.get("corrupted") or []:
        families[c["corruption"]].append(float(c["accuracy"]))
    for name, accs in families.items():
        out[name] = sum(accs) / len(accs)
    if families:
        every = [out[CLEAN], *(a for accs in families.values() for a in accs)]
        out[MIXED] = sum(every) / len(every)
    return out


def compact_bits(bits: str | None) -> str:
    """``"in8 W4A4 W4A4 W4"`` -> ``"W4A4"`` for uniform configs; others unchanged."""
    if not bits:
        return ""
    parts = bits.split()
    layers = parts[1:]
    if len(layers) >= 2 and len(set(layers[:-1])) == 1 and layers[0].startswith(layers[-1] + "A"):
        return layers[0] if parts[0] == "in8" else f"{parts[0]} {layers[0]}"
    return bits


def is_tier(row: Row) -> bool:
    """Whether the row is a DQMQ tier (a point of ``axes.bits.tiers``)."""
    return row.labels.get("bits", "").startswith("tier")


def short_label(row: Row) -> str:
    """``tier0`` for a DQMQ tier, ``W4A4`` for a uniform point, else its bits or digest."""
    if is_tier(row):
        return row.labels["bits"].split()[0]
    return compact_bits(row.bits) or row.digest[:6]


def point_rows(records: Iterable[PointRecord]) -> list[Row]:
    """One :class:`Row` per done point and quality (points without accuracy are left out)."""
    rows = []
    for rec in records:
        report = rec.report
        if rec.status is not PointStatus.DONE or not report or "clean_accuracy" not in report:
            continue
        hw = report.get("hardware") or {}
        res = hw.get("resources") or {}
        yosys, finn = res.get("yosys"), res.get("finn")
        source, counts = ("yosys", yosys) if yosys else ("finn", finn) if finn else (None, {})
        fps = (hw.get("fps") or {}).get("measured")
        exact = hw.get("bit_exact") or {}
        bit_exact = bool(exact.get("finn") and exact.get("brevitas")) if exact else None
        fps_source = "verilator" if fps is not None else None
        if fps is None and hw.get("fps"):
            fps, fps_source = hw["fps"].get("estimated"), "finn"
        for quality, acc in qualities(report).items():
            rows.append(
                Row(
                    digest=rec.digest,
                    labels=rec.labels,
                    quality=quality,
                    accuracy=round(acc, 5),
                    board=hw.get("board"),
                    bits=(report.get("train") or {}).get("bits") or rec.bits,
                    lut=counts.get("lut"),
                    lut_source=source,
                    dsp=counts.get("dsp"),
                    bram18=counts.get("bram18"),
                    ff=counts.get("ff"),
                    fps=fps,
                    fps_source=fps_source,
                    latency_us=(hw.get("latency") or {}).get("us"),
                    run_dir=rec.run_dir,
                    bit_exact=bit_exact,
                    sim_frames=exact.get("frames"),
                )
            )
    return rows


def pareto_front(rows: list[Row]) -> list[Row]:
    """The non-dominated rows (max accuracy, min LUT), by LUT ascending. Rows need LUTs."""
    ordered = sorted((r for r in rows if r.lut is not None), key=lambda r: (r.lut, -r.accuracy))
    front: list[Row] = []
    best = float("-inf")
    for row in ordered:
        if row.accuracy > best:
            front.append(row)
            best = row.accuracy
    return front


def group_key(row: Row) -> tuple[str, str, str]:
    """(board, quality, LUT source): the rows one front compares."""
    return (row.board or "-", row.quality, row.lut_source or "-")


def analyse(
    records: Iterable[PointRecord],
) -> tuple[list[Row], dict[tuple[str, str, str], list[Row]]]:
    """All rows (``on_front`` set) and the front of each group."""
    rows = point_rows(records)
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[group_key(row)].append(row)
    fronts = {}
    for key, members in sorted(groups.items()):
        front = pareto_front(members)
        for row in front:
            row.on_front = True
        fronts[key] = front
    return rows, fronts


CSV_COLUMNS = (
    "digest", "label", "board", "quality", "accuracy", "lut", "lut_source", "dsp", "bram18",
    "ff", "fps", "fps_source", "latency_us", "bit_exact", "sim_frames", "bits", "on_front",
    "run_dir",
)  # fmt: skip


def write_csv(rows: list[Row], path: Path) -> Path:
    """Every row (front or not) as CSV."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        data = {**asdict(r), "label": r.label}
        writer.writerow([data[c] for c in CSV_COLUMNS])
    return atomic_write_text(path, buf.getvalue())


def write_json(fronts: dict[tuple[str, str, str], list[Row]], rows: list[Row], path: Path) -> Path:
    """The fronts per group, and every row."""
    return atomic_write_json(
        path,
        {
            "fronts": [
                {"board": b, "quality": q, "lut_source": s, "points": [asdict(r) for r in front]}
                for (b, q, s), front in fronts.items()
            ],
            "rows": [asdict(r) for r in rows],
        },
    )


def plot_fronts(rows: list[Row], path: Path | None = None) -> bytes:
    """A PNG: one panel per quality, accuracy against LUTs, every point and each front.

    Returns:
        The PNG bytes (also written to ``path`` when given).
    """
    import matplotlib  # noqa: PLC0415 (heavy; only for plots)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    quals = list(dict.fromkeys(r.quality for r in rows)) or [CLEAN]
    cols = min(3, len(quals))
    nrows = (len(quals) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    boards = sorted({(r.board or "-", r.lut_source or "-") for r in rows})
    colors = {b: f"C{i}" for i, b in enumerate(boards)}
    for ax, quality in zip(axes.flat, quals, strict=False):
        mine = [r for r in rows if r.quality == quality and r.lut is not None]
        for key in boards:
            pts = [r for r in mine if (r.board or "-", r.lut_source or "-") == key]
            if not pts:
                continue
            label = f"{key[0]} ({'Yosys' if key[1] == 'yosys' else 'FINN est.'})"
            ax.scatter(
                [r.lut for r in pts],
                [r.accuracy for r in pts],
                color=colors[key],
                alpha=0.5,
                s=22,
                label=label,
            )
            front = pareto_front(pts)
            ax.step(
                [r.lut for r in front],
                [r.accuracy for r in front],
                where="post",
                color=colors[key],
                lw=1.5,
            )
            tiers = [r for r in pts if is_tier(r)]
            if tiers:  # DQMQ tiers: stars, each named, on the front or not
                ax.scatter(
                    [r.lut for r in tiers],
                    [r.accuracy for r in tiers],
                    color=colors[key],
                    marker="*",
                    s=90,
                    edgecolors="black",
                    linewidths=0.5,
                    label="DQMQ tiers",
                )
            for r in {id(r): r for r in [*front, *tiers]}.values():
                ax.annotate(
                    short_label(r),
                    (r.lut, r.accuracy),
                    fontsize=6,
                    xytext=(3, -8),
                    textcoords="offset points",
                )
        ax.set_title(quality)
        ax.set_xlabel("LUTs")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        if mine:
            ax.legend(fontsize=7, loc="best")
            ax.margins(x=0.15, y=0.12)
    for ax in list(axes.flat)[len(quals) :]:
        ax.set_visible(False)
    fig.suptitle("accuracy vs LUTs: points and Pareto fronts")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        from codesign.io import atomic_write_bytes  # noqa: PLC0415

        atomic_write_bytes(path, data)
    return data
