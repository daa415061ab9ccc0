"""Tiny real sweeps: the cheapest real steps (a 128-image training, a 64-image evaluation)."""

from __future__ import annotations

from pathlib import Path

TINY_BASE = """\
run:
  name: tiny
  steps: [{steps}]
data:
  n_train: 128
  n_test: 64
  batch_size: 64
evaluate:
  corruptions: [gaussian_noise, contrast]
  severities: [3]
{extra}"""

COMPILE = """\
compile:
  board: pynq-z2
  fps: 5000
"""


def write_sweep(
    folder: Path,
    axes: str,
    *,
    steps: str = "train, evaluate",
    extra: str = "",
    execution: str = "",
    header: str = "",
) -> Path:
    """Write ``base.yaml`` and ``sweep.yaml`` (sweep folder ``folder/out``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(TINY_BASE.format(steps=steps, extra=extra))
    text = f"sweep:\n  name: tiny\n  base: base.yaml\n  out_dir: out\n{header}axes:\n{axes}"
    if execution:
        text += f"execution:\n{execution}"
    path = folder / "sweep.yaml"
    path.write_text(text)
    return path
