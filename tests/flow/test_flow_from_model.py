"""flow/from_model: a registry's steps run in order on a model trained elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.errors import ConfigError
from codesign.flow.config import load_flow_config
from codesign.flow.core import FlowState, Step
from codesign.flow.from_model import MODEL_CHECKPOINT, model_hardware
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.bits import BitConfig, LayerBits
from codesign.models.cnn import build_cnn

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _first(state: FlowState, cfg: object) -> FlowState:
    from codesign.models.checkpoint import load_checkpoint

    model = load_checkpoint(state.path("checkpoint"))  # the model handed in, as saved
    out = state.run_dir / "first.txt"
    out.write_text(str(list(model.arch.widths)))
    state.add_artifact("first", out)
    state.results["first"] = {"widths": list(model.arch.widths)}
    return state


def _second(state: FlowState, cfg: object) -> FlowState:
    state.results["second"] = {"read": state.path("first").read_text()}
    return state


REGISTRY = {
    "first": Step("first", _first, reads=("checkpoint",), writes=("first",)),
    "second": Step("second", _second, reads=("first",)),
}


def test_steps_run_in_order_on_the_model(tmp_path: Path) -> None:
    arch = CnnArch(stages=(StageSpec(4, 3, 2),), num_classes=10, in_channels=1, input_size=8)
    bits = BitConfig(input_bits=8, layers=(LayerBits(4, 4), LayerBits(4, None)))
    model = build_cnn(arch, bits)
    flow = load_flow_config(FLOWS / "quickstart.yaml")
    results = model_hardware(
        flow, model, tmp_path / "hw", registry=REGISTRY, steps=("first", "second")
    )
    assert (tmp_path / "hw" / MODEL_CHECKPOINT).is_file()
    assert results["first"] == {"widths": [4]}
    assert results["second"] == {"read": "[4]"}
    assert list(results["seconds"]) == ["first", "second"]
    with pytest.raises(ConfigError, match="step 'second' reads 'first'"):
        model_hardware(flow, model, tmp_path / "x", registry=REGISTRY, steps=("second",))
    with pytest.raises(ConfigError, match="unknown step 'train'"):
        model_hardware(flow, model, tmp_path / "x", registry=REGISTRY, steps=("train",))
    assert not (tmp_path / "x").exists()  # refused before writing anything
