"""The Pareto front and the per-quality accuracies (pure functions, no runs)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.errors import InfeasibleError, StepTimeoutError, ToolFailedError
from codesign.sweep.pareto import Row, compact_bits, pareto_front, qualities
from codesign.sweep.point import classify


def _row(i: int, lut: float, acc: float) -> Row:
    return Row(
        digest=f"{i:016x}", labels={}, quality="clean", accuracy=acc, board="pynq-z2",
        bits=None, lut=lut, lut_source="yosys", dsp=None, bram18=None, ff=None, fps=None,
        fps_source=None, latency_us=None, run_dir="",
    )  # fmt: skip


def _dominates(a: Row, b: Row) -> bool:
    return (
        a.lut <= b.lut and a.accuracy >= b.accuracy and (a.lut, a.accuracy) != (b.lut, b.accuracy)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(100, 5000), st.integers(0, 100)), min_size=1, max_size=30))
def test_front_is_exactly_the_non_dominated_points(pairs: list[tuple[int, int]]) -> None:
    rows = [_row(i, lut, acc / 100) for i, (lut, acc) in enumerate(pairs)]
    front = pareto_front(rows)
    on = {r.digest for r in front}
    for r in rows:
        dominated = any(_dominates(o, r) for o in rows)
        if r.digest in on:
            assert not dominated
        else:  # off the front: dominated, or a duplicate of a front member
            assert dominated or any((f.lut, f.accuracy) == (r.lut, r.accuracy) for f in front)
    assert [f.lut for f in front] == sorted(f.lut for f in front)
    assert all(a.accuracy < b.accuracy for a, b in zip(front, front[1:], strict=False))


def test_qualities_average_severities_and_mix_everything() -> None:
    report = {
        "clean_accuracy": 0.9,
        "corrupted": [
            {"corruption": "gaussian_noise", "severity": 2, "accuracy": 0.8},
            {"corruption": "gaussian_noise", "severity": 4, "accuracy": 0.6},
            {"corruption": "contrast", "severity": 2, "accuracy": 0.5},
        ],
    }
    q = qualities(report)
    assert q["clean"] == 0.9
    assert abs(q["gaussian_noise"] - 0.7) < 1e-12
    assert q["contrast"] == 0.5
    assert abs(q["mixed"] - (0.9 + 0.8 + 0.6 + 0.5) / 4) < 1e-12
    assert qualities({"clean_accuracy": 0.5}) == {"clean": 0.5}


def test_failure_kinds() -> None:
    assert classify(StepTimeoutError("x")).value == "timeout"
    assert classify(InfeasibleError("x")).value == "infeasible"
    assert classify(ToolFailedError("x")).value == "tool"
    assert classify(RuntimeError("x")).value == "error"


def test_compact_bits() -> None:
    assert compact_bits("in8 W4A4 W4A4 W4A4 W4") == "W4A4"
    assert compact_bits("in8 W4A4 W2A2 W4A4 W8") == "in8 W4A4 W2A2 W4A4 W8"
