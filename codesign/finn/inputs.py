"""What ``codesign compile`` accepts: a QONNX file, or a training checkpoint plus bits."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from codesign.errors import ConfigError

if TYPE_CHECKING:
    from codesign.models.bits import BitConfig

log = logging.getLogger(__name__)

_UNIFORM = re.compile(r"^(?:w(?P<w>\d+)a(?P<a>\d+)(?:i(?P<i>\d+))?|(?P<n>\d+))$", re.IGNORECASE)


def parse_bits(spec: str, n_layers: int) -> BitConfig:
    """A bit config from a YAML file or a uniform spec.

    Args:
        spec: A path to a YAML file in :meth:`BitConfig.to_dict` form, or a uniform spec:
            ``4`` (4-bit weights and activations, 8-bit input), ``w4a2`` or ``w4a2i8``.
        n_layers: Weight layers of the architecture (for a uniform spec).

    Raises:
        ConfigError: Unreadable file, unknown spec, or a bit-width out of range.

    Example:
        >>> parse_bits("w4a2", 4).weight_bits
        (4, 4, 4, 4)
    """
    from codesign.models.bits import BitConfig

    match = _UNIFORM.match(spec.strip())
    if match and not Path(spec).is_file():
        if match["n"]:
            w = a = int(match["n"])
            i = 8
        else:
            w, a, i = int(match["w"]), int(match["a"]), int(match["i"] or 8)
        return BitConfig.from_dict(BitConfig.uniform(n_layers, w, a, input_bits=i).to_dict())
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            f"--bits {spec!r} is neither a YAML file nor a uniform spec such as 4, w4a4 or w4a2i8"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read bit config {path}: {err}") from None
    return BitConfig.from_dict(data)


def export_checkpoint(checkpoint: Path, bits_spec: str | None, out_dir: Path) -> Path:
    """Export a training checkpoint to QONNX, optionally at other bit-widths.

    With ``bits_spec`` different from the checkpoint's own policy, the trained weights are
    loaded into the network built with the new bits (their quantizers re-quantize them);
    that is post-training requantization and is logged as such.

    Returns:
        The exported ``model.onnx`` in ``out_dir``.

    Raises:
        ConfigError: Not a checkpoint, bits out of range or not matching the architecture.
    """
    from codesign.models.checkpoint import load_checkpoint, read_checkpoint
    from codesign.models.cnn import build_cnn
    from codesign.models.export import export_qonnx

    ckpt = read_checkpoint(checkpoint)
    bits = ckpt.bits if bits_spec is None else parse_bits(bits_spec, ckpt.arch.n_layers)
    bits.validate(ckpt.arch)
    if bits == ckpt.bits:
        model = load_checkpoint(checkpoint)
    else:
        log.warning(
            "compiling %s at bits %s, not the %s it was trained with: the weights "
            "are requantized without retraining",
            checkpoint,
            bits.describe(),
            ckpt.bits.describe(),
        )
        model = build_cnn(ckpt.arch, bits)
        try:
            model.load_state_dict(ckpt.state_dict)
        except RuntimeError as err:
            raise ConfigError(
                f"{checkpoint}: its weights do not load into the network with "
                f"bits {bits.describe()}: {str(err).splitlines()[0]}"
            ) from None
        model.eval()
    return export_qonnx(model, out_dir)


def layer_impls(spec: str | None) -> tuple[str | None, ...] | None:
    """Per-layer ``impl`` of a ``--bits`` YAML file (None for a uniform spec or no file).

    Raises:
        ConfigError: The file is not a valid bit config.
    """
    if spec is None or not Path(spec).is_file():
        return None
    bits = parse_bits(spec, 0)
    impls = tuple(None if i is None else str(i) for i in bits.impls)
    return impls if any(i is not None for i in impls) else None
