"""Tables of the DQMQ steps for ``codesign run``: the deployed tiers and the feedback round."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def tier_table(deploy: dict[str, Any]) -> Table:
    """The ``deploy_tiers`` results: each tier's share, accuracy, FPS, exactness, resources."""
    table = Table(
        title=f"DQMQ tiers: routed stream accuracy {deploy['stream_accuracy']:.2%}, "
        f"mean cost {deploy['stream_cost']}"
    )
    for col in ("tier", "bits", "share", "acc (its inputs)", "cost", "FPS (Verilator)",
                "bit-exact", "LUT", "FF", "DSP", "BRAM18"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("tier", "bits") else "right")
    for t in deploy["tiers"]:
        sim, synth = t.get("sim") or {}, t.get("synth") or {}
        exact = sim.get("bit_exact_vs_finn") and sim.get(
            "bit_exact_vs_brevitas", sim.get("bit_exact_vs_switchable")
        )  # the model deployed: shared weights or the tier's own
        table.add_row(
            f"tier{t['tier']}",
            t.get("bits", ""),
            f"{t['share']:.1%}",
            "-" if t.get("accuracy") is None else f"{t['accuracy']:.2%}",
            f"{t['cost']:.4f}",
            "-" if sim.get("fps") is None else f"{sim['fps']:,.0f}",
            f"{'yes' if exact else 'NO'} ({sim.get('frames')} frames)" if sim else "-",
            *(str(synth.get(k, "-")) for k in ("lut", "ff", "dsp", "bram18")),
        )
    return table


def feedback_table(summary: dict[str, Any]) -> Table:
    """A feedback round's error on its new points, before and after the refit."""
    table = Table(
        title=f"cost-model feedback round {summary['round']}: {summary['calibration']} "
        f"({len(summary['points'])} designs)"
    )
    for col in ("kind", "n", "LUT MAPE % before", "after", "FF MAPE % before", "after"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    before = {r["kind"]: r for r in summary.get("before") or []}
    for a in summary.get("after") or []:
        b = before.get(a["kind"], {})
        table.add_row(
            a["kind"],
            str(a.get("n", "")),
            str(b.get("lut_mape", "")),
            str(a.get("lut_mape", "")),
            str(b.get("ff_mape", "")),
            str(a.get("ff_mape", "")),
        )
    return table
