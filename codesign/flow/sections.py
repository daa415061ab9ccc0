"""The sections of a flow config: one pydantic model per concern, unknown keys rejected.

:class:`~codesign.flow.config.FlowConfig` puts them together and loads them from YAML. A
section checks its own fields and cross-field rules (``model_validator``) and says how to
fix what it rejects; rules across sections live in ``FlowConfig``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from codesign.data.datasets import DatasetName
from codesign.errors import ConfigError
from codesign.flow.core import Step, order_steps, select_steps
from codesign.models.bits import ImplChoice

if TYPE_CHECKING:
    from codesign.finn.config import CompileConfig
    from codesign.models.arch import CnnArch
    from codesign.models.bits import BitConfig

log = logging.getLogger(__name__)

STEPS_CONTEXT = "steps"
"""Key of the step registry in pydantic's validation context (see :func:`step_registry`)."""


def step_registry(info: ValidationInfo) -> Mapping[str, Step] | None:
    """The step registry passed to validation as ``context={"steps": registry}``, if any.

    The config never imports the registry: the CLI (or a test) passes it in, so that a step
    registered elsewhere (``train_dqmq``, a test's ``train_alt``) is as valid as the built-in
    ones. Without it, step names are checked by the runner instead.
    """
    context = info.context if isinstance(info.context, Mapping) else {}
    return context.get(STEPS_CONTEXT)


# Flows run these steps, in this order, unless ``run.steps`` says otherwise.
DEFAULT_STEPS: tuple[str, ...] = ("train", "evaluate", "export")
# compile.fps when neither fps nor lut_budget is given: the quickstart CNN reaches it on a
# Pynq-Z2 at 100 MHz with 14 DSPs (bottleneck 9408 cycles/frame, about 10.6k FPS).
DEFAULT_FPS = 10_000.0


class OptimizerName(StrEnum):
    """Optimizers the fixed-precision training loop knows."""

    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"


class LrSchedule(StrEnum):
    """Learning-rate schedules over all training batches."""

    CONSTANT = "constant"
    COSINE = "cosine"


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are re-checked on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


class RunSection(Section):
    """Where a run goes and which steps it runs.

    Attributes:
        name: Run name; the default run folder is ``runs/<name>`` under the working folder.
        out_dir: Run folder; relative paths are resolved against the YAML file.
        seed: Seed for data subsets, weight init, data order and corruptions.
        steps: The flow's steps, in order (names from the step registry, e.g.
            ``codesign.flow.steps.STEPS``); the runner orders them by their artifacts.
        from_step: Re-run from this step (earlier steps must have completed outputs).
        to_step: Stop after this step.
        torch_threads: torch intra-op threads for training and evaluation; ``null`` keeps
            torch's default (one per core). 1 is fastest for these small CNNs and stays
            fast when other jobs share the cores.
    """

    name: str = Field(default="quickstart", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    out_dir: Path | None = None
    seed: int = Field(default=0, ge=0)
    steps: list[str] = Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    from_step: str | None = None
    to_step: str | None = None
    torch_threads: int | None = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check_steps(self, info: ValidationInfo) -> Self:
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"run.steps lists a step twice: {self.steps}; list each once")
        registry = step_registry(info)
        try:
            if registry is not None:
                unknown = [s for s in self.steps if s not in registry]
                if unknown:
                    raise ConfigError(
                        f"unknown step {unknown[0]!r} in run.steps; known steps: "
                        f"{', '.join(registry)}"
                    )
                # Artifacts nobody here writes may come from an earlier run: the runner checks.
                order_steps([registry[s] for s in self.steps], strict=False)
            select_steps(self.steps, self.from_step, self.to_step)
        except ConfigError as err:
            raise ValueError(str(err)) from None  # pydantic adds the file line
        return self

    def resolved_out_dir(self) -> Path:
        """The run folder: ``out_dir`` if set, else ``runs/<name>`` under the working folder."""
        return self.out_dir if self.out_dir is not None else Path("runs") / self.name


class DataSection(Section):
    """Which data, how much of it, and in what batches.

    Attributes:
        dataset: Dataset name.
        n_train: Training images, a seeded random subset of the training split.
        n_test: Test images, a seeded random subset of the test split.
        batch_size: Training batch size.
    """

    dataset: DatasetName = DatasetName.FASHION_MNIST
    n_train: int = Field(default=20000, ge=1)
    n_test: int = Field(default=10000, ge=1)
    batch_size: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _check_sizes(self) -> Self:
        if self.batch_size > self.n_train:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds n_train {self.n_train}; "
                f"lower data.batch_size or raise data.n_train"
            )
        return self


class ModelSection(Section):
    """The network and its precisions.

    Attributes:
        arch: ``"quickstart"`` (``codesign.models.arch.QUICKSTART_ARCH``) or a mapping of
            ``CnnArch`` fields.
        weight_bits: Uniform weight bits for every layer (ignored when ``bits`` is given).
        act_bits: Uniform activation bits for every layer (ignored when ``bits`` is given).
        input_bits: Bits of the input quantizer (for uniform precisions).
        bits: A per-layer ``BitConfig`` as a mapping (``BitConfig.to_dict()``); when given,
            leave ``weight_bits``/``act_bits``/``input_bits`` out of the file.
    """

    arch: str | dict[str, Any] = "quickstart"
    weight_bits: int = Field(default=4, ge=1, le=16)
    act_bits: int = Field(default=4, ge=1, le=16)
    input_bits: int = Field(default=8, ge=1, le=16)
    bits: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_bits(self) -> Self:
        keys = ("weight_bits", "act_bits", "input_bits")
        uniform = [k for k in keys if k in self.model_fields_set]
        if self.bits is not None and uniform:
            raise ValueError(
                f"model.bits (per-layer) and model.{uniform[0]} (uniform) are both set; "
                f"keep one of them"
            )
        if isinstance(self.arch, str) and self.arch not in ARCH_PRESETS:
            raise ValueError(
                f"unknown model.arch preset {self.arch!r}; use one of "
                f"{', '.join(ARCH_PRESETS)} or a mapping of CnnArch fields"
            )
        # Build both now so a bad arch or bit list fails at load time, not mid-run.
        try:
            self.build_bits(self.build_arch())
        except ConfigError as err:
            raise ValueError(str(err)) from None  # pydantic adds the file line
        return self

    def build_arch(self) -> CnnArch:
        """Return the ``codesign.models.CnnArch`` this section describes.

        Raises:
            ConfigError: The arch mapping is malformed.
        """
        from codesign.models import arch  # noqa: PLC0415

        if isinstance(self.arch, str):
            return getattr(arch, ARCH_PRESETS[self.arch])
        try:
            return arch.CnnArch.from_dict(self.arch)
        except (ConfigError, TypeError, ValueError, KeyError) as err:
            raise ConfigError(f"model.arch: {err}") from None

    def build_bits(self, arch: CnnArch) -> BitConfig:
        """Return the ``codesign.models.BitConfig`` for ``arch``, checked against it.

        Raises:
            ConfigError: A bit-width is not allowed or the layer count does not match.
        """
        from codesign.models.bits import BitConfig  # noqa: PLC0415

        try:
            if self.bits is None:
                bits = BitConfig.uniform(
                    arch.n_layers, self.weight_bits, self.act_bits, input_bits=self.input_bits
                )
            else:
                bits = BitConfig.from_dict(self.bits)
            bits.validate(arch)
        except (ConfigError, TypeError, ValueError, KeyError) as err:
            where = "model.bits" if self.bits is not None else "model.weight_bits/act_bits"
            raise ConfigError(f"{where}: {err}") from None
        return bits


# Preset name -> attribute of codesign.models.arch (torch-free).
ARCH_PRESETS: dict[str, str] = {"quickstart": "QUICKSTART_ARCH"}


class TrainSection(Section):
    """Fixed-precision training.

    Attributes:
        epochs: Passes over the training subset.
        lr: Learning rate.
        optimizer: Optimizer name.
        weight_decay: Weight decay (L2 for adam/sgd, decoupled for adamw).
        momentum: SGD momentum (read only by ``optimizer: sgd``).
        lr_schedule: ``constant``, or ``cosine`` decay to zero over all batches.
    """

    epochs: int = Field(default=1, ge=1)
    lr: float = Field(default=2e-3, gt=0, le=1)
    optimizer: OptimizerName = OptimizerName.ADAM
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    lr_schedule: LrSchedule = LrSchedule.COSINE


class EvaluateSection(Section):
    """What to report: clean accuracy and accuracy under each corruption and severity.

    Attributes:
        corruptions: Corruption names (``codesign.quality.corruptions.Corruption`` values).
        severities: Severities to evaluate each corruption at.
        batch_size: Evaluation batch size (memory only; results do not depend on it).
    """

    corruptions: list[str] = Field(default_factory=list)
    severities: list[int] = Field(default_factory=lambda: [3])
    batch_size: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        from codesign.quality.names import (  # noqa: PLC0415
            MAX_SEVERITY,
            MIN_SEVERITY,
            Corruption,
        )

        if self.corruptions:
            allowed = [c.value for c in Corruption]
            for name in self.corruptions:
                if name not in allowed:
                    raise ValueError(
                        f"unknown corruption {name!r} in evaluate.corruptions; "
                        f"allowed: {', '.join(allowed)}"
                    )
            if not self.severities:
                raise ValueError("evaluate.corruptions is set but evaluate.severities is empty")
        if len(set(self.corruptions)) != len(self.corruptions):
            raise ValueError("evaluate.corruptions lists a corruption twice; list each once")
        for s in self.severities:
            if not MIN_SEVERITY <= s <= MAX_SEVERITY:
                raise ValueError(
                    f"evaluate.severities: {s} is out of range; use {MIN_SEVERITY}..{MAX_SEVERITY}"
                )
        return self


class CompileSection(Section):
    """FINN compilation of the exported model to an RTL dataflow design (``RUN/compile/``).

    Give one of ``fps`` and ``lut_budget``; with neither, ``fps`` is :data:`DEFAULT_FPS`.

    Attributes:
        board: Board name (``codesign/boards/<name>.yaml``); sets the part and the clock.
        fps: Target frames per second at the board clock: every layer is folded to at most
            ``f_clk / fps`` cycles per frame.
        lut_budget: Instead of ``fps``: the fastest folding whose FINN LUT estimate fits.
        clock_ns: Clock period in ns; ``null`` keeps the board's.
        impl: MVAU implementation for layers whose ``model.bits`` entry has no ``impl``:
            ``dsp`` (finn-plus's DSP MVU, the default), ``lut`` (codesign's LUT MVU) or
            ``auto`` (LUT for <= 4-bit operands); see docs/lowbit.md.
    """

    board: str = "pynq-z2"
    fps: float | None = Field(default=None, gt=0)
    lut_budget: int | None = Field(default=None, gt=0)
    clock_ns: float | None = Field(default=None, gt=0)
    impl: ImplChoice = ImplChoice.DSP  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:  # noqa: ANN401 (pydantic's raw input)
        if isinstance(data, dict) and data.get("fps") is None and data.get("lut_budget") is None:
            return {**data, "fps": DEFAULT_FPS}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.fps is not None and self.lut_budget is not None:
            raise ValueError(
                "compile.fps and compile.lut_budget are both set; keep one of them "
                "(fps folds to a throughput, lut_budget to the fastest design that fits)"
            )
        from codesign.boards import load_board  # noqa: PLC0415 (reads board files)

        try:
            load_board(self.board)
        except ConfigError as err:
            raise ValueError(f"compile.board: {err}") from None  # pydantic adds the file line
        return self

    def build(self, layer_impl: tuple[str | None, ...] | None = None) -> CompileConfig:
        """The :class:`codesign.finn.config.CompileConfig` this section describes.

        Args:
            layer_impl: Per-layer implementation choices (the bit config's ``impl``).
        """
        from codesign.finn.config import CompileConfig  # noqa: PLC0415 (loads onnx/qonnx)

        return CompileConfig(
            board=self.board,
            fps=self.fps,
            lut_budget=self.lut_budget,
            clock_ns=self.clock_ns,
            impl=self.impl,
            layer_impl=layer_impl,
        )


class SimulateSection(Section):
    """Verilator simulation of the compiled design on real test images.

    The frames are the first ``frames`` images of the flow's test subset (``data.n_test``).
    Verilator's outputs must equal, bit for bit, both FINN's execution of the dataflow graph
    and the trained Brevitas model's integer outputs; any difference fails the step.

    Attributes:
        frames: Test images streamed through the design.
        size_fifos: First size the FIFOs by simulation (writes the sized design
            ``RUN/compile/sized.onnx`` and its depths ``RUN/compile/folding_config.json``;
            compile's ``compiled.onnx`` is not touched), then simulate the sized design.
            ``false`` simulates (and synthesizes) the FIFO depths FINN chose.
        sizing_frames: Frames FIFO sizing simulates (the first ones; at most ``frames``).
            The pipeline reaches its steady state within a few frames, and sizing simulates
            three or more times, so more frames only cost time.
        ready_pct: Output backpressure: percent of cycles the sink is ready (seeded by
            ``run.seed``); 100 measures the design's own throughput.
        timeout_s: Wall-clock limit in seconds for each Verilator build and each simulation.
    """

    frames: int = Field(default=256, ge=1, le=10_000)
    size_fifos: bool = True
    sizing_frames: int = Field(default=64, ge=4)
    ready_pct: int = Field(default=100, ge=1, le=100)
    timeout_s: float = Field(default=600.0, gt=0)


class SynthSection(Section):
    """Yosys synthesis of the (sized) design: the whole design, and each layer if asked.

    Results are cached by design digest under the settings cache folder, so a re-run of an
    unchanged design reads them back.

    Attributes:
        per_layer: Also synthesize each node on its own (the per-layer table in
            ``RUN/compile/synth/report.json``); the whole design is always synthesized.
        timeout_s: Wall-clock limit in seconds per Yosys run.
        jobs: Yosys runs at once (each uses one core).
    """

    per_layer: bool = True
    timeout_s: float = Field(default=1800.0, gt=0)
    jobs: int = Field(default=1, ge=1, le=64)


class SearchStage(Section):
    """Choices of one stage of the search space (``codesign.search.space.StageChoices``)."""

    depths: list[int] = Field(min_length=1)
    widths: list[int] = Field(min_length=1)
    kernels: list[int] = Field(default_factory=lambda: [3], min_length=1)


class SearchSection(Section):
    """The APQ search (``codesign search FLOW.yaml``): its space, budgets and constraint.

    The other sections of the flow (data, train, compile, simulate, synth) are used for the
    winner and for the flow configs the search emits; ``model`` is replaced per candidate.

    Attributes:
        stages: Per-stage depth, width (kept channels) and kernel choices.
        weight_bits: Weight bit-widths a layer may take.
        act_bits: Activation bit-widths a layer may take.
        impls: MVU implementations (``dsp``, ``lut``; ``lut`` needs the LUT MVU of #12).
        input_bits: Input quantizer bits (fixed).
        utilization: Fraction of the board's resources the design may use (0..1].
        lut_budget: Optional LUT budget below the board's (before ``utilization``).
        supernet_epochs: Sandwich-rule epochs over ``data.n_train`` images.
        n_fp32: Subnets measured in fp32 to train the fp32 predictor.
        m_quant: Quantized (QAT-finetuned) subnets for the transferred predictor.
        n_held: Further quantized subnets held out to score the predictor.
        qat_steps: Optimizer steps of each short QAT finetune of a sampled subnet.
        n_val: Held-out training images that score sampled subnets.
        population: Evolution population size.
        iterations: Evolution generations.
        mutate_prob: Per-entry mutation probability.
        parent_ratio: Fraction of the population kept as parents.
        mutation_ratio: Fraction of children made by mutation (the rest by crossover).
        max_tries: Bound on the draws for one feasible sample.
        finetune_steps: QAT finetune steps of the winner.
        emit_top: Flow configs emitted for the best candidates (for ``codesign sweep``).
        baselines: Also run the sequential, random and uniform-precision baselines.
    """

    stages: list[SearchStage] = Field(min_length=1)
    weight_bits: list[int] = Field(default_factory=lambda: [2, 3, 4, 6, 8], min_length=1)
    act_bits: list[int] = Field(default_factory=lambda: [2, 3, 4, 6, 8], min_length=1)
    impls: list[str] = Field(default_factory=lambda: ["dsp"], min_length=1)
    input_bits: int = 8
    utilization: float = Field(default=0.7, gt=0, le=1)
    lut_budget: int | None = Field(default=None, gt=0)
    supernet_epochs: int = Field(default=2, ge=1)
    n_fp32: int = Field(default=200, ge=8)
    m_quant: int = Field(default=32, ge=4)
    n_held: int = Field(default=16, ge=4)
    qat_steps: int = Field(default=60, ge=1)
    n_val: int = Field(default=2000, ge=100)
    population: int = Field(default=100, ge=4)
    iterations: int = Field(default=100, ge=1)
    mutate_prob: float = Field(default=0.1, gt=0, le=1)
    parent_ratio: float = Field(default=0.25, gt=0, lt=1)
    mutation_ratio: float = Field(default=0.5, ge=0, le=1)
    max_tries: int = Field(default=1000, ge=1)
    finetune_steps: int = Field(default=600, ge=1)
    emit_top: int = Field(default=5, ge=0)
    baselines: bool = True

    @model_validator(mode="after")
    def _check(self) -> Self:
        try:
            self.build_space()
        except ConfigError as err:
            raise ValueError(str(err)) from None  # pydantic adds the file line
        return self

    def build_space(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28) -> Any:  # noqa: ANN401
        """The ``codesign.search.space.SearchSpace`` this section declares.

        Raises:
            ConfigError: A choice is not buildable all-RTL or the space is empty.
        """
        from codesign.search.space import SearchSpace, StageChoices  # noqa: PLC0415

        return SearchSpace(
            stages=tuple(
                StageChoices(tuple(s.depths), tuple(s.widths), tuple(s.kernels))
                for s in self.stages
            ),
            weight_bits=tuple(self.weight_bits),
            act_bits=tuple(self.act_bits),
            impls=tuple(self.impls),
            input_bits=self.input_bits,
            num_classes=num_classes,
            in_channels=in_channels,
            input_size=input_size,
        )
