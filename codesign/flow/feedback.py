"""The feedback loop: measure proposed designs, record them, refit the cost model, hand it on.

One round (:func:`feedback_round`, the flow step ``feedback``):

1. takes the designs training or search proposes (a YAML/JSON list of
   ``{arch, bits, fps}``: family networks with their bit-widths and FPS target, and
   optionally ``impl``, the MVUs they are built with);
2. compiles and synthesizes them with Yosys (per layer, and whole), reusing cached runs;
3. records them in the results database (one transaction per design);
4. refits the cost model on every stored fit point (earlier calibrations' and the new);
5. writes the new calibration (``<name>-r<round>``) and hands its path on as the
   ``cost_model`` artifact, which the next round of training loads with
   :func:`codesign.cost.calibration.load_calibration`.

Each round logs the prediction error on its new points before and after the refit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from codesign.errors import ConfigError
from codesign.flow.sections import Section

if TYPE_CHECKING:
    from codesign.cost.calibration import Calibration
    from codesign.cost.doe import CalibPoint
    from codesign.flow.config import FlowConfig
    from codesign.flow.core import FlowState

log = logging.getLogger(__name__)

__all__ = ["FeedbackResult", "FeedbackSection", "feedback_round", "load_proposals", "step_feedback"]

FEEDBACK_DIR = "feedback"


class FeedbackSection(Section):
    """The ``feedback:`` section of a flow.

    Attributes:
        proposals: YAML/JSON list of ``{arch, bits, fps}`` designs (optional ``impl``:
            ``dsp``, the default, or ``lut``, the MVUs of every layer); default the
            ``proposals`` artifact of an earlier step.
        board: Board the designs are compiled for.
        calibration: The cost model to start from (a calibration name or JSON path);
            default the best packaged one for the board's family.
        db: Results database URL; default ``RUN/feedback/results.sqlite``.
        whole: Also synthesize each design whole (stitching overhead).
        jobs: Yosys runs at once.
        kinds: Synthesize only nodes of these kinds (e.g. ``[mvau, thresholding]``);
            default every node and the whole design.
    """

    proposals: Path | None = None
    board: str = "pynq-z2"
    calibration: str | None = None
    db: str | None = None
    whole: bool = True
    jobs: int = Field(default=1, ge=1, le=64)
    kinds: list[str] | None = None


@dataclass(frozen=True)
class FeedbackResult:
    """What one round did.

    Attributes:
        round: The round number (the starting calibration's plus one).
        calibration: The refitted calibration.
        path: Where it was written.
        before: Error table of the new points under the starting model.
        after: The same under the refitted model.
        points: Keys of the new points.
    """

    round: int
    calibration: Calibration
    path: Path
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    points: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """JSON summary for the flow's results."""
        return {
            "round": self.round,
            "calibration": self.calibration.name,
            "path": str(self.path),
            "points": list(self.points),
            "before": self.before,
            "after": self.after,
        }


def load_proposals(path: Path, board: str, whole: bool = True) -> list[CalibPoint]:
    """Read proposed designs as calibration points.

    Raises:
        ConfigError: Missing or malformed file (the message names the entry).
    """
    from codesign.cost.doe import CalibPoint, Role
    from codesign.cost.protocol import Impl
    from codesign.models.arch import CnnArch
    from codesign.models.bits import BitConfig

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"proposals file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"proposals file {path} is not valid YAML/JSON: {err}") from None
    if isinstance(data, dict):
        data = data.get("designs")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty list of {{arch, bits, fps}} designs")
    points = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not {"arch", "bits", "fps"} <= set(entry):
            raise ConfigError(f"{path}: design {i} needs arch, bits and fps")
        arch = CnnArch.from_dict(entry["arch"])
        bits = BitConfig.from_dict(entry["bits"])
        bits.validate(arch)
        impl = str(entry.get("impl", "dsp"))
        if impl not in {m.value for m in Impl}:
            choices = ", ".join(m.value for m in Impl)
            raise ConfigError(f"{path}: design {i}: impl {impl!r} is not one of {choices}")
        points.append(
            CalibPoint(
                arch=arch,
                bits=bits,
                fps=float(entry["fps"]),
                board=board,
                role=Role.FIT,
                whole=whole,
                impl=Impl(impl),
                seed=int(entry.get("seed", 0)),
            )
        )
    return points


def _start_model(calibration: str | None, family: str) -> tuple[Any, int, Calibration | None]:
    from codesign.cost.calibration import load_calibration, load_cost_model

    if calibration is None:
        return load_cost_model(family), 0, None
    cal = load_calibration(calibration)
    return cal.model(), int(cal.provenance.get("round", 0)), cal


def feedback_round(
    points: Sequence[CalibPoint],
    out_dir: Path,
    *,
    board: str,
    calibration: str | None = None,
    db_url: str | None = None,
    jobs: int = 1,
    kinds: Sequence[str] | None = None,
) -> FeedbackResult:
    """Measure ``points``, record them, refit and write the next calibration.

    Raises:
        ConfigError: Unknown board or calibration; no point could be measured.
    """
    from codesign.boards import load_board
    from codesign.cost.db import ResultsDB
    from codesign.cost.fit import error_table, fit_calibration, samples
    from codesign.flow.calibrate import run_points

    spec = load_board(board)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db = ResultsDB(db_url or f"sqlite:///{(out_dir / 'results.sqlite').resolve()}")
    model, prev_round, prev_cal = _start_model(calibration, str(spec.family))
    new = run_points(
        points, out_dir, store=db.record_point, stored=db.has_point, jobs=jobs, kinds=kinds
    )
    if not new:
        raise ConfigError("feedback: none of the proposed designs could be measured")
    new_samples = samples(new)
    before = error_table(model, new_samples)
    records = [r for r in db.points() if r.get("point", {}).get("role") == "fit"]
    first = new[0]
    round_no = prev_round + 1
    cal = fit_calibration(
        records,
        family=str(first.get("family") or spec.family),
        tool=str(first.get("tool", "yosys")),
        tool_version=str(first.get("tool_version", "")),
        provenance={
            "board": spec.name,
            "round": round_no,
            "previous": prev_cal.name if prev_cal is not None else model.version,
            "source": "feedback",
        },
        # refine the model being fed back, not the uncalibrated guesses: with a few new
        # points each coefficient stays near the previous round's value
        prior=model.coefs,
    )
    cal = replace(cal, revision=round_no)
    after = error_table(cal.model(), new_samples)
    path = cal.save(out_dir / f"{cal.name}.json")
    _log_round(round_no, before, after)
    return FeedbackResult(
        round=round_no,
        calibration=cal,
        path=path,
        before=before,
        after=after,
        points=tuple(r["key"] for r in new),
    )


def _log_round(round_no: int, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    b = {r["kind"]: r for r in before}
    for row in after:
        prev = b.get(row["kind"], {})
        log.info(
            "feedback round %d, %s (%d nodes): LUT MAPE %s%% -> %s%%, FF MAPE %s%% -> %s%%",
            round_no,
            row["kind"],
            row["n"],
            prev.get("lut_mape"),
            row["lut_mape"],
            prev.get("ff_mape"),
            row["ff_mape"],
        )


def step_feedback(state: FlowState, cfg: FlowConfig) -> FlowState:
    """The flow step: one feedback round on the proposed designs."""
    from codesign.io import atomic_write_json

    section = getattr(cfg, "feedback", None)
    if section is None:
        raise ConfigError("step 'feedback' needs a 'feedback:' section")
    if section.proposals is not None:
        proposals = Path(section.proposals)
    else:
        proposals = state.path("proposals")
    points = load_proposals(proposals, section.board, whole=section.whole)
    calibration = section.calibration
    if calibration is None and "cost_model" in state.artifacts:
        calibration = str(state.path("cost_model"))  # the previous round's
    out_dir = state.run_dir / FEEDBACK_DIR
    total = len(points)
    state.report("feedback", 0, total)
    result = feedback_round(
        points,
        out_dir,
        board=section.board,
        calibration=calibration,
        db_url=section.db,
        jobs=section.jobs,
        kinds=section.kinds,
    )
    state.add_artifact("cost_model", result.path)
    atomic_write_json(out_dir / f"round{result.round}.json", result.summary())
    state.results["feedback"] = result.summary()
    state.report("feedback", total, total)
    return state
