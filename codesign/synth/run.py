"""Synthesize a compile run folder with Yosys: per layer, the whole chain, or both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codesign.errors import ConfigError, UnsupportedModelError
from codesign.io import atomic_write_json
from codesign.resources import Resources
from codesign.runfolder import RunFolder
from codesign.settings import Settings, get_settings
from codesign.synth.cache import SynthCache, cache_key
from codesign.synth.plan import Family, SynthPlan, make_plan, synth_family
from codesign.synth.report import WHOLE, SynthReport, SynthResult
from codesign.synth.sources import collect_nodes
from codesign.synth.yosys import run_plan
from codesign.tools import tool_version

if TYPE_CHECKING:
    from codesign.boards import Board

log = logging.getLogger(__name__)

SYNTH_DIR = "synth"
#: on_event(name, what, result): what is "start", "done" or "cached"; result is None at start.
EventFn = Callable[[str, str, SynthResult | None], None]


@dataclass(frozen=True)
class Target:
    """What a run folder was compiled for: part, synth_xilinx family and clock.

    Attributes:
        part: The FPGA part.
        family: The synth_xilinx family.
        clock_ns: The clock period (recorded with the results; Yosys does not use it).
        board_family: The board's own family (``versal`` has no synth_xilinx family).
    """

    part: str
    family: Family
    clock_ns: float
    board_family: str


def run_target(run_dir: Path, board: str | Board | None = None) -> Target:
    """Read the run folder's ``config.yaml`` (part, clock) and its board (family).

    Args:
        run_dir: The compile run folder.
        board: A board (or name) overriding the one in ``config.yaml``. The RTL stays the
            one compiled for ``config.yaml``'s part, so the override should keep the family.

    Raises:
        ConfigError: No readable ``config.yaml``, or an unknown board.
    """
    from codesign.boards import Board, load_board

    folder = RunFolder(run_dir)
    spec = board if isinstance(board, Board) else load_board(board or folder.board)
    part = folder.part
    if board is not None and spec.part != part:
        log.warning(
            "synthesizing for %s (%s), but %s was compiled for %s: the RTL stays %s's",
            spec.name,
            spec.part,
            Path(run_dir).name,
            part,
            part,
        )
        part = spec.part
    return Target(
        part=part,
        family=synth_family(spec.family),
        clock_ns=folder.clock_ns,
        board_family=str(spec.family),
    )


def load_estimates(run_dir: Path) -> dict[str, Resources]:
    """FINN's per-node estimates from ``RUN/estimates.json`` (empty if the file is absent)."""
    estimates = RunFolder(run_dir).estimates()
    return {} if estimates is None else {x.name: x.resources for x in estimates.layers}


def synthesize(
    run_dir: Path,
    board: str | Board | None = None,
    *,
    per_layer: bool = True,
    whole: bool = True,
    nodes: Sequence[str] | None = None,
    timeout_s: float = 1800,
    jobs: int = 1,
    settings: Settings | None = None,
    on_event: EventFn | None = None,
    model_path: Path | None = None,
) -> SynthReport:
    """Synthesize a compile run folder with Yosys and compare with FINN's estimates.

    Each plan (one per node, and one for the whole chain) is looked up in the cache under
    ``settings.cache_dir`` by its digest and the Yosys version; only misses run Yosys, in
    ``RUN/synth/work/<name>/``. Results go to ``RUN/synth/<name>.json`` and
    ``RUN/synth/report.json``, logs to ``RUN/logs/synth_<name>.log``.

    Args:
        run_dir: The compile run folder (``compiled.onnx``, ``config.yaml``).
        board: Board (or its name) overriding ``config.yaml``'s; selects the family.
        per_layer: Synthesize each node on its own.
        whole: Synthesize the chain of all (selected) nodes as one design.
        nodes: Only these nodes, which must be consecutive for ``whole``; default all.
        timeout_s: Per Yosys run.
        jobs: Yosys runs at once (each is single-threaded).
        settings: Cache folder and tool search path (default: the process settings).
        on_event: Progress callback, see :data:`EventFn`.
        model_path: The dataflow model to synthesize (default: the FIFO-sized
            ``RUN/sized.onnx`` if sizing wrote one, else ``RUN/compiled.onnx``).

    Returns:
        The per-layer and whole-design results, with FINN's estimates.

    Raises:
        ConfigError: Nothing to do, or a bad run folder or board.
        ToolNotFoundError: Yosys is not installed.
        ToolFailedError: A Yosys run failed or timed out (log excerpt and command included).
        UnsupportedModelError: A node has no RTL to synthesize.

    Example:
        >>> report = synthesize(Path("runs/c1"))  # doctest: +SKIP
        >>> report.whole.resources.lut, report.stitching_overhead  # doctest: +SKIP
    """
    if not (per_layer or whole):
        raise ConfigError("nothing to synthesize: enable per-layer and/or whole-design runs")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    settings = settings or get_settings()
    run_dir = Path(run_dir).resolve()
    version = tool_version("yosys", settings)
    target = run_target(run_dir, board)
    model = Path(model_path) if model_path is not None else RunFolder(run_dir).design_model()
    rtl = collect_nodes(model, nodes)
    if target.board_family == "versal" and any(n.kind == "mvau" for n in rtl):
        raise UnsupportedModelError(
            "Yosys has no Versal family and no DSP58 model, which the MVAU uses on Versal: "
            "synthesize a compile for an UltraScale+ board instead (e.g. --board zcu102)"
        )
    if whole and nodes is not None:
        _check_consecutive(model, [n.name for n in rtl])
    plans: list[SynthPlan] = []
    if whole:
        plans.append(make_plan(WHOLE, rtl, target.family))  # the longest run starts first
    if per_layer:
        plans += [make_plan(n.name, [n], target.family) for n in rtl]
    log.info(
        "synthesizing %d plan(s) of %s for %s with %s",
        len(plans),
        run_dir.name,
        target.family.value,
        version,
    )

    cache = SynthCache(settings.cache_dir)
    out_dir = run_dir / SYNTH_DIR

    def one(plan: SynthPlan) -> SynthResult:
        result = _synthesize_plan(
            plan, run_dir, target, version, cache, timeout_s, settings, on_event
        )
        atomic_write_json(out_dir / f"{plan.name}.json", result.to_dict())
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {plan.name: pool.submit(one, plan) for plan in plans}
        done, pending = wait(futures.values(), return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in done:
            if future.exception() is not None:
                raise future.exception()
    results = {name: f.result() for name, f in futures.items()}
    report = SynthReport(
        run_dir=run_dir,
        layers=tuple(results[n.name] for n in rtl if n.name in results and per_layer),
        whole=results.get(WHOLE) if whole else None,
        estimates=load_estimates(run_dir),
        op_types={n.name: n.op_type for n in rtl},
    )
    atomic_write_json(out_dir / "report.json", report.to_dict())
    return report


def _synthesize_plan(
    plan: SynthPlan,
    run_dir: Path,
    target: Target,
    version: str,
    cache: SynthCache,
    timeout_s: float,
    settings: Settings,
    on_event: EventFn | None,
) -> SynthResult:
    digest = plan.digest()
    key = cache_key(digest, version)
    log_path = run_dir / "logs" / f"synth_{plan.name}.log"
    common = {
        "name": plan.name,
        "nodes": plan.nodes,
        "design_digest": digest,
        "tool": "yosys",
        "version": version,
        "family": plan.family.value,
        "part": target.part,
        "clock_ns": target.clock_ns,
        "log": str(log_path),
    }
    record = cache.load(key)
    if record is not None:
        cache.copy_log(key, log_path)
        result = SynthResult(
            resources=Resources(**record["resources"]),
            cells=record["cells"],
            seconds=float(record["seconds"]),
            cached=True,
            **common,
        )
        log.debug("%s: cached (%s)", plan.name, key[:12])
        if on_event:
            on_event(plan.name, "cached", result)
        return result
    if on_event:
        on_event(plan.name, "start", None)
    work = run_dir / SYNTH_DIR / "work" / plan.name
    outcome = run_plan(plan, work, log_path=log_path, timeout_s=timeout_s, settings=settings)
    result = SynthResult(
        resources=outcome.resources,
        cells=outcome.cells,
        seconds=outcome.seconds,
        cached=False,
        **common,
    )
    cache.store(key, result.to_dict(), log_file=log_path)
    log.info(
        "%s: %.1f s, LUT %g FF %g BRAM18 %g DSP %g",
        plan.name,
        outcome.seconds,
        outcome.resources.lut,
        outcome.resources.ff,
        outcome.resources.bram18,
        outcome.resources.dsp,
    )
    if on_event:
        on_event(plan.name, "done", result)
    return result


def _check_consecutive(model: Path, names: list[str]) -> None:
    import onnx

    order = [n.name for n in onnx.load(str(model), load_external_data=False).graph.node]
    idx = [order.index(n) for n in names]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise ConfigError(
            f"whole-design synthesis needs consecutive nodes; {', '.join(names)} "
            "are not (synthesize them per layer only)"
        )
