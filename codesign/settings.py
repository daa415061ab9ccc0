"""The one place that reads the environment.

The CLI calls :func:`Settings.from_env` once at entry and passes the result down; library
code takes a ``Settings`` argument (or uses :func:`get_settings`) instead of touching
``os.environ`` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_DEFAULT_FMNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Settings:
    """Paths and tool locations taken from the environment.

    Attributes:
        fashion_mnist_dir: Folder holding the Fashion-MNIST IDX ``.gz`` files.
        cache_dir: Where digest-keyed Verilator builds and Yosys results are kept.
        xilinx_vivado: Vivado install root (``XILINX_VIVADO``), if any.
        xilinx_vitis: Vitis install root (``XILINX_VITIS``), if any.
        xilinx_hls: Vitis HLS install root (``XILINX_HLS``), if any.
        xilinx_xrt: XRT install root (``XILINX_XRT``), needed for Alveo builds.
        platform_repo_paths: Where Vitis finds Alveo platforms (``PLATFORM_REPO_PATHS``).
        path: The ``PATH`` used to find external tools.
    """

    fashion_mnist_dir: Path = _DEFAULT_FMNIST
    cache_dir: Path = Path.home() / ".cache" / "codesign"
    xilinx_vivado: Path | None = None
    xilinx_vitis: Path | None = None
    xilinx_hls: Path | None = None
    xilinx_xrt: Path | None = None
    platform_repo_paths: str | None = None
    path: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ

        def opt_path(key: str) -> Path | None:
            return Path(env[key]) if env.get(key) else None

        return cls(
            fashion_mnist_dir=Path(env.get("CODESIGN_FASHION_MNIST", _DEFAULT_FMNIST)),
            cache_dir=Path(
                env.get("CODESIGN_CACHE", Path(env.get("HOME", "~")) / ".cache" / "codesign")
            ).expanduser(),
            xilinx_vivado=opt_path("XILINX_VIVADO"),
            xilinx_vitis=opt_path("XILINX_VITIS"),
            xilinx_hls=opt_path("XILINX_HLS"),
            xilinx_xrt=opt_path("XILINX_XRT"),
            platform_repo_paths=env.get("PLATFORM_REPO_PATHS") or None,
            path=env.get("PATH", ""),
        )


_current: Settings | None = None


def get_settings() -> Settings:
    """Return the settings the CLI installed, or read the environment on first use."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def use_settings(settings: Settings) -> None:
    """Install ``settings`` as the process-wide settings (the CLI and tests call this)."""
    global _current
    _current = settings
