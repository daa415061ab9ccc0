"""Fit a calibration to measured points, and the held-out error table.

The fit keeps the analytic structure (:mod:`codesign.cost.analytic`) and refits only its
coefficients: per node kind, LUT and FF are non-negative least squares over that kind's
features, weighted by ``1 / measured`` so that relative (not absolute) errors are
minimized, under the Huber loss (relative errors beyond ``HUBER_DELTA`` count linearly).
The LUTRAM/BRAM threshold is the one (from a grid) with the most exact BRAM18 counts, and
the design-level difference (whole design minus the sum of its layers: cross-boundary
optimization) is fitted as shares of the layers' costs (LUT MVUs and the
rest apart, :func:`_fit_in_design`). DSP and cycles are rules, only checked.

Records are the point records of :func:`codesign.flow.calibrate.measure_point` (also kept
in the results database).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codesign.cost.analytic import (
    DEFAULT_COEFS,
    XCU_FAMILIES,
    AnalyticCostModel,
    dsp_count,
    features,
    kind_key,
    packed_macs,
)
from codesign.cost.calibration import Calibration
from codesign.cost.cycles import layer_cycles
from codesign.cost.extract import spec_from_dict
from codesign.cost.protocol import LayerSpec
from codesign.errors import ConfigError
from codesign.resources import Resources

__all__ = [
    "LUTRAM_GRID",
    "Sample",
    "IN_DESIGN_ESTIMATORS",
    "error_table",
    "in_design_cv",
    "fit_calibration",
    "samples",
    "whole_design_table",
]

LUTRAM_GRID = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 1e12)
#: Fit the Huber loss of the relative errors (False: weighted least squares, as before).
ROBUST = True
#: Relative error beyond which a node's error counts linearly, not squared (chosen by
#: leave-one-point-out cross-validation on the xc7 fit points: per-layer LUT MAPE 14.0%
#: least squares, 13.2% at 0.1 and 0.2, 13.8% at 0.4; on the final data 11.4% and 11.0%).
HUBER_DELTA = 0.2
HUBER_ITERS = 50
_MIN_ROWS = 1  # the prior rows keep a kind with few measurements near its defaults


@dataclass(frozen=True)
class Sample:
    """One measured node.

    Attributes:
        spec: The node.
        measured: Its measured resources.
        point: The point key it comes from.
        role: The point's role (fit, holdout, design).
        finn_cycles: FINN's analytic cycles of the node in the compile (None for nodes
            added after the estimate: FIFOs and converters).
    """

    spec: LayerSpec
    measured: Resources
    point: str
    role: str
    finn_cycles: int | None = None


def samples(records: Iterable[Mapping[str, Any]]) -> list[Sample]:
    """Every measured node of ``records``."""
    out = []
    for rec in records:
        role = rec.get("point", {}).get("role", "fit")
        for node in rec["nodes"]:
            if node.get("measured") is None:
                continue  # not synthesized on its own
            out.append(
                Sample(
                    spec=spec_from_dict(node["spec"]),
                    measured=Resources(**node["measured"]),
                    point=rec["key"],
                    role=role,
                    finn_cycles=node.get("finn_cycles"),
                )
            )
    return out


def _nnls(
    rows: list[list[float]],
    target: list[float],
    weights: list[float],
    prior: list[float],
    prior_weight: float = 1.0,
    robust: bool = False,
) -> list[float]:
    """Non-negative weighted least squares, pulled towards ``prior`` by one row's worth.

    Each coefficient gets a prior row ``s_j (x_j - prior_j)`` with ``s_j`` the median
    weighted size of its feature, so that with few measurements the analytic defaults
    hold and with many the data decide. ``robust``: the Huber loss (absolute, not squared,
    beyond ``HUBER_DELTA``: closer to the MAPE the acceptance measures), so that one odd
    node (a threshold ROM Yosys folds away) does not pull every other node of its kind.
    """
    import numpy as np
    from scipy.optimize import nnls

    a = np.asarray(rows, dtype=float) * np.asarray(weights)[:, None]
    b = np.asarray(target, dtype=float) * np.asarray(weights)
    scale = []
    for j in range(a.shape[1]):
        col = np.abs(a[:, j])
        col = col[col > 0]
        scale.append(float(np.median(col)) if col.size else 0.0)
    reg = np.diag(np.asarray(scale) * prior_weight)
    a_aug = np.vstack([a, reg])
    b_aug = np.concatenate([b, reg @ np.asarray(prior, dtype=float)])
    coef, _ = nnls(a_aug, b_aug, maxiter=50 * a.shape[1] + 100)
    if robust:
        coef = _huber(a, b, reg, np.asarray(prior, dtype=float), coef)
    return [float(c) for c in coef]


def _huber(a: Any, b: Any, reg: Any, prior: Any, coef: Any) -> Any:  # noqa: ANN401 - arrays
    """Refine a least-squares ``coef`` to the Huber loss (iteratively reweighted).

    Rows whose weighted (relative) residual exceeds ``HUBER_DELTA`` weigh
    ``HUBER_DELTA / |residual|``: quadratic near the model, absolute beyond it.
    """
    import numpy as np
    from scipy.optimize import nnls

    for _ in range(HUBER_ITERS):
        resid = np.abs(a @ coef - b)
        r = np.sqrt(np.minimum(1.0, HUBER_DELTA / np.maximum(resid, 1e-12)))
        a_aug = np.vstack([a * r[:, None], reg])
        b_aug = np.concatenate([b * r, reg @ prior])
        new, _ = nnls(a_aug, b_aug, maxiter=50 * a.shape[1] + 100)
        if np.allclose(new, coef, rtol=1e-6, atol=1e-9):
            return new
        coef = new
    return coef


def _shape(spec: LayerSpec) -> tuple[Any, ...]:
    """A node's shape and folding, without its bit-widths."""
    return (spec.kind, spec.mw, spec.mh, spec.pe, spec.simd, spec.impl)


def _bram_threshold(fit: Sequence[Sample], family: str) -> float:
    if family in XCU_FAMILIES:
        return 4096.0  # not used there: Yosys's library costs decide (analytic.xcu_lutram)
    best, best_hits = 4096.0, -1
    for threshold in LUTRAM_GRID:
        hits = sum(1 for s in fit if features(s.spec, threshold, family)[1] == s.measured.bram18)
        if hits > best_hits:
            best, best_hits = float(threshold), hits
    return best


def fit_calibration(
    records: Sequence[Mapping[str, Any]],
    *,
    family: str,
    tool: str,
    tool_version: str,
    provenance: Mapping[str, Any] | None = None,
    prior: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
    robust: bool = ROBUST,
    in_design_estimator: str = "split",
) -> Calibration:
    """Fit the coefficients to the records' ``fit`` points.

    ``prior``: the coefficients each fitted one is pulled towards (by one row's worth) and
    that kinds without data keep; default the analytic guesses (``DEFAULT_COEFS``), the
    previous model in a feedback round. ``in_design_estimator``: how the whole-design
    share is estimated (:data:`IN_DESIGN_ESTIMATORS`; :func:`in_design_cv` compares them).

    Raises:
        ConfigError: No fit points, or an unknown estimator.
    """
    if in_design_estimator not in IN_DESIGN_ESTIMATORS:
        raise ConfigError(
            f"unknown in-design estimator {in_design_estimator!r}: "
            f"use one of {', '.join(IN_DESIGN_ESTIMATORS)}"
        )
    fit = [s for s in samples(records) if s.role == "fit"]
    if not fit:
        raise ConfigError("no calibration points to fit (all held out or none measured)")
    threshold = _bram_threshold(fit, family)
    by_kind: dict[str, list[tuple[dict[str, float], Resources]]] = defaultdict(list)
    shape_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for s in fit:
        feats, _ = features(s.spec, threshold, family)
        if "dsps" in feats:
            feats["dsps"] = float(dsp_count(s.spec, family))
            feats["macs"] = float(packed_macs(s.spec, family))
        by_kind[kind_key(s.spec)].append((feats, s.measured))
        shape_of[kind_key(s.spec)].append(_shape(s.spec))
    base = {k: dict(v) for k, v in DEFAULT_COEFS.items()}
    for k, v in (prior or {}).items():
        base[k] = {**base.get(k, {}), **{n: (float(c[0]), float(c[1])) for n, c in v.items()}}
    coefs: dict[str, dict[str, tuple[float, float]]] = {k: dict(v) for k, v in base.items()}
    # on UltraScale(+) the LUTRAM features count Yosys's cells exactly (analytic.xcu_lutram):
    # their LUT coefficient is 1, not fitted (fitted, they traded against the constant)
    counted = COUNTED_LUTRAM_FEATURES if family in XCU_FAMILIES else frozenset()
    for key, rows in by_kind.items():
        names = sorted({n for feats, _ in rows for n in feats})
        # drop features that never vary from zero (they cannot be fitted)
        names = [n for n in names if any(feats.get(n, 0.0) != 0.0 for feats, _ in rows)]
        if len(rows) < max(_MIN_ROWS, 1) or not names:
            continue
        matrix = [[feats.get(n, 0.0) for n in names] for feats, _ in rows]
        fitted: dict[str, list[float]] = {}
        default = base.get(key, {})
        for index, res in enumerate(("lut", "ff")):
            target = [getattr(m, res) for _, m in rows]
            # relative errors; and each shape counts once, however many bit-widths of it
            # were measured (imported sweeps of one shape would otherwise decide alone)
            counts = Counter(shape_of[key])
            weights = [
                1.0 / max(10.0, t) / math.sqrt(counts[shape])
                for t, shape in zip(target, shape_of[key], strict=True)
            ]
            prior = [default.get(n, (0.0, 0.0))[index] for n in names]
            fixed = [j for j, n in enumerate(names) if res == "lut" and n in counted]
            if not fixed:
                fitted[res] = _nnls(matrix, target, weights, prior, robust=robust)
                continue
            # LUTRAM LUTs counted cell by cell: one LUT each, the rest of the node is fitted
            free = [j for j in range(len(names)) if j not in fixed]
            rest = [t - sum(row[j] for j in fixed) for t, row in zip(target, matrix, strict=True)]
            sub = (
                _nnls(
                    [[row[j] for j in free] for row in matrix],
                    rest,
                    weights,
                    [prior[j] for j in free],
                    robust=robust,
                )
                if free
                else []
            )
            coef = [1.0] * len(names)
            for j, c in zip(free, sub, strict=True):
                coef[j] = c
            fitted[res] = coef
        # features no fit row exercises (e.g. sized-FIFO terms in a DoE of unsized designs)
        # keep their analytic defaults: no data, no change
        table = dict(coefs.get(key, {}))
        for i, n in enumerate(names):
            table[n] = (round(fitted["lut"][i], 6), round(fitted["ff"][i], 6))
        coefs[key] = table
    cal = Calibration(
        family=family,
        tool=tool,
        tool_version=tool_version,
        coefs=coefs,
        lutram_max_bits=threshold,
        provenance=dict(provenance or {}),
    )
    in_design = _fit_in_design(records, in_design_estimator)
    return Calibration(
        family=cal.family,
        tool=cal.tool,
        tool_version=cal.tool_version,
        coefs=cal.coefs,
        lutram_max_bits=cal.lutram_max_bits,
        in_design=in_design,
        provenance={
            **cal.provenance,
            "fit_points": len({s.point for s in fit}),
            "fit_layers": len(fit),
        },
    )


#: LUTRAM features whose LUT coefficient is 1 on UltraScale(+) (the weight memory, replay
#: buffer, SWG line buffer and sized LUTRAM FIFOs' cells).
COUNTED_LUTRAM_FEATURES = frozenset({"wmem", "replay", "buf", "lutram"})

#: Whole-design share estimators: ``split`` (LUT MVUs apart, sums over sums) and
#: ``median`` (one share for every kind: the median over the fit designs of
#: ``(whole - sum) / sum``, robust to a design whose saving one odd node makes).
IN_DESIGN_ESTIMATORS = ("split", "median")


def _whole_designs(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Fit records synthesized whole with every node measured on its own."""
    return [
        rec
        for rec in records
        if rec.get("point", {}).get("role", "fit") == "fit"
        and rec.get("whole")
        and all(x.get("measured") is not None for x in rec["nodes"])
    ]


def _median_in_design(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    designs = _whole_designs(records)
    if not designs:
        return {}
    share = []
    for res in ("lut", "ff"):
        ratios = []
        for rec in designs:
            total = sum(float(n["measured"][res]) for n in rec["nodes"])
            ratios.append((rec["whole"]["resources"][res] - total) / max(1.0, total))
        share.append(round(float(statistics.median(ratios)), 5))
    return {"*": (share[0], share[1])}


def in_design_cv(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Leave-one-design-out error of each in-design estimator (mean |%| of whole LUT).

    Each fit design synthesized whole and per layer is priced as the sum of its measured
    nodes plus the shares fitted on the other designs, and compared with its whole
    synthesis: the estimator is chosen on fit data, not on the held-out designs. Empty
    with fewer than three such designs.
    """
    designs = _whole_designs(records)
    if len(designs) < 3:
        return {}
    out = {}
    for estimator in IN_DESIGN_ESTIMATORS:
        errs = []
        for i, rec in enumerate(designs):
            shares = _fit_in_design([*designs[:i], *designs[i + 1 :]], estimator)
            common = shares.get("*", (0.0, 0.0))[0]
            pred = 0.0
            for node in rec["nodes"]:
                key = kind_key(spec_from_dict(node["spec"]))
                pred += node["measured"]["lut"] * (1.0 + shares.get(key, (common, 0.0))[0])
            whole = rec["whole"]["resources"]["lut"]
            errs.append(100.0 * abs(pred - whole) / max(1.0, whole))
        out[estimator] = round(sum(errs) / len(errs), 2)
    return out


def _fit_in_design(
    records: Sequence[Mapping[str, Any]], estimator: str = "split"
) -> dict[str, tuple[float, float]]:
    """Whole minus the sum of its measured layers, as shares of the layers' own costs.

    ``estimator`` ``median``: :func:`_median_in_design`; ``split`` (below):

    Per fit record synthesized whole and per layer, ``whole - sum`` (LUT and FF apart):
    the common share ``*`` from the designs without LUT MVUs (sum over sum), then the LUT
    MVUs' share from the others, net of the common share on their other layers. Without
    designs of one kind, one common ratio. Measured: designs with LUT MVUs save 5-16%
    whole, DSP-MVU designs ~3%.
    """
    if estimator == "median":
        return _median_in_design(records)
    rows, ys = [], {"lut": [], "ff": []}
    for rec in _whole_designs(records):
        sums = {"lut": [0.0, 0.0], "ff": [0.0, 0.0]}
        for node in rec["nodes"]:
            lut_mvu = kind_key(spec_from_dict(node["spec"])) == "mvau_lut"
            for res in ("lut", "ff"):
                sums[res][0 if lut_mvu else 1] += node["measured"][res]
        rows.append(sums)
        for res in ("lut", "ff"):
            ys[res].append(rec["whole"]["resources"][res] - sum(sums[res]))
    if not rows:
        return {}
    shares: dict[str, list[float]] = {"mvau_lut": [0.0, 0.0], "*": [0.0, 0.0]}
    for index, res in enumerate(("lut", "ff")):
        # the common share from designs without LUT MVUs, then the LUT MVUs' on top (a
        # joint regression over a handful of designs trades one against the other)
        plain = [(r[res][1], y) for r, y in zip(rows, ys[res], strict=True) if not r[res][0]]
        mixed = [(r[res], y) for r, y in zip(rows, ys[res], strict=True) if r[res][0]]
        if plain:
            rest = sum(y for _, y in plain) / max(1.0, sum(x for x, _ in plain))
        else:
            total = sum(sum(r) for r, _ in mixed)
            rest = sum(y for _, y in mixed) / max(1.0, total)
        lut_mvu = rest
        if mixed and plain:
            left = sum(y - rest * r[1] for r, y in mixed)
            lut_mvu = left / max(1.0, sum(r[0] for r, _ in mixed))
        shares["*"][index], shares["mvau_lut"][index] = rest, lut_mvu
    return {k: (round(v[0], 5), round(v[1], 5)) for k, v in shares.items()}


def _pct(pred: float, meas: float) -> float | None:
    if meas == 0:
        return None
    return 100.0 * abs(pred - meas) / abs(meas)


def error_table(
    model: AnalyticCostModel, data: Sequence[Sample], min_lut: float = 0.0
) -> list[dict[str, Any]]:
    """Predicted vs measured per layer kind (and ``all``): MAPE and worst case per resource.

    LUT/FF errors are over nodes with a non-zero measurement (and at least ``min_lut`` LUT
    for LUT); DSP and BRAM18 are the share of exact counts; cycles are exact when the
    model's cycles equal FINN's analytic cycles of the compiled node.
    """
    model = model.standalone()  # per-layer synthesis: nothing to optimize across
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in data:
        groups[kind_key(s.spec)].append(s)
    groups["all"] = list(data)
    rows = []
    for kind in sorted(groups, key=lambda k: (k == "all", k)):
        group = groups[kind]
        row: dict[str, Any] = {"kind": kind, "n": len(group)}
        for res in ("lut", "ff"):
            errs = []
            for s in group:
                meas = getattr(s.measured, res)
                if res == "lut" and meas < min_lut:
                    continue
                e = _pct(getattr(model.layer_cost(s.spec).resources, res), meas)
                if e is not None:
                    errs.append(e)
            row[f"{res}_mape"] = round(sum(errs) / len(errs), 2) if errs else None
            row[f"{res}_worst"] = round(max(errs), 1) if errs else None
        for res in ("dsp", "bram18"):
            exact = sum(
                1
                for s in group
                if math.isclose(
                    getattr(model.layer_cost(s.spec).resources, res), getattr(s.measured, res)
                )
            )
            row[f"{res}_exact"] = round(100.0 * exact / len(group), 1) if group else None
        with_cycles = [s for s in group if s.finn_cycles is not None]
        row["cycles_exact"] = (
            round(
                100.0
                * sum(layer_cycles(s.spec) == s.finn_cycles for s in with_cycles)
                / len(with_cycles),
                1,
            )
            if with_cycles
            else None
        )
        rows.append(row)
    return rows


def whole_design_table(
    model: AnalyticCostModel, records: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Whole-design LUT/FF/BRAM18/DSP predicted vs Yosys for records synthesized whole.

    ``predicted`` prices the compiled nodes; ``from_arch`` prices the nodes that
    :func:`codesign.cost.network.network_layers` predicts from the architecture alone
    (no compile), where the record holds its point.
    """
    from codesign.cost.doe import CalibPoint
    from codesign.cost.network import network_layers

    rows = []
    for rec in records:
        if not rec.get("whole"):
            continue
        specs = [spec_from_dict(n["spec"]) for n in rec["nodes"]]
        pred = model.design_cost(specs).resources
        meas = Resources(**rec["whole"]["resources"])
        arch_lut: float | None = None
        bits = "-"
        if "arch" in rec["point"]:
            point = CalibPoint.from_dict(rec["point"])
            bits = point.bits.describe()
            arch_specs = network_layers(
                point.arch,
                point.bits,
                fps=point.fps,
                clock_ns=float(rec.get("clock_ns") or 10.0),
                impl=[point.impl] * point.arch.n_layers,
                per_channel_thresholds=False,  # calibration networks are not trained
            )
            arch_lut = model.design_cost(arch_specs).resources.lut
        rows.append(
            {
                "key": rec["key"],
                "role": rec["point"].get("role", "fit"),
                "bits": bits,
                "lut": meas.lut,
                "lut_pred": round(pred.lut),
                "lut_err_pct": round(100 * (pred.lut - meas.lut) / meas.lut, 1),
                "lut_from_arch": None if arch_lut is None else round(arch_lut),
                "lut_from_arch_err_pct": None
                if arch_lut is None
                else round(100 * (arch_lut - meas.lut) / meas.lut, 1),
                "ff": meas.ff,
                "ff_pred": round(pred.ff),
                "bram18": meas.bram18,
                "bram18_pred": pred.bram18,
                "dsp": meas.dsp,
                "dsp_pred": pred.dsp,
            }
        )
    return rows
