"""Corruption names and severities: plain data, torch-free (a flow config checks them)."""

from __future__ import annotations

from enum import StrEnum

MIN_SEVERITY = 1
MAX_SEVERITY = 5
SEVERITIES: tuple[int, ...] = tuple(range(MIN_SEVERITY, MAX_SEVERITY + 1))
CLEAN = "clean"


class Corruption(StrEnum):
    """The corruption names; the value is the name used in configs and on the CLI."""

    GAUSSIAN_NOISE = "gaussian_noise"
    SHOT_NOISE = "shot_noise"
    IMPULSE_NOISE = "impulse_noise"
    GAUSSIAN_BLUR = "gaussian_blur"
    DEFOCUS_BLUR = "defocus_blur"
    MOTION_BLUR = "motion_blur"
    JPEG_COMPRESSION = "jpeg_compression"
    CONTRAST = "contrast"
    BRIGHTNESS = "brightness"
    PIXELATE = "pixelate"
